"""The webhook receiver, in a process of its own: answers 200 at once, drops repeats by
`Idempotency-Key` (the message id), and records when each message first arrived.

It never reads what a delivery says (the message body stays unparsed). The orchestrator asks it for
its figures over HTTP: `GET /_bench/count` (cheap, for polling) and `GET /_bench/arrivals`.
"""

from __future__ import annotations

import asyncio
import time
from multiprocessing.connection import Connection

import orjson
from aiohttp import web


class Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}  # message id -> first arrival (time.monotonic, system-wide)
        self.requests = 0
        self.duplicates = 0

    async def webhook(self, request: web.Request) -> web.Response:
        await request.read()
        now = time.monotonic()
        self.requests += 1
        key = request.headers.get("Idempotency-Key", "")
        if key in self.arrivals:
            self.duplicates += 1
        else:
            self.arrivals[key] = now
        return web.Response(status=200, text="{}", content_type="application/json")

    async def count(self, request: web.Request) -> web.Response:
        return web.Response(
            body=orjson.dumps(
                {"unique": len(self.arrivals), "requests": self.requests, "duplicates": self.duplicates}
            ),
            content_type="application/json",
        )

    async def all_arrivals(self, request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(self.arrivals), content_type="application/json")


def serve(port: int, ready: Connection) -> None:
    """The process's entry point: serve on 127.0.0.1:`port` until terminated."""
    receiver = Receiver()
    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/webhook/{platform}", receiver.webhook)
    app.router.add_get("/_bench/count", receiver.count)
    app.router.add_get("/_bench/arrivals", receiver.all_arrivals)

    async def run() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        ready.send("ready")
        await asyncio.Event().wait()

    asyncio.run(run())
