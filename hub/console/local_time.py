"""Times in a form, in the viewer's zone (issue 17: "times to the minute in the viewer's zone").

A person types a time as their clock shows it ("2026-06-01 09:15", in the console's zone, `hub console
--time-zone`); the message carries it as RFC 3339 in UTC ("2026-06-01T07:15:00Z"), as the templates ask.
A time typed with its own offset or `Z` is taken as it is. What is neither is left as typed, so the
template's check says at the field that it is not a time. A time that a zone change makes twice (the
autumn hour) is the first of the two; one the spring change skips is read as the same wall time in the
zone's offset before the change.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

_LOCAL = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?")
_WITH_OFFSET = re.compile(r".*(?:[zZ]|[+-]\d{2}:\d{2})$")
SHOWN = "%Y-%m-%d %H:%M"  # how a form shows a time it fills in


def signed_time(text: str, zone: tzinfo) -> str:
    """The RFC 3339 (UTC) form of a time typed in `zone`; the text itself when it is not a local time."""
    typed = text.strip()
    if not typed or _WITH_OFFSET.match(typed):
        return typed
    found = _LOCAL.fullmatch(typed)
    if found is None:
        return typed
    year, month, day, hour, minute, second = (int(part or 0) for part in found.groups())
    try:
        local = datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:  # 30 February, 25 o'clock: the template's check says so at the field
        return typed
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def shown_time(moment: datetime, zone: tzinfo) -> str:
    """A time as the form shows it to be changed: to the minute, in `zone`, without its offset."""
    return moment.astimezone(zone).strftime(SHOWN)
