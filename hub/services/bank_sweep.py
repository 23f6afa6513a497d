"""The bank sweep: what a purged case banked in platforms' HMA is removed there too.

The purge (`hub.store.purge`) turns every signal copy of the case `deleted` and marks the bank contents
the `hma` adapter recorded for it (`bank_contents`) as due for removal; no message goes to the platform,
so no delivery can do it. The sweep, run by housekeeping after the purge, removes them with the adapter's
own removal (`adapters.hma.HmaAdapter.remove_case`, the one a withdrawal uses), per case and platform. A
platform whose HMA does not answer keeps its contents due, and the next round tries again; one failing
platform never stops the others.
"""

from __future__ import annotations

import asyncpg
import structlog

from adapters.base import AdapterContext, Destination
from adapters.hma import HmaAdapter
from hub.core.delivery_outcome import Verdict
from hub.store import bank_contents

log = structlog.get_logger("hub.bank_sweep")


async def sweep_purged_banks(pool: asyncpg.Pool, context: AdapterContext, limit: int = 100) -> int:
    """Remove what purged cases banked; how many (case, platform) pairs were cleared. `context` carries
    the hub's ledger (`hub.api.app.adapter_context`)."""
    adapter = HmaAdapter(context)
    cleared = 0
    for row in await bank_contents.due_removals(pool, limit):
        if row["adapter"] != "hma":
            continue
        destination = Destination(row["recipient_id"], row["endpoint"], dict(row["adapter_config"] or {}))
        bound = log.bind(case_id=str(row["case_id"]), recipient=row["recipient_id"])
        try:
            outcome = await adapter.remove_case(row["case_id"], destination)
        except Exception as exc:  # one platform's failure must not stop the sweep
            bound.warning("bank.purge_removal_failed", error=exc.__class__.__name__)
            continue
        if outcome.verdict is Verdict.DELIVERED:
            cleared += 1
            bound.info("bank.purge_removed", detail=outcome.detail)
        else:
            bound.warning("bank.purge_removal_failed", verdict=str(outcome.verdict), detail=outcome.detail)
    return cleared
