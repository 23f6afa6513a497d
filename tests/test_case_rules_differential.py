"""The Python rules and the SQL that computes them over many rows, fed the same cases (issue 14.3).

For each rule, a table of cases is written into a real database (every combination the rule
distinguishes, its boundaries included), the rule is computed both ways, and the answers compared row by
row: `hub/core/overdue.py` `is_overdue` against the case list (`list_cases`) and the metrics
(`metrics_deadlines`).
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from hub.core.overdue import is_overdue
from hub.services.case_list import CaseFilter, list_cases
from hub.store.metrics import read_gauges
from tests.case_table import Clock, Party, TableCase, moments, write_case
from tests.factories import Directory

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CLOCK_STATES = ("open", "met", "breached", "cancelled")


def every_clock(recipient: str) -> list[Clock]:
    """Every clock state x due time around now x answered late or not."""
    return [
        Clock(recipient, state, due, late)
        for state, due, late in itertools.product(
            CLOCK_STATES, moments(NOW), (None, NOW - timedelta(minutes=5))
        )
    ]


async def listed(db: asyncpg.Connection, viewer: str | None, **filters: Any) -> dict[str, dict[str, Any]]:
    page = await list_cases(
        db, viewer=viewer, filters=CaseFilter(**filters), cursor=None, limit=10_000, now=NOW
    )
    assert page["next_cursor"] is None
    return {c["case_id"]: c for c in page["cases"]}


async def test_overdue_one_clock_per_case_list_and_metrics_agree_with_the_rule(
    db: asyncpg.Connection, directory: Directory
) -> None:
    hotline = await directory.add("de-hotline", "hotline", "DE")
    platform = await directory.add("ie-platform", "platform", "IE")
    cases = []
    for n, clock in enumerate(every_clock(platform.id)):
        case = TableCase(
            uuid.uuid4(),
            NOW - timedelta(days=2, minutes=n),
            [Party(hotline.id, "originator"), Party(platform.id, "recipient", "acknowledged")],
            [clock],
        )
        await write_case(db, case, hotline)
        cases.append(case)

    expected = {
        str(c.id): is_overdue(c.clocks[0].state, c.clocks[0].due_at, c.clocks[0].answered_late_at, NOW)
        for c in cases
    }
    assert set(expected.values()) == {True, False}
    for viewer in (None, hotline.id, platform.id):
        shown = await listed(db, viewer)
        assert {k: v["overdue"] for k, v in shown.items()} == expected, viewer
        only = await listed(db, viewer, overdue=True)
        assert set(only) == {k for k, v in expected.items() if v}, viewer
    gauges = await read_gauges(db, NOW)
    assert gauges.overdue_deadlines == sum(expected.values())
    assert gauges.open_deadlines == sum(c.clocks[0].state == "open" for c in cases)
    assert gauges.breached_deadlines == sum(c.clocks[0].state == "breached" for c in cases)
