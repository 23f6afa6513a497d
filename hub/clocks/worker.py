"""The clock worker: fires reminders and breaches of legal deadlines, exactly once, in any process.

Each round takes due clocks one at a time, each in its own transaction, locked with `FOR UPDATE SKIP
LOCKED`: the reminder or breach, its escalation message and the clock's new state commit together, so a
clock never fires twice even with several hub processes, and a crash mid-way fires it again later
rather than never. Clocks live in the database, so they survive restarts; times come from the injected
clock, so tests can move time forward.

A clock of this hub's own participant that ends on a message a peer hub's participant sent is reported
to that participant afterwards (`hub.services.clock_reports`), each in its own transaction.

Several reminders due at once (after downtime) are sent as one; a breach is final: an answer after it
is recorded as late (`deadline.answered_late`) and the breach stays on the record.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

import asyncpg
import structlog

from hub.core.clock import Clock
from hub.services.clock_reports import report_next
from hub.services.escalation import issue_escalation
from hub.services.issuer import Issuer
from hub.store import deadlines
from hub.store.database import UNAVAILABLE, Conn
from hub.store.events import record_event

log = structlog.get_logger("hub.clocks")
FAILED_CLOCK_RETRY = timedelta(minutes=5)


class ClockWorker:
    def __init__(self, pool: asyncpg.Pool, issuer: Issuer, clock: Clock, poll_interval: float = 1.0) -> None:
        self._pool, self._issuer, self._clock, self._poll = pool, issuer, clock, poll_interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="clocks")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except (*UNAVAILABLE, asyncpg.PostgresError) as exc:
                log.warning("clocks.round_failed", error=exc.__class__.__name__)
                await self._pool.expire_connections()
            except Exception as exc:  # the clocks must keep running whatever one deadline does
                log.error("clocks.round_crashed", error=exc.__class__.__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._poll)

    async def run_once(self) -> int:
        """Fire every clock due now, then report the clock ends a peer hub's participants are owed
        (`hub.services.clock_reports`); the number fired."""
        fired = await self._fire_due()
        await self._report_ends()
        return fired

    async def _report_ends(self) -> None:
        """Each queued clock end reported in a transaction of its own, until none is left."""
        while not self._stopping.is_set():
            async with self._pool.acquire() as conn, conn.transaction():
                if not await report_next(conn, self._issuer, self._clock()):
                    return

    async def _fire_due(self) -> int:
        fired = 0
        while not self._stopping.is_set():
            now = self._clock()
            claimed: asyncpg.Record | None = None
            async with self._pool.acquire() as conn:
                try:
                    async with conn.transaction():
                        claimed = await deadlines.claim_due(conn, now)
                        if claimed is None:
                            return fired
                        await self._fire(conn, claimed, now)
                except (*UNAVAILABLE, asyncpg.PostgresError):
                    raise
                except Exception as exc:  # this clock is broken: postpone it, keep firing the others
                    if claimed is None:
                        raise
                    await deadlines.postpone(conn, claimed["id"], now + FAILED_CLOCK_RETRY)
                    log.error(
                        "deadline.fire_failed",
                        case_id=str(claimed["case_id"]),
                        rule=claimed["rule_id"],
                        error=exc.__class__.__name__,
                        retry_in=FAILED_CLOCK_RETRY.total_seconds(),
                    )
            fired += 1
        return fired

    async def _fire(self, conn: Conn, deadline: asyncpg.Record, now: datetime) -> None:
        bound = log.bind(
            case_id=str(deadline["case_id"]),
            message_id=str(deadline["message_id"]),
            recipient=deadline["recipient_id"],
            deadline=deadline["kind"],
            rule=deadline["rule_id"],
        )
        detail = {
            "deadline": deadline["kind"],
            "rule": deadline["rule_id"],
            "due_at": deadline["due_at"].isoformat(),
            "jurisdiction": deadline["jurisdiction"],
            "legal_basis": deadline["legal_basis"],
        }
        if deadline["due_at"] <= now:
            escalation = await issue_escalation(conn, self._issuer, deadline, kind="breach", now=now)
            await deadlines.mark_breached(conn, deadline["id"], now, escalation)
            await record_event(
                conn,
                deadline["case_id"],
                now,
                "deadline.breached",
                self._issuer.hub.actor,
                subject=deadline["recipient_id"],
                message_id=escalation,
                detail=detail,
            )
            bound.warning("deadline.breached")
            return
        remaining = [r for r in deadline["reminders"] if r > now]
        escalation = await issue_escalation(conn, self._issuer, deadline, kind="reminder", now=now)
        await deadlines.set_reminders(conn, deadline["id"], remaining)
        await record_event(
            conn,
            deadline["case_id"],
            now,
            "deadline.reminder",
            self._issuer.hub.actor,
            subject=deadline["recipient_id"],
            message_id=escalation,
            detail=detail,
        )
        bound.info("deadline.reminded")
