"""A recipient's pull inbox in the database: its pending deliveries read by cursor, and retrieval.

The named queries are in `queries/inbox.sql`; what an inbox item holds and when a retrieval moves the
case is decided in `hub.services.inbox` and `hub.store.messages.record_retrieval`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from hub.store.database import Conn
from hub.store.queries import query


async def inbox_page(
    conn: Conn | asyncpg.Pool, recipient: str, after: int, limit: int
) -> list[asyncpg.Record]:
    """Up to `limit` pending pull deliveries of `recipient` after sequence number `after`, oldest first."""
    return list(await conn.fetch(query("inbox_page"), recipient, after, limit))


async def case_messages_to(conn: Conn | asyncpg.Pool, case_id: UUID, recipient: str) -> list[asyncpg.Record]:
    """The messages of a case addressed to `recipient`, however delivered, oldest first."""
    return list(await conn.fetch(query("case_messages_to"), case_id, recipient))


async def known_deliveries(conn: Conn, recipient: str, message_ids: Sequence[UUID]) -> set[UUID]:
    """Which of these messages were ever given to `recipient`'s pull inbox (retrieved or not)."""
    return {row["message_id"] for row in await conn.fetch(query("known_deliveries"), recipient, message_ids)}


async def mark_retrieved(
    conn: Conn, recipient: str, message_ids: Sequence[UUID], at: datetime
) -> dict[UUID, int]:
    """Mark the pending ones of these deliveries retrieved: message id -> delivery sequence number."""
    rows = await conn.fetch(query("mark_retrieved"), recipient, message_ids, at)
    return {row["message_id"]: row["seq"] for row in rows}


async def retrieved_messages(conn: Conn, message_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    """Each message's id, case, type and payload digest (`message_id`, `case_id`, `message_type`,
    `payload_sha256`), for its delivery evidence."""
    return list(await conn.fetch(query("delivered_messages_cases"), list(message_ids)))


async def set_delivery_evidence(conn: Conn, seq: int, evidence: str) -> None:
    await conn.execute(query("set_delivery_evidence"), seq, evidence)
