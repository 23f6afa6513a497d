"""What bank adapters banked (`adapters.hma`): one row per content item of a request, with the bank and
the bank's own content id. Identifiers only, never a hash or a URL. `hub.services.bank_ledger` gives this
to adapters as their `BankLedger`."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from hub.store.database import Conn
from hub.store.queries import query


async def banked_contents(conn: Conn | asyncpg.Pool, case_id: UUID, recipient: str) -> list[asyncpg.Record]:
    """(message_id, item, bank, content_id) of what is banked and not removed, in the order banked."""
    return list(await conn.fetch(query("banked_contents"), case_id, recipient))


async def record_banked(
    conn: Conn | asyncpg.Pool,
    recipient: str,
    case_id: UUID,
    message_id: UUID,
    item: int,
    bank: str,
    content_id: str,
    at: datetime,
) -> None:
    await conn.execute(
        query("record_banked_content"), recipient, message_id, item, case_id, bank, content_id, at
    )


async def mark_removed(
    conn: Conn | asyncpg.Pool, recipient: str, message_id: UUID, item: int, at: datetime
) -> None:
    await conn.execute(query("mark_bank_content_removed"), recipient, message_id, item, at)


async def opted_in_to_bank(conn: Conn | asyncpg.Pool, limit: int = 100) -> list[asyncpg.Record]:
    """Active opted-in signals of `hma` platforms not banked there yet, one row per content item."""
    return list(await conn.fetch(query("opted_in_to_bank"), limit))


async def to_remove(conn: Conn | asyncpg.Pool, limit: int = 100) -> list[asyncpg.Record]:
    """(case_id, recipient_id, adapter, endpoint, adapter_config) with banked contents to remove: their
    signal copies there are no longer active, or the purge made them due."""
    return list(await conn.fetch(query("banked_but_withdrawn"), limit))
