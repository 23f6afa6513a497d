"""A batch of finished pushes recorded and the worker's free slots claimed, in one statement (issue 21).

Under load a delivery round followed each batch of finished pushes: the finish freed slots and woke the
worker, whose round claimed them. Now the batch's statement does both (`hub_finish_and_claim`,
migration 0041): its successful pushes as `deliveries.finish_pushes` records them, its failed ones as
`delivery_failures.finish_failures` does, then a round's claim as `deliveries.claim_due` makes it
(parked destinations' holds shown; each due destination's free slots under the in-flight cap leased,
across processes; up to the worker's free capacity). The statement is its own transaction.

If it fails, nothing of it is stored, the claim included, and each push is then recorded alone by the
statement that records it without a claim (`finish_pushes` or `finish_failures` of one), so that only the
one at fault fails; the caller learns that no claim was made (`claimed` None) and runs a round of its own.
So a claim is never lost (the deliveries stay due) nor made twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from hub.core.hub_identity import TIMELINE_ACTOR as HUB_ACTOR
from hub.store import deliveries, delivery_failures
from hub.store.case_keys import Keyring
from hub.store.deferred_writes import encoded
from hub.store.deliveries import AttemptRecord, ClaimedDelivery
from hub.store.delivery_failures import Failure, Recorded
from hub.store.queries import query

# A finished push: a success with its signed evidence, or a failure to record.
Finished = tuple[AttemptRecord, str] | Failure
# What recording it did: a success True (False: the lease was lost), a failure its Recorded (None: lost).
Outcome = bool | Recorded | None


@dataclass(frozen=True)
class Claim:
    """The claim that follows the finish: as `deliveries.claim_due`'s arguments; `capacity` 0 claims none."""

    now: datetime
    worker: str
    lease: timedelta
    max_in_flight: int
    token: UUID
    capacity: int
    destinations: int = 100


@dataclass(frozen=True)
class Done:
    """A batch's outcomes, one per push in its order, and the deliveries claimed (None: no claim made)."""

    outcomes: list[Outcome | Exception]
    claimed: list[ClaimedDelivery] | None


async def finish_and_claim(
    pool: asyncpg.Pool, batch: Sequence[Finished], claim: Claim, keyring: Keyring | None = None
) -> tuple[list[Outcome], list[ClaimedDelivery]]:
    """The batch recorded and `claim` made, in one statement: each push's outcome, and what was claimed."""
    pushes = [item for item in batch if not isinstance(item, Failure)]
    failures = [item for item in batch if isinstance(item, Failure)]
    async with pool.acquire() as conn:
        pushed = [await deliveries.push_item(conn, record, evidence) for record, evidence in pushes]
        failed = [await delivery_failures.failure_item(conn, failure) for failure in failures]
        rows = await conn.fetch(
            query("finish_and_claim"),
            encoded(pushed),
            encoded(failed),
            claim.now,
            claim.token,
            claim.worker,
            claim.lease,
            claim.max_in_flight,
            max(0, claim.capacity),
            claim.destinations,
            HUB_ACTOR,
        )
    recorded = {row["seq"]: row["recorded"] for row in rows if row["finished"] == "pushed"}
    counted = {row["seq"]: row for row in rows if row["finished"] == "failed"}
    claimed = [ClaimedDelivery.from_row(row, keyring) for row in rows if row["finished"] == "claimed"]
    outcomes: list[Outcome] = []
    for item in batch:
        if isinstance(item, Failure):
            row = counted[item.record.delivery.seq]
            outcomes.append(
                Recorded(row["failures_now"], row["refusals_now"], row["parked"], row["wait"])
                if row["recorded"]
                else None
            )
        else:
            outcomes.append(bool(recorded[item[0].delivery.seq]))
    return outcomes, claimed


async def finish_and_claim_batch(
    pool: asyncpg.Pool, batch: Sequence[Finished], claim: Claim, keyring: Keyring | None = None
) -> Done:
    """`finish_and_claim`; if its statement fails, each push recorded alone and nothing claimed."""
    try:
        outcomes, claimed = await finish_and_claim(pool, batch, claim, keyring)
        return Done(list(outcomes), claimed)
    except Exception:
        alone: list[Outcome | Exception] = []
        for item in batch:
            try:
                alone.append(await _record_alone(pool, item))
            except Exception as exc:
                alone.append(exc)
        return Done(alone, None)


async def _record_alone(pool: asyncpg.Pool, item: Finished) -> Outcome:
    if isinstance(item, Failure):
        [recorded] = await delivery_failures.finish_failures(pool, [item])
        return recorded
    return await deliveries.finish_delivered(pool, *item)
