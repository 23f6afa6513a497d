"""Times typed in a form in the viewer's zone, signed in UTC (hub/console/local_time.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from hub.console.local_time import shown_time, signed_time

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("typed", "zone", "signed"),
    [
        ("2026-01-05 12:00", BERLIN, "2026-01-05T11:00:00Z"),  # CET
        ("2026-07-05 12:30", BERLIN, "2026-07-05T10:30:00Z"),  # CEST
        ("2026-07-05T12:30:15", BERLIN, "2026-07-05T10:30:15Z"),
        (" 2026-07-05 9:05 ", UTC, "2026-07-05T09:05:00Z"),
        ("2026-10-25 02:30", BERLIN, "2026-10-25T00:30:00Z"),  # the autumn hour twice: the first
        ("2026-01-05T11:00:00Z", BERLIN, "2026-01-05T11:00:00Z"),  # its own offset: as typed
        ("2026-01-05T12:00:00+01:00", UTC, "2026-01-05T12:00:00+01:00"),
        ("2026-02-30 10:00", BERLIN, "2026-02-30 10:00"),  # no such day: left for the check to say
        ("5 July, noon", BERLIN, "5 July, noon"),
        ("", BERLIN, ""),
    ],
)
def test_a_typed_time_is_signed_in_utc(typed: str, zone: ZoneInfo, signed: str) -> None:
    assert signed_time(typed, zone) == signed  # type: ignore[arg-type]


def test_a_filled_in_time_is_shown_in_the_zone_to_the_minute() -> None:
    moment = datetime(2026, 7, 5, 10, 30, 59, tzinfo=UTC)
    assert shown_time(moment, BERLIN) == "2026-07-05 12:30"
    assert signed_time(shown_time(moment, BERLIN), BERLIN) == "2026-07-05T10:30:00Z"
