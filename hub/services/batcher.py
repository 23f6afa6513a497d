"""Batching concurrent work: group commit, and coalesced lookups.

Group commit: concurrent submissions share one transaction, so one fsync makes many of them durable.
Under load the cost of accepting a message is dominated by its commit (a WAL flush) and by round trips,
not by the work in between. Requests that arrive while a commit is in flight wait in `pending`; the next
drain takes up to `max_batch` of them and commits them together. Nobody waits on purpose: with one
request at a time every batch holds one item and the latency is that of a single transaction. At most
`parallel` drains run at once, so one batch can be built while another waits for its flush.

The batch function answers each item with its own outcome (a result or an exception); a caller's answer
is sent only once the batch's transaction has committed. If a caller gives up waiting, the item is
still committed: it was accepted, and a resubmission is answered from what was stored.

The same mechanism coalesces lookups: concurrent requests for signing keys become one query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

BatchCommit = Callable[[Sequence[Item]], Awaitable[Sequence[Result | Exception]]]


@dataclass
class Batcher(Generic[Item, Result]):
    max_batch: int = 64
    parallel: int = 2
    _pending: list[tuple[Item, asyncio.Future[Result]]] = field(default_factory=list, repr=False)
    _drains: set[asyncio.Task[None]] = field(default_factory=set, repr=False)
    batches: int = 0  # committed batches and items, for the metrics and the benchmark
    items: int = 0

    async def submit(self, item: Item, commit: BatchCommit[Item, Result]) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if len(self._drains) < self.parallel:
            drain = asyncio.create_task(self._drain(commit))
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        return await future

    async def _drain(self, commit: BatchCommit[Item, Result]) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                outcomes: Sequence[Result | Exception] = await commit([item for item, _ in batch])
            except Exception as exc:  # the batch function answers per item; if it fails as a whole, all fail
                outcomes = [exc] * len(batch)
            except BaseException:  # cancelled (shutdown): the waiting callers must not hang
                for _, future in batch:
                    if not future.done():
                        future.cancel()
                raise
            self.batches += 1
            self.items += len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # the caller stopped waiting; what was committed stays committed
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
