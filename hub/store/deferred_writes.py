"""Deferred writes: the rows a batch writes, sent in one statement.

A referral that opens a case only inserts: the case, its message, its recipients, their deliveries, the
clocks of pull recipients and its timeline entries. Nothing in the same transaction reads those rows
back, except a later message that answers the same case. So under group commit these inserts wait in a
buffer and go out together: one call of `hub_record_rows` (migration 0021), which does for every row
what the row's named query does, in an order that satisfies the foreign keys (a case before its message,
a message before its deliveries). Timeline entries (`insert_event`) recorded while a buffer is open
wait in it too. Whoever is about to read what may be buffered flushes first (`flush_writes`).

An answer (a message on a case that exists) writes there too: its message, its recipients' moves
(`set_party_state`, from the state admission saw: the batch holds the party rows locked since its
snapshot), the clocks it meets (`meet_deadlines`) with the timeline entries made beforehand for each clock
it could change (an entry's 11th element, 'outcome:id', says for which; the function writes those whose
clock changed so), its deliveries and its pull recipients' clocks. A condition that fails inside the
function raises, and the batch is undone and retried one message at a time.

One statement is one transaction when none is open, so a batch that only inserts needs no BEGIN and no
COMMIT of its own: its rows are stored all together or not at all.

Writes on a connection with no buffer open go straight to the database through their named queries
(the per-row path), so the same code serves a single message and a batch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson

from hub.store.database import Conn
from hub.store.queries import query

# Foreign keys point up this list: flushing in this order never inserts a row before what it names.
# An answer's conditional writes are rows too (migration 0038): `meet_deadlines` after the messages (a
# clock met names its answer) and before the clocks the batch starts, `set_party_state` after the new
# parties; each raises inside the function when its condition fails, which undoes the batch.
ORDER = (
    "open_case",
    "insert_message",
    "meet_deadlines",
    "insert_signals",
    "insert_url_digests",
    "insert_party",
    "set_party_state",
    "insert_deliveries",
    "insert_deadline",
    "insert_event",
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


@asynccontextmanager
async def captured_writes(conn: Conn) -> AsyncIterator[dict[str, list[tuple[Any, ...]]]]:
    """Hold this task's deferrable writes on `conn` and give them to the caller instead of sending them
    (each named query's rows, in `ORDER`): to hand to a statement of the caller's own."""
    buffer = _WriteBuffer(conn)
    token = _buffer.set(buffer)
    try:
        yield buffer.rows
    finally:
        _buffer.reset(token)


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


def is_deferring(conn: Conn) -> bool:
    """Whether writes on `conn` wait in a buffer now."""
    buffer = _buffer.get()
    return buffer is not None and buffer.conn is conn


def is_buffered(message_id: UUID) -> bool:
    buffer = _buffer.get()
    return buffer is not None and message_id in buffer.message_ids


async def flush_writes(conn: Conn) -> None:
    """Send what is buffered on `conn` now (before reading rows it may hold)."""
    buffer = _buffer.get()
    if buffer is not None and buffer.conn is conn:
        await _send(buffer)


def rows_object(rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """What `hub_record_rows` takes (before `encoded`): each named query's rows, the empty ones left out."""
    return {name: rows[name] for name in ORDER if rows.get(name)}


def rows_json(rows: dict[str, list[tuple[Any, ...]]]) -> str:
    """The argument of `hub_record_rows`: each named query's rows as JSON arrays of its arguments."""
    return encoded(rows_object(rows))


def encoded(value: object) -> str:
    """JSON for a batch function: uuids and timestamps as strings (RFC 3339; a naive one is UTC, as asyncpg
    takes it), bytea as hex."""
    return orjson.dumps(value, default=_json_value, option=orjson.OPT_NAIVE_UTC).decode()


def _json_value(value: object) -> str:
    """What orjson leaves to us: bytea as hex, and asyncpg's own UUID type (read from the database)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a deferrable value")


async def _send(buffer: _WriteBuffer) -> None:
    if any(buffer.rows.values()):
        await buffer.conn.execute(query("record_rows"), rows_json(buffer.rows))
        for rows in buffer.rows.values():
            rows.clear()
    buffer.message_ids.clear()
