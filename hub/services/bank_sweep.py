"""The bank sweep: platforms' HMA banks follow the hash signals that no delivery carries to them.

The `hma` adapter banks what is delivered to a platform (a takedown request's hashes) and removes it when a
withdrawal is delivered. Two things reach a platform without a message, and the sweep, run by
housekeeping, does them with the adapter's own calls and ledger (`bank_contents`):

- **opted-in signals**: the hashes of requests not addressed to the platform, which it opted in to (the
  person consented, `hub.core.signals`): each content item's active hashes are banked once
  (`HmaAdapter.bank_opted_in`), the note naming no request;
- **removals**: banked contents whose signal copies on that platform are no longer active (withdrawn, or
  deleted at the purge, which also marks them due: `hub.store.purge`) are removed
  (`HmaAdapter.remove_case`, the one a withdrawal uses).

A platform whose HMA does not answer is tried again at the next round; one failing platform never stops
the others.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any

import asyncpg
import structlog

from adapters.base import AdapterContext, BankedContent, Destination
from adapters.hma import HmaAdapter
from hub.core.delivery_outcome import DeliveryOutcome, Verdict
from hub.store import bank_contents

log = structlog.get_logger("hub.bank_sweep")


def _destination(row: asyncpg.Record, participant: str) -> Destination:
    return Destination(row[participant], row["endpoint"], dict(row["adapter_config"] or {}))


async def sweep_banks(pool: asyncpg.Pool, context: AdapterContext, limit: int = 100) -> tuple[int, int]:
    """Bank opted-in signals, then remove what is no longer active; (items banked, cases cleared).
    `context` carries the hub's ledger (`hub.api.app.adapter_context`)."""
    adapter = HmaAdapter(context)
    banked = 0
    for row in await bank_contents.opted_in_to_bank(pool, limit):
        content = BankedContent(row["case_id"], row["message_id"], row["item"], "", "")
        hashes = list(zip(row["algs"], row["hash_values"], strict=True))
        bound = log.bind(recipient=row["platform_id"])
        if await _done(adapter.bank_opted_in(content, hashes, _destination(row, "platform_id")), bound):
            banked += 1
    cleared = 0
    for row in await bank_contents.to_remove(pool, limit):
        if row["adapter"] != "hma":  # a platform no longer on HMA: nothing to call
            continue
        bound = log.bind(case_id=str(row["case_id"]), recipient=row["recipient_id"])
        if await _done(adapter.remove_case(row["case_id"], _destination(row, "recipient_id")), bound):
            cleared += 1
    return banked, cleared


async def _done(call: Awaitable[DeliveryOutcome], bound: Any) -> bool:
    try:
        outcome = await call
    except Exception as exc:  # one platform's failure must not stop the sweep
        bound.warning("bank.sweep_failed", error=exc.__class__.__name__)
        return False
    if outcome.verdict is Verdict.DELIVERED:
        bound.info("bank.swept", detail=outcome.detail)
        return True
    bound.warning("bank.sweep_failed", verdict=str(outcome.verdict), detail=outcome.detail)
    return False


class BankSweeper:
    """Runs `sweep_banks` as a task of its own, one at a time: it calls platforms' HMA, so housekeeping
    starts it and goes on (the audit log's checkpoints never wait on a slow HMA)."""

    def __init__(self, pool: asyncpg.Pool, context: AdapterContext) -> None:
        self._pool, self._context = pool, context
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._sweep())

    async def _sweep(self) -> None:
        try:
            await sweep_banks(self._pool, self._context)
        except Exception as exc:  # the database or a platform's HMA: the next round tries again
            log.warning("bank.sweep_failed", error=exc.__class__.__name__)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
