"""E-mail replies as evidence: who a reply address can be from, and every reply as it was received.

A reply is recorded once per raw e-mail and reply address (mail servers redeliver); the timeline event
that goes with it, if any, is written in the same transaction, so a redelivery adds neither twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from hub.store.database import Conn
from hub.store.events import record_event
from hub.store.queries import query


@dataclass(frozen=True)
class ReplyTarget:
    """An e-mail recipient of a message: whose reply address it was, and what its answer needs."""

    recipient_id: str
    case_id: UUID
    originator: str
    delivered_at: datetime | None
    adapter_config: dict[str, Any]


@dataclass(frozen=True)
class InboundMail:
    id: UUID
    received_at: datetime
    rcpt_to: str
    raw: bytes
    raw_sha256: str
    verdict: str
    recipient_id: str | None = None
    case_id: UUID | None = None
    message_id: UUID | None = None
    recorded_message_id: UUID | None = None
    auth: dict[str, str] | None = None  # how its origin was authenticated, or why it was not


@dataclass(frozen=True)
class TimelineNote:
    """A case event to write with the inbound mail: identifiers and codes only, never its content."""

    event: str
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class PriorMail:
    id: UUID
    verdict: str
    recorded_message_id: UUID | None


async def reply_targets(conn: Conn, message_id: UUID) -> list[ReplyTarget]:
    rows = await conn.fetch(query("mail_reply_targets"), message_id)
    return [
        ReplyTarget(
            row["recipient_id"],
            row["case_id"],
            row["opened_by"],
            row["delivered_at"],
            dict(row["adapter_config"] or {}),
        )
        for row in rows
    ]


async def find_inbound(conn: Conn, raw_sha256: str, rcpt_to: str) -> PriorMail | None:
    row = await conn.fetchrow(query("find_inbound_mail"), raw_sha256, rcpt_to)
    if row is None:
        return None
    return PriorMail(row["id"], row["verdict"], row["recorded_message_id"])


async def record_inbound(conn: Conn, mail: InboundMail, note: TimelineNote | None = None) -> bool:
    """Store the mail (and its timeline note); False if this very mail was stored already."""
    async with conn.transaction():
        inserted = await conn.fetchval(
            query("insert_inbound_mail"),
            mail.id,
            mail.received_at,
            mail.rcpt_to,
            mail.recipient_id,
            mail.case_id,
            mail.message_id,
            mail.raw,
            mail.raw_sha256,
            mail.verdict,
            mail.recorded_message_id,
            mail.auth,
        )
        if inserted is None:
            return False
        if note is not None and mail.case_id is not None and mail.recipient_id is not None:
            await record_event(
                conn,
                mail.case_id,
                mail.received_at,
                note.event,
                mail.recipient_id,
                subject=mail.recipient_id,
                message_id=mail.message_id,
                detail={"channel": "email", "inbound_mail_id": str(mail.id), **note.detail},
            )
    return True
