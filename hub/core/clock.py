"""Time as the hub states it: UTC, RFC 3339, and a clock that is passed in (tests control it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 date-time, as the templates' `format: date-time` admits it: `t`/`z` in either case,
    and a leap second (`:60`), which Python cannot represent, read as the last microsecond before it."""
    normal = text.upper()
    leap = normal[17:19] == "60"
    if leap:
        normal = normal[:17] + "59" + normal[19:]
    moment = datetime.fromisoformat(normal)
    if moment.tzinfo is None:
        raise ValueError("an RFC 3339 date-time needs an offset or Z")
    if leap:
        moment = moment.replace(microsecond=999999)
    return moment


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
