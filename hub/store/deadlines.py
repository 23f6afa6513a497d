"""Legal clocks in the database: started when a recipient is told, met, answered late, cancelled,
and claimed one at a time when a reminder or the due time comes (`FOR UPDATE SKIP LOCKED`), so that
with several hub processes each reminder and each breach fires exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from hub.core.hub_identity import TIMELINE_ACTOR as HUB_ACTOR
from hub.core.policy import Clock
from hub.store.database import Conn
from hub.store.deferred_writes import is_deferring, write
from hub.store.events import record_event
from hub.store.queries import query


@dataclass(frozen=True)
class OwedClock:
    """A clock a party of a case owes that an answer could still change: open, or breached and not yet
    answered (read with the case in the batch's snapshot, `batch_snapshot`)."""

    id: int
    recipient: str
    kind: str
    rule_id: str
    due_at: datetime


def clock_to_json(clock: Clock) -> dict[str, Any]:
    return {
        "kind": clock.kind,
        "within_s": clock.within.total_seconds(),
        "legal_basis": clock.legal_basis,
        "rule": clock.rule,
        "jurisdiction": clock.jurisdiction,
        "notify_regulator": clock.notify_regulator,
        "reminders_before_s": [r.total_seconds() for r in clock.reminders_before],
    }


def clock_from_json(data: dict[str, Any]) -> Clock:
    from datetime import timedelta

    return Clock(
        kind=data["kind"],
        within=timedelta(seconds=data["within_s"]),
        legal_basis=data["legal_basis"],
        rule=data["rule"],
        jurisdiction=data["jurisdiction"],
        reminders_before=tuple(timedelta(seconds=s) for s in data["reminders_before_s"]),
        notify_regulator=bool(data["notify_regulator"]),
    )


async def start_new_clocks(
    conn: Conn, *, case_id: UUID, message_id: UUID, recipient: str, clocks: Sequence[Clock], told_at: datetime
) -> None:
    """`start_clocks` for a message just accepted, which has no clock yet: inserts only, so they can be
    deferred with the message's other writes (see `deferred_writes`)."""
    for clock in clocks:
        await write(conn, "insert_deadline", *_deadline_row(case_id, message_id, recipient, clock, told_at))
        await _record_started(conn, case_id, message_id, recipient, clock, told_at)


async def start_clocks(
    conn: Conn, *, case_id: UUID, message_id: UUID, recipient: str, clocks: Sequence[Clock], told_at: datetime
) -> None:
    for clock in clocks:
        row = _deadline_row(case_id, message_id, recipient, clock, told_at)
        if await conn.fetchval(query("insert_deadline"), *row) is not None:
            await _record_started(conn, case_id, message_id, recipient, clock, told_at)


def _deadline_row(
    case_id: UUID, message_id: UUID, recipient: str, clock: Clock, told_at: datetime
) -> tuple[Any, ...]:
    """The `insert_deadline` arguments: the clock started at `told_at`, with its reminders before it."""
    due = told_at + clock.within
    reminders = sorted(due - r for r in clock.reminders_before if told_at < due - r < due)
    return (
        case_id,
        message_id,
        recipient,
        clock.kind,
        clock.jurisdiction,
        clock.rule,
        clock.legal_basis,
        clock.notify_regulator,
        told_at,
        due,
        reminders,
    )


async def _record_started(
    conn: Conn,
    case_id: UUID,
    message_id: UUID,
    recipient: str,
    clock: Clock,
    told_at: datetime,
) -> None:
    due = told_at + clock.within
    await record_event(
        conn,
        case_id,
        told_at,
        "deadline.started",
        HUB_ACTOR,
        subject=recipient,
        message_id=message_id,
        detail={
            "deadline": clock.kind,
            "due_at": due.isoformat(),
            "rule": clock.rule,
            "jurisdiction": clock.jurisdiction,
            "legal_basis": clock.legal_basis,
        },
    )


async def meet(
    conn: Conn,
    *,
    case_id: UUID,
    participant: str,
    kinds: Sequence[str],
    message_id: UUID,
    at: datetime,
    answers: UUID | None = None,
    owed: Sequence[OwedClock] | None = None,
) -> None:
    """The participant's answer (`message_id`, answering `answers`) meets its open clocks of these kinds
    on the message answered, or all of them when that message started none; a clock already breached
    records the late answer, and stays breached. Each clock's end is queued for a peer hub's report by
    the same statement (`queue_report`'s rule, `hub_queue_clock_report`).

    With `owed` (the case's clocks an answer could change, as the batch's snapshot read them) and writes
    deferred, the statement waits with the batch's rows, and the timeline entry of each change it could
    make is made now, for `hub_record_rows` to write those it does make (migration 0038): which clocks
    are met stays the statement's rule alone (`hub_meet_deadlines`)."""
    if owed is not None and is_deferring(conn):
        await write(conn, "meet_deadlines", case_id, participant, list(kinds), at, message_id, answers)
        could = sorted(
            (c for c in owed if c.recipient == participant and c.kind in kinds), key=lambda c: c.id
        )
        for outcome in ("met", "answered-late"):  # the statement's order: met first, then by clock
            for clock in could:
                when = f"{outcome}:{clock.id}"
                await _record_meeting(conn, case_id, participant, message_id, at, outcome, clock, when)
        return
    rows = await conn.fetch(
        query("meet_deadlines"), case_id, participant, list(kinds), at, message_id, answers
    )
    for row in rows:
        clock = OwedClock(row["id"], participant, row["kind"], row["rule_id"], row["due_at"])
        await _record_meeting(conn, case_id, participant, message_id, at, row["outcome"], clock)


async def _record_meeting(
    conn: Conn,
    case_id: UUID,
    participant: str,
    message_id: UUID,
    at: datetime,
    outcome: str,
    clock: OwedClock,
    when: str | None = None,
) -> None:
    detail: dict[str, object] = {
        "deadline": clock.kind,
        "rule": clock.rule_id,
        "due_at": clock.due_at.isoformat(),
    }
    await record_event(
        conn,
        case_id,
        at,
        "deadline.met" if outcome == "met" else "deadline.answered_late",
        participant,
        subject=participant,
        message_id=message_id,
        detail=detail,
        when=when,
    )


async def cancel(
    conn: Conn,
    *,
    case_id: UUID,
    participants: Sequence[str],
    at: datetime,
    actor: str,
    keep: Sequence[str] = ("confirm_deletion",),
) -> None:
    rows = await conn.fetch(query("cancel_deadlines"), case_id, list(participants), at, list(keep))
    for row in rows:
        await record_event(
            conn,
            case_id,
            at,
            "deadline.cancelled",
            actor,
            subject=row["recipient_id"],
            detail={"deadline": row["kind"]},
        )


async def case_deadlines(conn: Conn | asyncpg.Pool, case_id: UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(query("case_deadlines"), case_id))


async def running(conn: Conn | asyncpg.Pool, case_id: UUID, recipient: str) -> list[asyncpg.Record]:
    return list(await conn.fetch(query("running_deadlines"), case_id, recipient))


async def claim_due(conn: Conn, now: datetime) -> asyncpg.Record | None:
    """One open clock due to fire at `now`, locked in the caller's transaction (another process skips
    it), with its message's type and sender and the case's originator; None when none is due."""
    claimed: asyncpg.Record | None = await conn.fetchrow(query("claim_due_deadline"), now)
    return claimed


async def postpone(conn: Conn, deadline_id: int, until: datetime) -> None:
    """Fire this open clock again no sooner than `until` (it failed to fire)."""
    await conn.execute(query("postpone_deadline"), deadline_id, until)


async def mark_breached(conn: Conn, deadline_id: int, at: datetime, escalation: UUID) -> None:
    await conn.execute(query("mark_breached"), deadline_id, at, escalation)
    await queue_report(conn, deadline_id, "breached", at, escalation=escalation)


async def queue_report(
    conn: Conn,
    deadline_id: int,
    result: str,
    at: datetime,
    *,
    answered_by: UUID | None = None,
    escalation: UUID | None = None,
) -> None:
    """Queue the end of a clock for its report to a peer hub's participant who asked (migration 0031):
    only a clock of this hub's own participant on a message a peer hub's participant sent is queued."""
    await conn.execute(query("queue_clock_report"), deadline_id, result, at, answered_by, escalation)


async def claim_report(conn: Conn) -> asyncpg.Record | None:
    """One clock end not yet reported, locked in the caller's transaction; None when there is none."""
    claimed: asyncpg.Record | None = await conn.fetchrow(query("claim_clock_report"))
    return claimed


async def mark_reported(conn: Conn, report_seq: int, at: datetime, report_id: UUID | None) -> None:
    await conn.execute(query("mark_clock_reported"), report_seq, at, report_id)


async def set_reminders(conn: Conn, deadline_id: int, remaining: Sequence[datetime]) -> None:
    """The reminders still to come; the clock next fires at the first of them, or when it is due."""
    await conn.execute(query("set_reminders"), deadline_id, list(remaining))


async def regulators_of(conn: Conn, jurisdiction: str) -> list[str]:
    """The regulators of a jurisdiction (participants of kind `regulator` in that country), by id."""
    return [r["id"] for r in await conn.fetch(query("regulators_of"), jurisdiction)]


async def party_state(conn: Conn, case_id: UUID, participant: str) -> str | None:
    """The participant's state in the case (None if it has none, or is no party)."""
    state: str | None = await conn.fetchval(query("party_state"), case_id, participant)
    return state


async def delivery_evidence(conn: Conn, message_id: UUID, recipient: str) -> str | None:
    """The hub-signed delivery evidence of the message to this recipient, once it has it."""
    evidence: str | None = await conn.fetchval(query("delivery_evidence"), message_id, recipient)
    return evidence


async def add_whole_case_party(conn: Conn, case_id: UUID, participant: str, by: str, at: datetime) -> bool:
    """Make the participant a party that sees the whole case (`shared`, sees_parts NULL), as the hub
    does with a regulator on an escalation; False if it already was a party."""
    if await conn.fetchval(query("party_role"), case_id, participant) is not None:
        return False
    await conn.execute(query("insert_party"), case_id, participant, "shared", None, by, at, None)
    return True
