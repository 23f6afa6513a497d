"""The raw ceiling: what the same PostgreSQL does with the hub's own rows and nothing else.

Eight asyncpg connections insert rows of the shape and size of the hub's message row (a real stored
row copied with new ids: the same signed form, receipt and columns) into a scratch table made `LIKE
messages` (defaults, constraints and indexes, no foreign keys), one row per transaction, with the
server's durability settings untouched (fsync, synchronous_commit as the hub runs with them). The
scratch table is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg

COLUMNS = (
    "id, sender_id, kid, message_type, version, case_id, in_reply_to, recipients, created_at, accepted_at, "
    "payload_sha256, signed_form, receipt, form_encrypted, category"
)


async def raw_ceiling(dsn: str, *, connections: int = 8, seconds: float = 10.0) -> dict[str, Any]:
    """Rows per second inserted one per transaction on `connections` connections for `seconds`."""
    table = f"bench_raw_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn)
    try:
        sample = await admin.fetchrow(f"SELECT {COLUMNS} FROM messages ORDER BY accepted_at DESC LIMIT 1")
        if sample is None:
            raise RuntimeError("no stored message to copy: run the hub first")
        await admin.execute(
            f"CREATE TABLE {table} (LIKE messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)"
        )
        settings = {name: await admin.fetchval(f"SHOW {name}") for name in ("fsync", "synchronous_commit")}
        try:
            counts, elapsed = await _insert_for(dsn, table, dict(sample), connections, seconds)
        finally:
            await admin.execute(f"DROP TABLE {table}")
    finally:
        await admin.close()
    rows = sum(counts)
    return {
        "rows": rows,
        "seconds": round(elapsed, 2),
        "rows_per_s": round(rows / elapsed, 1),
        "connections": connections,
        "row_bytes": {
            "signed_form": len(sample["signed_form"] or b""),
            "receipt": len(sample["receipt"]),
        },
        "one_row_per_transaction": True,
        **settings,
    }


async def _insert_for(
    dsn: str, table: str, sample: dict[str, Any], connections: int, seconds: float
) -> tuple[list[int], float]:
    """Rows inserted per connection, and the seconds from the first insert to the last commit."""
    names = COLUMNS.split(", ")
    placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    sql = f"INSERT INTO {table} ({COLUMNS}) VALUES ({placeholders})"
    conns = [await asyncpg.connect(dsn) for _ in range(connections)]
    stmts = [await conn.prepare(sql) for conn in conns]
    started = time.monotonic()
    stop_at = started + seconds

    async def insert(stmt: asyncpg.prepared_stmt.PreparedStatement) -> int:
        done = 0
        while time.monotonic() < stop_at:
            row = [uuid.uuid4() if n in ("id", "case_id") else sample[n] for n in names]
            await stmt.fetch(*row)
            done += 1
        return done

    try:
        counts = list(await asyncio.gather(*(insert(s) for s in stmts)))
        return counts, time.monotonic() - started
    finally:
        for conn in conns:
            await conn.close()
