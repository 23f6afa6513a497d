"""Failed pushes recorded: retried later, refused (401/403), dead-lettered, a batch in one statement.

Each failure counts against its destination (a platform that is down is down for all its deliveries),
backs the destination off by the retry policy's wait for the count it reaches, and puts the delivery
back due then; a refusal is counted as a refusal too and, at the policy's limit, parks the destination
(its deliveries shown held on their timelines); a dead letter ends the delivery and tells the sender on
the case's timeline. All of it only while the worker's lease holds: otherwise nothing is written or
counted for it.

Failures finishing together share one statement (`hub_finish_failures`, migration 0027), which is its own
transaction; the counts it finds decide the wait and the parking, so the policy's answers for every
count are passed in (`RetryPolicy.waits`, `RetryPolicy.parking`). If the statement fails, nothing of the
batch is stored and each failure is recorded alone, so that only the one at fault fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import asyncpg

from hub.core.hub_identity import TIMELINE_ACTOR as HUB_ACTOR
from hub.store.database import Conn
from hub.store.deferred_writes import captured_writes, encoded, rows_object
from hub.store.deliveries import AttemptRecord
from hub.store.events import record_event
from hub.store.queries import query

Kind = Literal["retry", "refused", "dead"]


@dataclass(frozen=True)
class Failure:
    """One failed push to record: `retry` (a server error, a timeout), `refused` (401/403), or `dead`
    (given up: `reason`). `waits` and `parking` are the retry policy's answers for every count."""

    record: AttemptRecord
    kind: Kind
    waits: tuple[timedelta, ...] = ()
    parking: tuple[bool, ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class Recorded:
    """What recording a failure did: the destination's failure and refusal counts now (None where the
    failure did not count them), whether it parked the destination, and the wait before the next try."""

    failures: int | None
    refusals: int | None
    parked: bool
    wait: timedelta | None


async def finish_failures(pool: asyncpg.Pool, batch: Sequence[Failure]) -> list[Recorded | None]:
    """The failures recorded in one statement; for each, what it did, or None if the lease was lost."""
    async with pool.acquire() as conn:
        items = [await failure_item(conn, failure) for failure in batch]
        rows = await conn.fetch(query("finish_failures"), encoded(items))
    by_seq = {row["seq"]: row for row in rows}
    out: list[Recorded | None] = []
    for failure in batch:
        row = by_seq[failure.record.delivery.seq]
        out.append(
            Recorded(row["failures_now"], row["refusals_now"], row["parked"], row["wait"])
            if row["recorded"]
            else None
        )
    return out


async def failure_item(conn: Conn, failure: Failure) -> dict[str, Any]:
    record = failure.record
    d, at = record.delivery, record.finished_at
    dead: dict[str, list[tuple[Any, ...]]] = {}
    if failure.kind == "dead":
        detail: dict[str, object] = {"reason": failure.reason, "attempts": d.attempt}
        if d.destination:  # a further destination of the recipient's (an HMA bank)
            detail["destination"] = d.destination
        async with captured_writes(conn) as rows:
            await record_event(
                conn,
                d.case_id,
                at,
                "delivery.dead",
                HUB_ACTOR,
                subject=d.recipient_id,
                message_id=d.message_id,
                detail=detail,
            )
        dead = rows_object(rows)
    return {
        "finish": {
            "seq": d.seq,
            "lease_token": d.lease_token,
            "at": at,
            "http_status": record.http_status,
            "detail": record.detail,
            "attempt": d.attempt,
            "worker": record.worker,
            "started_at": record.started_at,
            "verdict": record.verdict,
            "recipient_id": d.recipient_id,
            "destination": d.destination,  # '' the recipient's own; else a further one's name
            "kind": failure.kind,
            "reason": failure.reason,
            "counts": record.verdict == "retry",  # a dead letter's last try counts if a server error
            "actor": HUB_ACTOR,
        },
        "waits": [w.total_seconds() for w in failure.waits],
        "parks": list(failure.parking),
        "dead": dead,
    }


async def finish_retry(
    pool: asyncpg.Pool, record: AttemptRecord, waits: tuple[timedelta, ...]
) -> timedelta | None:
    """Count a failure of the destination, back it off by `waits`' entry for its count, and put the
    delivery back due then. Returns the wait, or None if the lease was lost."""
    [done] = await finish_failures(pool, [Failure(record, "retry", waits)])
    return None if done is None else done.wait


async def finish_refused(
    pool: asyncpg.Pool, record: AttemptRecord, parking: tuple[bool, ...], waits: tuple[timedelta, ...]
) -> Recorded | None:
    """The destination refuses us (401/403): counted as a failure and a refusal; parked if `parking`'s
    entry for its refusals says so (the delivery then waits due now), else backed off like a server
    error. None if the lease was lost."""
    [done] = await finish_failures(pool, [Failure(record, "refused", waits, parking)])
    return done


async def finish_dead(
    pool: asyncpg.Pool, record: AttemptRecord, reason: str, waits: tuple[timedelta, ...] = ()
) -> bool:
    """Dead-letter the delivery and tell the sender on the case's timeline. A last failed try (a server
    error) still counts against the destination and, given `waits`, backs it off."""
    [done] = await finish_failures(pool, [Failure(record, "dead", waits, reason=reason)])
    return done is not None
