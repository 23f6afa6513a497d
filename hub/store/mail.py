"""E-mail replies as evidence: who a reply address can be from, and every reply as it was received.

A reply is recorded once per raw e-mail and reply address (mail servers redeliver); the timeline event
that goes with it, if any, is written in the same transaction, so a redelivery adds neither twice.

Encrypted at rest (`hub.core.vault`): a reply to a case with the case's data key, so it is shredded with
the case at purge; a reply to no known address (no case) with a data key of its own, wrapped by the
storage key and deleted with the row when its short retention ends (`purge.purge_unmatched_mail`). Without a
keyring (tools and tests without a storage key) it is stored as given, like messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from hub.core.vault import new_key, seal_with, wrap
from hub.store.case_keys import Keyring, encrypt_for_case
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
    purged: bool = False  # the case's data was purged: nothing of a late reply may be kept


@dataclass(frozen=True)
class InboundMail:
    id: UUID
    received_at: datetime
    rcpt_to: str
    raw: bytes | None  # what is kept of the e-mail (all of it, a prefix, or nothing)
    raw_sha256: str  # of the whole e-mail as received
    verdict: str
    recipient_id: str | None = None
    case_id: UUID | None = None
    message_id: UUID | None = None
    recorded_message_id: UUID | None = None
    auth: dict[str, str] | None = None  # how its origin was authenticated, or why it was not
    raw_bytes: int | None = None  # the size of the whole e-mail as received


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
            row["purged_at"] is not None,
        )
        for row in rows
    ]


async def find_inbound(conn: Conn, raw_sha256: str, rcpt_to: str) -> PriorMail | None:
    row = await conn.fetchrow(query("find_inbound_mail"), raw_sha256, rcpt_to)
    if row is None:
        return None
    return PriorMail(row["id"], row["verdict"], row["recorded_message_id"])


async def record_inbound(
    conn: Conn, mail: InboundMail, note: TimelineNote | None = None, keyring: Keyring | None = None
) -> bool:
    """Store the mail (encrypted when a keyring is given) and its timeline note; False if this very
    mail was stored already."""
    async with conn.transaction():
        stored, wrapped = await seal_raw(conn, keyring, mail.case_id, mail.raw, mail.received_at)
        inserted = await conn.fetchval(
            query("insert_inbound_mail"),
            mail.id,
            mail.received_at,
            mail.rcpt_to,
            mail.recipient_id,
            mail.case_id,
            mail.message_id,
            stored,
            mail.raw_sha256,
            mail.verdict,
            mail.recorded_message_id,
            mail.auth,
            stored is not None and keyring is not None,
            wrapped,
            mail.raw_bytes,
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


async def seal_raw(
    conn: Conn, keyring: Keyring | None, case_id: UUID | None, raw: bytes | None, at: datetime
) -> tuple[bytes | None, bytes | None]:
    """The stored form of a raw mail and, for mail of no case, its own wrapped data key."""
    if raw is None or keyring is None:
        return raw, None
    if case_id is not None:
        return await encrypt_for_case(conn, keyring, case_id, raw, at), None
    key = new_key()
    return seal_with(key, raw), wrap(keyring.storage_key, key)


async def open_inbound(conn: Conn, keyring: Keyring, mail_id: UUID) -> bytes:
    """The kept e-mail as received (or the prefix kept of an unmatched one). `ShreddedError` once it
    was purged, or its case's key destroyed; KeyError if there is no such mail."""
    row = await conn.fetchrow(query("get_inbound_raw"), mail_id)
    if row is None:
        raise KeyError(str(mail_id))
    return keyring.open(row["wrapped_key"], row["raw"], row["raw_encrypted"])


async def list_inbound(
    conn: Conn, case_id: UUID | None, verdict: str | None, limit: int
) -> list[dict[str, Any]]:
    """The kept mail, newest first: identifiers, times, verdicts, digests and sizes, never content."""
    rows = await conn.fetch(query("list_inbound_mail"), case_id, verdict, limit)
    return [dict(row) for row in rows]


async def seal_clear_mail(pool: asyncpg.Pool, keyring: Keyring, at: datetime, limit: int = 200) -> int:
    """Encrypt mail stored in clear (before migration 0012): a batch per call, each row as it would be
    stored now. Returns how many were sealed."""
    sealed = 0
    async with pool.acquire() as conn:
        for row in await conn.fetch(query("clear_inbound_mail"), limit):
            async with conn.transaction():
                stored, wrapped = await seal_raw(conn, keyring, row["case_id"], bytes(row["raw"]), at)
                sealed += await conn.fetchval(query("seal_inbound_mail"), row["id"], stored, wrapped) or 0
    return sealed
