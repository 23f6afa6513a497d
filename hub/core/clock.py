"""Time as the hub states it: UTC, RFC 3339, and a clock that is passed in (tests control it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def time_zone(name: str) -> tzinfo:
    """The IANA time zone of that name (e.g. Europe/Berlin); ValueError if there is none."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"no time zone named {name!r}: give an IANA name such as Europe/Berlin") from None


def end_of_today(now: datetime, zone: tzinfo) -> datetime:
    """When "today" ends for a person in `zone`: the next midnight of its clock, in UTC (what "due
    today" counts up to). A day is 23 or 25 hours long when the zone changes its offset."""
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(), zone).astimezone(UTC)


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
