"""The case timeline: one append-only row per thing that happened, in the transaction that did it.

Each event is also appended to the tamper-evident audit log, by the same statement. Code that records
many events in one transaction (group commit) holds them with its other deferred rows
(`hub.store.deferred_writes`) and writes them all in one statement: nothing reads the timeline back
inside the transaction that writes it, and the rows keep their order.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from hub.store.database import Conn
from hub.store.deferred_writes import is_deferring, write
from hub.store.queries import query


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
    when: str | None = None,
) -> None:
    """`when`: an entry made beforehand for a clock an answer may change ('met:ID', 'answered-late:ID'),
    held with the batch's rows and written only if the answer's `meet_deadlines` row changes that clock
    so (`hub_record_rows`, migration 0038); only while writes are deferred."""
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
    if when is not None:
        if not is_deferring(conn):
            raise ValueError("an entry for a clock's possible change is only held with a batch's rows")
        await write(conn, "insert_event", *row, when)
    elif is_deferring(conn):
        await write(conn, "insert_event", *row)
    else:
        await conn.execute(query("insert_event"), *row)
