"""`hub serve`: the application behind the connection guard, until SIGINT or SIGTERM.

aiohttp's `run_app` offers no place for a protocol factory, so this runs the `AppRunner` itself: a TCP
site whose every connection passes through `ConnectionGuard` (connection cap with a reserve for probes,
header deadline), a sweeper closing connections that never send a request, a loop exception handler that
logs accept failures once per interval, and a graceful stop on the signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import socket
from collections.abc import Callable

from aiohttp import web

from hub.api.connections import AcceptErrorLog, ConnectionGuard
from hub.api.keys import GUARD


class ListenError(Exception):
    """The hub cannot listen where it was told to (the port is busy, or not ours to take)."""

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        busy = cause.errno == errno.EADDRINUSE
        reason = "the port is busy: another program (another hub?) listens there" if busy else cause.strerror
        super().__init__(f"cannot listen on {host}:{port}: {reason}; choose another with --port or HUB_PORT")


def check_port_free(host: str, port: int) -> None:
    """ListenError now if host:port is taken, before the hub starts its database and workers (a bind
    without SO_REUSEPORT fails also when hub processes of another hub share the port)."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed hub's TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ListenError(host, port, exc) from None


class GuardedSite(web.BaseSite):
    """A TCP site whose connections are counted and bounded by a `ConnectionGuard`."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        guard: ConnectionGuard,
        backlog: int = 512,
        *,
        reuse_port: bool = False,
    ):
        super().__init__(runner, backlog=backlog)
        self._host, self._port, self._guard, self._reuse_port = host, port, guard, reuse_port
        self.bound_port = port

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self.bound_port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        if server is None:
            raise RuntimeError("the runner is not set up")
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                self._guard.protocol_factory(server),
                self._host,
                self._port,
                backlog=self._backlog,
                reuse_address=True,
                reuse_port=self._reuse_port or None,
            )
        except OSError as exc:
            raise ListenError(self._host, self._port, exc) from None
        sockets = self._server.sockets
        if sockets:
            self.bound_port = sockets[0].getsockname()[1]


async def serve(
    app: web.Application,
    host: str,
    port: int,
    *,
    on_started: Callable[[GuardedSite], None] | None = None,
    reuse_port: bool = False,
) -> None:
    """Serve `app` on host:port until SIGINT/SIGTERM (or cancellation), then stop gracefully; with
    `reuse_port`, as one of several processes sharing the port (`hub.api.processes`)."""
    guard = app[GUARD]
    loop = asyncio.get_running_loop()
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(AcceptErrorLog())
    runner = web.AppRunner(app, handle_signals=False, keepalive_timeout=guard.limits.header_timeout)
    await runner.setup()
    stop = asyncio.Event()
    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
    sweeper = asyncio.create_task(guard.run_sweeper())
    try:
        site = GuardedSite(runner, host, port, guard, reuse_port=reuse_port)
        await site.start()
        if on_started is not None:
            on_started(site)
        await stop.wait()
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        await runner.cleanup()
        for signum in handled:
            loop.remove_signal_handler(signum)
        loop.set_exception_handler(previous_handler)
