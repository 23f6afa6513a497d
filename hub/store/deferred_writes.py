"""Deferred writes: the rows a batch of new referrals inserts, sent per table in one pipelined round trip.

A referral that opens a case only inserts: the case, its message, its recipients, their deliveries and
the clocks of pull recipients. Nothing in the same transaction reads those rows back, except a later
message that answers the same case or repeats the same id. So under group commit these inserts can wait
in a buffer and go out together before the commit, one `executemany` per statement, in an order that
satisfies the foreign keys (a case before its message, a message before its deliveries). Whoever is
about to read what may be buffered flushes first (`flush_writes`).

Writes on a connection with no buffer open go straight to the database, so the same code serves a
single message and a batch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from hub.store.database import Conn
from hub.store.queries import query

# Foreign keys point up this list: flushing in this order never inserts a row before what it names.
ORDER = (
    "open_case",
    "insert_message",
    "insert_signals",
    "insert_party",
    "insert_deliveries",
    "insert_deadline",
)


@dataclass
class _WriteBuffer:
    conn: Conn
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=lambda: {name: [] for name in ORDER})
    message_ids: set[UUID] = field(default_factory=set)


_buffer: ContextVar[_WriteBuffer | None] = ContextVar("hub_write_buffer", default=None)


@asynccontextmanager
async def deferred_writes(conn: Conn) -> AsyncIterator[None]:
    """Buffer this task's deferrable writes on `conn` until the block ends, then send them. If the
    block fails they are dropped with it (its transaction rolls back)."""
    buffer = _WriteBuffer(conn)
    token = _buffer.set(buffer)
    try:
        yield
    finally:
        _buffer.reset(token)
    await _send(buffer)


async def write(conn: Conn, name: str, *args: Any, message_id: UUID | None = None) -> None:
    """Insert now, or later with the others of its kind if a buffer is open on `conn`."""
    if name not in ORDER:
        raise ValueError(f"{name} is not a deferrable write")
    buffer = _buffer.get()
    if buffer is None or buffer.conn is not conn:
        await conn.execute(query(name), *args)
        return
    buffer.rows[name].append(args)
    if message_id is not None:
        buffer.message_ids.add(message_id)


def is_buffered(message_id: UUID) -> bool:
    buffer = _buffer.get()
    return buffer is not None and message_id in buffer.message_ids


async def flush_writes(conn: Conn) -> None:
    """Send what is buffered on `conn` now (before reading rows it may hold)."""
    buffer = _buffer.get()
    if buffer is not None and buffer.conn is conn:
        await _send(buffer)


async def _send(buffer: _WriteBuffer) -> None:
    for name in ORDER:
        rows = buffer.rows[name]
        if rows:
            await buffer.conn.executemany(query(name), rows)
            rows.clear()
    buffer.message_ids.clear()
