"""Leases on push deliveries (pure): which deliveries a worker may claim now.

A worker claims a delivery by leasing it for a while; it must record the outcome before the lease
expires. A worker that dies (SIGKILL, a lost machine) never records one, so when its lease expires the
delivery becomes claimable again by any worker: this is how work is recovered without a coordinator.
The price is that the recipient may receive a message twice; it drops the repeat by its
`Idempotency-Key`, the message id. The claim query in `store/queries/delivery.sql` implements exactly
this predicate; a test checks that the two agree.
"""

from __future__ import annotations

from datetime import datetime


def claimable(state: str, due_at: datetime | None, lease_expires_at: datetime | None, now: datetime) -> bool:
    if state == "pending":
        return due_at is not None and due_at <= now
    if state == "in_flight":
        return lease_expires_at is not None and lease_expires_at <= now
    return False
