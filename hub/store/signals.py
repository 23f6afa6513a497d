"""Hash signals in the database: made with the request that carries them, withdrawn with its withdrawal,
deleted by the case's purge, each in the caller's transaction (the rules are `hub/core/signals.py`'s).

Every change of a copy is appended to `signal_changes` in the same statement that makes it; the feed
reads that log in the order a sequencer gives it after commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from hub.core.signals import (
    Audience,
    CopyState,
    SignalPlan,
    SignalStatus,
    deleted_copies,
    withdrawn_copies,
)
from hub.store.database import Conn
from hub.store.deferred_writes import write
from hub.store.events import record_event
from hub.store.queries import query


async def opted_in_platforms(conn: Conn) -> list[str]:
    return [row["id"] for row in await conn.fetch(query("opted_in_platforms"))]


async def record_signals(conn: Conn, case_id: UUID, message_id: UUID, plan: SignalPlan, at: datetime) -> None:
    """The request's signals, each copy `active` (a deferrable write: it only inserts)."""
    signals, copies = plan.signals, plan.copies
    await write(
        conn,
        "insert_signals",
        case_id,
        message_id,
        at,
        [s.id for s in signals],
        [s.item for s in signals],
        [s.alg for s in signals],
        [s.value for s in signals],
        [c.signal_id for c in copies],
        [c.platform for c in copies],
        [str(c.audience) for c in copies],
    )


async def withdraw_signals(conn: Conn, case_id: UUID, at: datetime) -> int:
    """After a withdrawal is applied to the case's recipients: the copies it withdraws. How many moved."""
    copies = await _copies(conn, case_id)
    if not copies:
        return 0
    withdrawn = frozenset(
        row["participant_id"] for row in await conn.fetch(query("withdrawn_recipients"), case_id)
    )
    return await _move(conn, withdrawn_copies(copies, withdrawn), SignalStatus.WITHDRAWN, at)


async def delete_signals(conn: Conn, case_id: UUID, at: datetime) -> int:
    """The case's purge: every copy deleted, the hashes forgotten. How many copies moved."""
    moved = await _move(conn, deleted_copies(await _copies(conn, case_id)), SignalStatus.DELETED, at)
    await conn.execute(query("forget_case_hashes"), case_id, at)
    return moved


async def _copies(conn: Conn, case_id: UUID) -> list[CopyState]:
    return [
        CopyState(
            signal_id=row["signal_id"],
            platform=row["platform_id"],
            audience=Audience(row["audience"]),
            status=SignalStatus(row["status"]),
            request_recipients=frozenset(row["recipients"]),
        )
        for row in await conn.fetch(query("lock_case_signal_copies"), case_id)
    ]


async def _move(conn: Conn, copies: Sequence[CopyState], status: SignalStatus, at: datetime) -> int:
    if copies:
        await conn.execute(
            query("change_signal_copies"),
            [c.signal_id for c in copies],
            [c.platform for c in copies],
            str(status),
            at,
        )
    return len(copies)


async def copies_held(conn: Conn, case_id: UUID, platform: str) -> frozenset[UUID]:
    """The case's signals the platform holds a copy of as a recipient of its request (a match-report
    may name only these)."""
    rows = await conn.fetch(query("recipient_signal_copies"), case_id, platform)
    return frozenset(row["signal_id"] for row in rows)


async def record_outcomes(
    conn: Conn,
    case_id: UUID,
    platform: str,
    message_id: UUID,
    outcomes: Sequence[tuple[UUID, str, bool]],
    at: datetime,
) -> None:
    """A match-report's outcomes on the case's timeline: counted by outcome, with its located copies (the
    statistics read these counts; signal ids and locations stay in the message)."""
    counts = Counter(outcome for _, outcome, _ in outcomes)
    await record_event(
        conn,
        case_id,
        at,
        "signals.reported",
        platform,
        subject=platform,
        message_id=message_id,
        detail={
            "outcomes": dict(sorted(counts.items())),
            "located_copies": sum(1 for _, _, located in outcomes if located),
        },
    )
