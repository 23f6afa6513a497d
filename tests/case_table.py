"""A table of cases written straight into a test database, for the differential tests: the Python rules
(hub/core) and the SQL that computes them over many rows must agree on every row. Fictitious data only."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from tests.factories import Member


@dataclass
class Clock:
    recipient: str
    state: str  # open, met, breached, cancelled
    due_at: datetime
    answered_late_at: datetime | None = None


@dataclass
class Party:
    participant: str
    role: str  # originator, recipient, shared
    state: str | None = None  # a recipient's
    sees_parts: list[str] | None = None


@dataclass
class TableCase:
    id: uuid.UUID
    opened_at: datetime
    parties: list[Party]
    clocks: list[Clock] = field(default_factory=list)
    closed_at: datetime | None = None


async def write_case(conn: asyncpg.Connection, case: TableCase, originator: Member) -> None:
    """The case, its parties, one referral message from the originator and the clocks it started."""
    await conn.execute(
        "INSERT INTO cases (id, opened_by, case_type, opened_at, closed_at, closed_by)"
        " VALUES ($1, $2, 'ncii-takedown', $3, $4, $5)",
        case.id,
        originator.id,
        case.opened_at,
        case.closed_at,
        originator.id if case.closed_at else None,
    )
    for party in case.parties:
        sees = [party.participant] if party.role == "recipient" else party.sees_parts
        await conn.execute(
            "INSERT INTO case_parties (case_id, participant_id, role, state, state_changed_at, added_by,"
            " added_at, case_opened_at, sees_parts) VALUES ($1, $2, $3, $4, $5, $6, $5, $5, $7)",
            case.id,
            party.participant,
            party.role,
            party.state,
            case.opened_at,
            originator.id,
            sees,
        )
    message_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO messages (id, sender_id, kid, message_type, version, case_id, recipients, created_at,"
        " accepted_at, payload_sha256, receipt) VALUES ($1, $2, $3, 'takedown-request', '1.0', $4, $5,"
        " $6, $6, $7, 'test-receipt')",
        message_id,
        originator.id,
        originator.key.kid,
        case.id,
        [p.participant for p in case.parties if p.role == "recipient"],
        case.opened_at,
        hashlib.sha256(message_id.bytes).hexdigest(),
    )
    for clock in case.clocks:
        await conn.execute(
            "INSERT INTO deadlines (case_id, message_id, recipient_id, kind, jurisdiction, rule_id,"
            " legal_basis, started_at, due_at, next_fire_at, state, answered_late_at, breached_at)"
            " VALUES ($1, $2, $3, 'act', 'EU', 'test-rule', 'test basis', $4, $5, $6, $7, $8, $9)",
            case.id,
            message_id,
            clock.recipient,
            case.opened_at,
            clock.due_at,
            clock.due_at if clock.state == "open" else None,
            clock.state,
            clock.answered_late_at,
            clock.due_at if clock.state == "breached" else None,
        )


def moments(now: datetime) -> list[datetime]:
    """Due times around `now`, the boundary itself included (a clock due exactly now is overdue)."""
    return [now - timedelta(hours=1), now - timedelta(microseconds=1), now, now + timedelta(microseconds=1)]
