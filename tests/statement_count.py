"""Counting the statements a pool sends (issue 21's tests of one statement per batch): asyncpg's query
logger on each of the pool's connections, as `bench/round_trips.py` counts them."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from hub.store.queries import queries


class Counted:
    """The statements a pool's connections send, by named query (BEGIN and COMMIT by their text)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.names = {text: name for name, text in queries().items()}

    def __call__(self, record: Any) -> None:
        text = record.query.strip()
        if "typeinfo_tree" not in text and "'jit'" not in text:
            self.counts[self.names.get(text, text.split()[0].rstrip(";"))] += 1

    async def taken(self) -> Counter[str]:
        for _ in range(3):
            await asyncio.sleep(0)  # asyncpg hands records to its loggers with call_soon
        counted, self.counts = self.counts, Counter()
        return counted
