"""When to try a push delivery again, and when to give up: pure policy, no I/O.

Failures are counted per destination (a platform that is down is down for all its deliveries; a peer hub
that is down is down for all its participants, so a forwarding's failures count against the peer hub:
`hub_destination_of`, migration 0028), and the next attempt waits a capped, jittered exponential backoff:
`base * 2**(failures-1)`, capped, then spread by "equal jitter" (half fixed, half random) so that many hubs
retrying one platform do not arrive in lock-step while the wait never collapses to nothing. A `Retry-After`
the destination sent wins over our backoff, within the same cap and never below `base`.

A delivery is given up (dead-lettered) when it has used its attempts or its time: whichever comes
first. The sender is told; the operator can re-queue it.

A destination that refuses us (401/403: `Verdict.ATTENTION`) may only be restarting or rotating its
keys: it is retried with the same backoff, and parked for an operator only at its `park_after`-th
refusal since its last success (with the defaults, after about a minute of refusals, 2+4+8+16+32 s).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=10)
    max_attempts: int = 30
    max_age: timedelta = timedelta(hours=72)
    park_after: int = 6  # refusals (401/403) since the destination's last success that park it

    def __post_init__(self) -> None:
        if (
            self.base <= timedelta(0)
            or self.cap < self.base
            or self.max_attempts < 1
            or self.max_age <= timedelta(0)
            or self.park_after < 1
        ):
            raise ValueError(
                "retry policy needs base > 0, cap >= base, max_attempts >= 1, max_age > 0, park_after >= 1"
            )

    def backoff(self, failures: int, rng: random.Random | None = None) -> timedelta:
        """The wait after the `failures`-th consecutive failure of a destination (failures >= 1)."""
        if failures < 1:
            return timedelta(0)
        # In float seconds, capped before it becomes a timedelta: base * 2**n overflows timedelta early.
        exponent = min(failures - 1, 64)
        ceiling = timedelta(seconds=min(self.cap.total_seconds(), self.base.total_seconds() * 2.0**exponent))
        spread = float((rng or random).random())
        half: timedelta = ceiling / 2
        return half + half * spread

    def wait(
        self, failures: int, retry_after: timedelta | None, rng: random.Random | None = None
    ) -> timedelta:
        if retry_after is not None:
            # Honoured, but never below `base`: "Retry-After: 0" must not burn the budget in a burst.
            return min(max(retry_after, self.base), self.cap)
        return self.backoff(failures, rng)

    def waits(self, retry_after: timedelta | None, rng: random.Random | None = None) -> tuple[timedelta, ...]:
        """`wait` after the 1st, 2nd, ... consecutive failure, up to the count from which the backoff stops
        growing; the last holds for any higher count. For a statement that learns the count itself and
        picks its entry (`hub_finish_failures`, migration 0027): each entry is a draw of its own."""
        if retry_after is not None:
            return (self.wait(1, retry_after, rng),)
        waits = []
        for failures in range(1, 66):
            waits.append(self.backoff(failures, rng))
            if self.base.total_seconds() * 2.0 ** (failures - 1) >= self.cap.total_seconds():
                break
        return tuple(waits)

    def parking(self) -> tuple[bool, ...]:
        """`parks` for the 1st, 2nd, ... refusal; the last holds for any higher count (see `waits`)."""
        return tuple(self.parks(refusals) for refusals in range(1, self.park_after + 1))

    def parks(self, refusals: int) -> bool:
        """True when a destination's `refusals`-th refusal since its last success parks it (its
        deliveries wait for an operator); before that a refusal is retried like a server error."""
        return refusals >= self.park_after

    def exhausted(self, attempts: int, first_attempt_at: datetime, now: datetime) -> bool:
        """True when a delivery tried `attempts` times since `first_attempt_at` may not be tried again."""
        return attempts >= self.max_attempts or now - first_attempt_at >= self.max_age
