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


async def due_removals(conn: Conn | asyncpg.Pool, limit: int = 100) -> list[asyncpg.Record]:
    """(case_id, recipient_id, adapter, endpoint, adapter_config) whose banked contents a purge made due."""
    return list(await conn.fetch(query("due_bank_removals"), limit))
