"""A recipient's pull inbox: pending deliveries, oldest first, read with a cursor and acknowledged.

Each item is the message exactly as its sender signed it, with the hub's receipt (which names the
message's SHA-256), so the recipient can verify both with a stock JOSE library. Marking an item
retrieved (`ack`) takes it out of the inbox; the first retrieval of a referral moves the recipient's
state in the case from `queued` to `retrieved`, a timeline event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from hub.core.case_state import RecipientState, next_state
from hub.core.clock import rfc3339
from hub.core.envelope import NEW_REFERRAL_TYPES
from hub.core.refusal import Refusal
from hub.store.database import Conn
from hub.store.messages import record_event
from hub.store.queries import query

MAX_PAGE = 100


@dataclass(frozen=True)
class InboxPage:
    items: list[dict[str, Any]]
    cursor: str


def parse_cursor(value: str | None) -> int:
    if value in (None, ""):
        return 0
    if not value.isdigit() or len(value) > 18:
        raise Refusal("invalid-parameter", "cursor must be a value the hub returned", parameter="cursor")
    return int(value)


async def read_inbox(pool: asyncpg.Pool, recipient: str, after: int, limit: int) -> InboxPage:
    rows = await pool.fetch(query("inbox_page"), recipient, after, limit)
    items = [
        {
            "message_id": str(row["message_id"]),
            "case_id": str(row["case_id"]),
            "from": row["sender_id"],
            "type": row["message_type"],
            "version": row["version"],
            "accepted_at": rfc3339(row["accepted_at"]),
            "message": _signed_form(row["signed_form"]),
            "receipt": row["receipt"],
        }
        for row in rows
    ]
    return InboxPage(items=items, cursor=str(rows[-1]["seq"] if rows else after))


def _signed_form(raw: bytes) -> str:
    """The signed message as text: a compact JWS, or the JSON serialisation exactly as received."""
    return raw.decode("utf-8")


async def acknowledge(
    pool: asyncpg.Pool, recipient: str, message_ids: Sequence[UUID], now: datetime
) -> list[str]:
    async with pool.acquire() as conn, conn.transaction():
        known = {
            row["message_id"] for row in await conn.fetch(query("known_deliveries"), recipient, message_ids)
        }
        unknown = [str(m) for m in message_ids if m not in known]
        if unknown:
            raise Refusal("unknown-message", "no such message in your inbox", message_ids=unknown)
        retrieved = [
            row["message_id"]
            for row in await conn.fetch(query("mark_retrieved"), recipient, message_ids, now)
        ]
        for row in await conn.fetch(query("delivered_messages_cases"), retrieved):
            await _record_retrieval(conn, recipient, row, now)
    return [str(m) for m in retrieved]


async def _record_retrieval(conn: Conn, recipient: str, message: asyncpg.Record, now: datetime) -> None:
    case_id, message_id = message["case_id"], message["message_id"]
    await record_event(conn, case_id, now, "message.retrieved", recipient, message_id=message_id)
    if message["message_type"] not in NEW_REFERRAL_TYPES:
        return
    state = await conn.fetchval(
        "SELECT state FROM case_parties WHERE case_id = $1 AND participant_id = $2 FOR UPDATE",
        case_id,
        recipient,
    )
    current = RecipientState(state)
    target = next_state(current, RecipientState.RETRIEVED)
    if target is not None:
        await conn.execute(query("set_party_state"), case_id, recipient, str(current), str(target), now)
        await record_event(
            conn,
            case_id,
            now,
            "recipient.state_changed",
            recipient,
            subject=recipient,
            message_id=message_id,
            from_state=str(current),
            to_state=str(target),
        )
