"""The load generator, in a process of its own: it pre-signs referrals before any clock starts, then
submits them to the hub(s) with aiohttp over a connection pool, on the orchestrator's commands.

- closed loop: C workers submit back to back; each latency is from send to the hub's answer;
- open loop: arrivals at a fixed rate (fixed interval or Poisson), each request started at its
  scheduled time whatever happened to earlier ones, its latency measured from the *scheduled* time,
  so a stalled hub shows in the figures instead of slowing the generator (no coordinated omission).

Commands and answers travel over a multiprocessing pipe as plain tuples and dicts.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import aiohttp

from bench.common import Platform, signed_referral
from hub.core.jose import PrivateSigningJwk, PublicJwk

HEADERS = {"Content-Type": "application/jose"}


@dataclass
class Phase:
    """What one phase measured: per request its message id, scheduled and answered times, status."""

    ids: list[str] = field(default_factory=list)
    scheduled: list[float] = field(default_factory=list)
    answered: list[float] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0

    def record(self, message_id: str, scheduled: float, answered: float, status: int) -> None:
        self.ids.append(message_id)
        self.scheduled.append(scheduled)
        self.answered.append(answered)
        self.status.append(status)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Generator:
    def __init__(self, hubs: list[str], hotline: str, key: PrivateSigningJwk, platforms: list[Platform]):
        self.hubs, self.hotline, self.key, self.platforms = hubs, hotline, key, platforms
        self.ready: deque[tuple[str, bytes]] = deque()
        self.serial = 0
        self.sent = 0

    def sign(self, count: int) -> dict[str, Any]:
        started = time.monotonic()
        size = 0
        for _ in range(count):
            platform = self.platforms[self.serial % len(self.platforms)]
            message_id, signed = signed_referral(self.hotline, self.key, platform, self.serial)
            self.serial += 1
            size += len(signed)
            self.ready.append((message_id, signed))
        return {"signed": count, "avg_bytes": size / max(count, 1), "seconds": time.monotonic() - started}

    async def _post(self, session: aiohttp.ClientSession, phase: Phase, scheduled: float) -> None:
        message_id, signed = self.ready.popleft()
        url = self.hubs[self.sent % len(self.hubs)] + "/v1/messages"
        self.sent += 1
        try:
            async with session.post(url, data=signed, headers=HEADERS) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        phase.record(message_id, scheduled, time.monotonic(), status)

    async def closed(self, count: int, concurrency: int) -> Phase:
        phase = Phase()
        remaining = min(count, len(self.ready))

        async def worker(session: aiohttp.ClientSession) -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await self._post(session, phase, time.monotonic())

        async with _session(concurrency) as session:
            phase.started = time.monotonic()
            await asyncio.gather(*(worker(session) for _ in range(concurrency)))
            phase.ended = time.monotonic()
        return phase

    async def open(self, count: int, rate: float, poisson: bool, max_in_flight: int) -> Phase:
        phase = Phase()
        count = min(count, len(self.ready))
        rng = random.Random(8)
        tasks: set[asyncio.Task[None]] = set()
        async with _session(max_in_flight) as session:
            phase.started = due = time.monotonic() + 0.05
            for _ in range(count):
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(self._post(session, phase, due))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                due += rng.expovariate(rate) if poisson else 1.0 / rate
            if tasks:
                await asyncio.gather(*tasks)
            phase.ended = time.monotonic()
        return phase


def _session(limit: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit, keepalive_timeout=60)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60))


def run(
    pipe: Connection, hubs: list[str], hotline: str, key: dict[str, str], platforms: list[dict[str, Any]]
) -> None:
    """The process's entry point: answer the orchestrator's commands until it says `stop`."""
    cast = [Platform(p["id"], p["domain"], PublicJwk.from_dict(p["enc"])) for p in platforms]
    generator = Generator(hubs, hotline, PrivateSigningJwk.from_dict(key), cast)
    while True:
        command, args = pipe.recv()
        if command == "stop":
            pipe.send({})
            return
        if command == "sign":
            pipe.send(generator.sign(**args))
        elif command == "closed":
            pipe.send(asyncio.run(generator.closed(**args)).as_dict())
        elif command == "open":
            pipe.send(asyncio.run(generator.open(**args)).as_dict())
        else:
            pipe.send({"error": f"unknown command {command}"})
