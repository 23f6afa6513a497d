"""What the result of one push attempt means, as an adapter reports it (pure).

- delivered: the recipient has it (HTTP 2xx).
- retry: worth trying again later (5xx, 408, 429, timeouts, connection errors); `retry_after` when the
  destination said how long to wait.
- attention: the destination refuses us (401, 403): retrying will not help until an operator looks, so
  the destination is parked and its deliveries wait.
- permanent: the destination will never take this message (any other 4xx): dead-lettered at once.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    ATTENTION = "attention"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class DeliveryOutcome:
    verdict: Verdict
    detail: str
    http_status: int | None = None
    retry_after: timedelta | None = None
    response_body: bytes | None = None
    response_type: str | None = None
    # A forwarding to a peer hub (adapter `hub`): the peer's verified receipt, the evidence of its hop.
    hop_receipt: str | None = None


_RETRYABLE_4XX = frozenset({408, 425, 429})


def classify_http(
    status: int, retry_after: str | None = None, now: datetime | None = None
) -> tuple[Verdict, timedelta | None]:
    if 200 <= status < 300:
        return Verdict.DELIVERED, None
    if status >= 500 or status in _RETRYABLE_4XX:
        return Verdict.RETRY, parse_retry_after(retry_after, now)
    if status in (401, 403):
        return Verdict.ATTENTION, None
    if 400 <= status < 500:
        return Verdict.PERMANENT, None
    # 1xx and 3xx: a webhook that redirects is misconfigured; keep trying while the operator is told.
    return Verdict.RETRY, None


def parse_retry_after(value: str | None, now: datetime | None = None) -> timedelta | None:
    """RFC 9110 Retry-After: delay-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        # Any number of digits is allowed; past 10**7 s it is just "very long" (and int() of thousands of
        # digits would be refused): the retry policy caps it anyway.
        return timedelta(seconds=min(int(value), 10**7)) if len(value) <= 9 else timedelta(seconds=10**7)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(moment - (now or datetime.now(UTC)), timedelta(0))
