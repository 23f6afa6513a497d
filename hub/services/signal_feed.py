"""A platform's hash-signal feed: the changes of its signal copies after a cursor (`hub/core/signal_feed`).

Each read first sequences what has committed (so a reader sees its own hub's latest changes without
waiting for housekeeping), then reads the page. A cursor past the feed's end is refused: it comes from
another hub, or from before a restore of this hub's database, and a platform that kept it would wait
for ever; it must start again without a cursor. Asking for the page after a position confirms receipt
of every change up to it (`signal_feed_positions`).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from hub.core.refusal import Refusal
from hub.core.signal_feed import CursorError, FeedPage, decode_cursor, feed_page
from hub.store import signal_feed as store

MAX_PAGE = 1000


def parse_cursor(value: str | None) -> int:
    try:
        return decode_cursor(value)
    except CursorError as exc:
        raise Refusal("invalid-parameter", str(exc), parameter="cursor") from None


async def read_signals(pool: asyncpg.Pool, platform: str, after: int, limit: int, now: datetime) -> FeedPage:
    await store.sequence_changes(pool)
    if after > await store.feed_end(pool):
        raise Refusal(
            "cursor-beyond-feed",
            "the cursor names a position this hub's feed has not reached (another hub's cursor, or one "
            "from before a restore): start again without a cursor",
            parameter="cursor",
        )
    entries = await store.feed_entries(pool, platform, after, limit)
    if after:
        await store.record_position(pool, platform, after, now)
    return feed_page(entries, after, limit)
