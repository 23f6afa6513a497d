"""The hash-signal feed in the database: positions given in commit order, pages read by position.

A change is appended with no position (`seq` NULL) in the transaction that makes it. Positions are given
afterwards by one sequencer at a time (`pg_try_advisory_xact_lock`; another process skips its turn), to
the changes committed by then, each after every position given before. A sequence number drawn inside
the writing transaction would not do: two writers can commit in the other order than they drew, and a
reader that had seen the later number would skip the earlier one for ever. Sequencing runs before each
read and in the hub's housekeeping.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from hub.core.signal_feed import FeedEntry
from hub.core.signals import Audience, SignalStatus
from hub.store.queries import query

BATCH = 10_000


async def sequence_changes(pool: asyncpg.Pool, batch: int = BATCH) -> int | None:
    """Give committed changes their feed positions; how many got one, or None if another process holds
    the sequencer now."""
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval(query("signal_sequencer_lock")):
            return None
        return len(await conn.fetch(query("sequence_signal_changes"), batch))


async def feed_end(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval(query("signal_feed_end")))


async def feed_entries(pool: asyncpg.Pool, platform: str, after: int, limit: int) -> list[FeedEntry]:
    rows = await pool.fetch(query("signal_feed_page"), platform, after, limit)
    return [
        FeedEntry(
            position=row["seq"],
            signal_id=row["id"],
            case_id=row["case_id"],
            message_id=row["message_id"],
            item=row["item"],
            alg=row["alg"],
            value=row["value"],
            audience=Audience(row["audience"]),
            status=SignalStatus(row["status"]),
            status_changed_at=row["status_changed_at"],
            history=[(SignalStatus(s), at) for s, at in zip(row["statuses"], row["times"], strict=True)],
        )
        for row in rows
    ]


async def record_position(pool: asyncpg.Pool, platform: str, position: int, at: datetime) -> None:
    await pool.execute(query("record_feed_position"), platform, position, at)
