"""The case timeline: one append-only row per thing that happened, in the transaction that did it.

Each event is also appended to the tamper-evident audit log, by the same statement. Code that records
many events in one transaction (group commit) can hold them in a buffer (`buffered_events`) and write
them all in one pipelined round trip just before it commits: nothing reads the timeline back inside the
transaction that writes it, and the rows keep their order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from hub.store.database import Conn
from hub.store.queries import query


@dataclass
class _EventBuffer:
    conn: Conn
    rows: list[tuple[Any, ...]] = field(default_factory=list)


_buffer: ContextVar[_EventBuffer | None] = ContextVar("hub_event_buffer", default=None)


@asynccontextmanager
async def buffered_events(conn: Conn) -> AsyncIterator[None]:
    """Hold the events recorded on `conn` in this task until the block ends, then write them at once.
    If the block fails they are dropped with it (its transaction rolls back)."""
    buffer = _EventBuffer(conn)
    token = _buffer.set(buffer)
    try:
        yield
    finally:
        _buffer.reset(token)
    if buffer.rows:
        await conn.executemany(query("insert_event"), buffer.rows)


async def record_event(
    conn: Conn,
    case_id: UUID,
    at: datetime,
    event: str,
    actor: str,
    *,
    subject: str | None = None,
    message_id: UUID | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    detail: dict[str, object] | None = None,
) -> None:
    # The same fact goes in the tamper-evident log (its fields, the states included, all covered by the
    # leaf), in the same statement.
    audited = dict(detail or {})
    if from_state is not None:
        audited["from_state"] = str(from_state)
    if to_state is not None:
        audited["to_state"] = str(to_state)
    row = (
        case_id,
        at,
        event,
        actor,
        subject,
        message_id,
        None if from_state is None else str(from_state),
        None if to_state is None else str(to_state),
        detail or {},
        audited,
    )
    buffer = _buffer.get()
    if buffer is not None and buffer.conn is conn:
        buffer.rows.append(row)
    else:
        await conn.execute(query("insert_event"), *row)
