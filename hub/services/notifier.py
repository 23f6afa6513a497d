"""Wakes long-polling inbox readers when a message arrives for them.

One connection per hub process LISTENs on `hub_inbox`; every hub process's commits NOTIFY it with the
recipient's id, so a reader waiting on any process wakes whichever process accepted the message. The
notification only wakes: a reader always re-reads the inbox, and a wait that hears nothing simply
times out and reads again, so a lost notification (a dropped connection) delays, never loses.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict

import asyncpg
import structlog

from hub.core.refusal import Refusal

CHANNEL = "hub_inbox"
log = structlog.get_logger("hub.inbox")


class InboxNotifier:
    def __init__(self, max_waiters: int = 4) -> None:
        self.max_waiters = max_waiters
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._conn: asyncpg.Connection | None = None

    async def start(self, dsn: str) -> None:
        try:
            self._conn = await asyncpg.connect(dsn)
            await self._conn.add_listener(CHANNEL, self._on_notify)
        except (OSError, asyncpg.PostgresError) as exc:
            self._conn = None
            log.warning("inbox.listen_failed", error=exc.__class__.__name__)

    async def stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                await self._conn.close()
            self._conn = None
        for events in self._waiters.values():
            for event in events:
                event.set()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, recipient: object) -> None:
        for event in self._waiters.get(str(recipient), ()):
            event.set()

    async def wait(self, recipient: str, seconds: float) -> None:
        """Return when a message may have arrived for `recipient`, or after `seconds`; refuse a wait
        beyond the recipient's `max_waiters`."""
        if len(self._waiters.get(recipient, ())) >= self.max_waiters:
            raise Refusal(
                "too-many-long-polls",
                f"at most {self.max_waiters} concurrent long-polls per participant: retry shortly",
                retry_after=1,
            )
        event = asyncio.Event()
        self._waiters[recipient].add(event)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), seconds)
        finally:
            self._waiters[recipient].discard(event)
            if not self._waiters[recipient]:
                del self._waiters[recipient]
