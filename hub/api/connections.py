"""Bounds on what an unauthenticated client can hold: connections, time to send headers and body.

`POST /v1/messages` needs no key to reach, so a client that opens sockets and never finishes a request
must not be able to starve everyone else. The guard sits between the listening socket and aiohttp:

- **A cap on open connections** (`HUB_MAX_CONNECTIONS`). Above it, a **reserve** of connections
  (`HUB_CONNECTION_RESERVE`) is kept for the probes (`/healthz`, `/readyz`): a request there gets its
  answer, any other request gets `503` with `Retry-After`. But first, a new connection at the cap evicts
  the oldest connections that have not sent a whole request (parked sockets, idle keep-alives) to make
  room: only connections busy with a request keep a slot against a newcomer. Beyond the reserve, with
  nothing to evict, the new connection is closed at once.
- **Time to send the request headers** (`HUB_HEADER_TIMEOUT_SECONDS`), counted from the connection's
  start or the end of its last response (an idle keep-alive connection waits for headers too).
- **Time to send the body** (`HUB_BODY_TIMEOUT_SECONDS`): the middleware reads the body under that bound
  and answers `408` and closes the connection when it is not complete in time.

The accounting is pure bookkeeping over transports; the only timer is a sweep every second. Accept errors
(`EMFILE` when the process runs out of file descriptors) are logged once per interval with a count, not
once per attempt (`quiet_accept_errors`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from hub.api.problems import problem_response
from hub.core.refusal import Refusal

log = structlog.get_logger("hub.connections")

PROBE_PATHS = frozenset({"/healthz", "/readyz"})
SWEEP_SECONDS = 1.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int = 500
    reserve: int = 32
    header_timeout: float = 15.0
    body_timeout: float = 30.0


@dataclass
class _Connection:
    transport: asyncio.Transport
    since: float  # when its current phase began
    in_request: bool = False
    in_reserve: bool = False


class ConnectionGuard:
    """Counts open connections and closes the ones that hold a slot without sending a request."""

    def __init__(self, limits: ConnectionLimits, now: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._now = now
        self._open: dict[asyncio.BaseTransport, _Connection] = {}  # insertion order: oldest first
        self.evicted = 0
        self.timed_out = 0
        self.refused = 0

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def opened(self, transport: asyncio.Transport) -> bool:
        """A connection arrived: admit it (True) or close it (False)."""
        cap = self.limits.max_connections
        while len(self._open) >= cap and self._evict_one_parked():
            pass
        if len(self._open) >= cap + self.limits.reserve:
            self.refused += 1
            transport.abort()
            return False
        entry = _Connection(transport, self._now(), in_reserve=len(self._open) >= cap)
        self._open[transport] = entry
        return True

    def closed(self, transport: asyncio.BaseTransport) -> None:
        self._open.pop(transport, None)

    def request_started(self, transport: asyncio.BaseTransport | None) -> _Connection | None:
        entry = self._open.get(transport) if transport is not None else None
        if entry is not None:
            entry.in_request, entry.since = True, self._now()
        return entry

    def request_finished(self, transport: asyncio.BaseTransport | None) -> None:
        entry = self._open.get(transport) if transport is not None else None
        if entry is not None:
            entry.in_request, entry.since = False, self._now()

    def sweep(self) -> int:
        """Close every connection that has waited longer than the header timeout for a request."""
        deadline = self._now() - self.limits.header_timeout
        stale = [c for c in self._open.values() if not c.in_request and c.since <= deadline]
        for entry in stale:
            self._close(entry)
        self.timed_out += len(stale)
        return len(stale)

    def _evict_one_parked(self) -> bool:
        for entry in self._open.values():
            if not entry.in_request:
                self._close(entry)
                self.evicted += 1
                return True
        return False

    def _close(self, entry: _Connection) -> None:
        self._open.pop(entry.transport, None)
        entry.transport.abort()

    async def run_sweeper(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            self.sweep()

    def protocol_factory(self, server: web.Server) -> Callable[[], asyncio.Protocol]:
        def make() -> asyncio.Protocol:
            return _GuardedProtocol(server(), self)

        return make

    def middleware(self) -> Any:
        """The outermost middleware: marks the request's phase and serves only the probes from the
        reserve."""
        guard = self

        @web.middleware
        async def guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
            entry = guard.request_started(request.transport)
            try:
                if entry is not None and entry.in_reserve and request.path not in PROBE_PATHS:
                    return _overloaded(request)
                return await handler(request)
            finally:
                guard.request_finished(request.transport)

        return guarded

    def body_deadline_middleware(self, max_body_bytes: int) -> Any:
        """Reads the request body, at most `max_body_bytes` of it, under the body timeout (inside the
        problem middleware, so its refusals are problems): a body over the limit, announced or sent, gets
        `413` (`body-too-large`, with the limit); one not complete in time gets `408` and the connection
        is closed."""
        seconds = self.limits.body_timeout

        def too_large() -> Refusal:
            return Refusal(
                "body-too-large",
                f"the body exceeds the hub's limit of {max_body_bytes} bytes",
                limit=max_body_bytes,
            )

        @web.middleware
        async def body_deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.can_read_body:
                if request.content_length is not None and request.content_length > max_body_bytes:
                    raise too_large()
                try:
                    if request.content.is_eof():  # all of it came with the headers: no wait, no timer
                        await request.read()
                    else:  # a timer, not a task of its own per request (asyncio.wait_for)
                        async with asyncio.timeout(seconds):
                            await request.read()
                except web.HTTPRequestEntityTooLarge:
                    raise too_large() from None
                except TimeoutError:
                    self.timed_out += 1
                    response = _slow_body(request, seconds)
                    response.force_close()
                    return response
            return await handler(request)

        return body_deadline


class _GuardedProtocol(asyncio.Protocol):
    """aiohttp's request handler, with the guard told when its connection opens and closes."""

    def __init__(self, inner: Any, guard: ConnectionGuard) -> None:
        self._inner = inner
        self._guard = guard
        self._admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not isinstance(transport, asyncio.Transport):
            raise TypeError("the connection guard serves stream transports only")
        self._admitted = self._guard.opened(transport)
        if self._admitted:
            self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._admitted:
            self._guard.closed(self._inner.transport) if self._inner.transport else None
            self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        result: bool | None = self._inner.eof_received()
        return result

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


def _overloaded(request: web.Request) -> web.Response:
    response = problem_response(
        "service-unavailable", "the hub has too many open connections: retry shortly", instance=request.path
    )
    response.headers["Retry-After"] = "5"
    response.force_close()
    return response


def _slow_body(request: web.Request, seconds: float) -> web.Response:
    return problem_response(
        "request-timeout",
        f"the request body was not received within {seconds:g} seconds",
        instance=request.path,
    )


class AcceptErrorLog:
    """A loop exception handler that reports accept failures (`EMFILE`, `ENFILE`, `ENOBUFS`) once per
    interval with how many there were, and passes every other exception to the default handler."""

    def __init__(self, interval: float = 10.0, now: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._now = now
        self._last = float("-inf")
        self.suppressed = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and "accept" in str(context.get("message", "")):
            now = self._now()
            if now - self._last >= self.interval:
                log.warning(
                    "accept.failing",
                    error=exc.__class__.__name__,
                    errno=exc.errno,
                    since_last=self.suppressed,
                )
                self._last, self.suppressed = now, 0
            else:
                self.suppressed += 1
            return
        loop.default_exception_handler(context)
