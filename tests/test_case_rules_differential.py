"""The Python rules and the SQL that computes them over many rows, fed the same cases (issue 14.3).

For each rule, a table of cases is written into a real database (every combination the rule
distinguishes, its boundaries included), the rule is computed both ways, and the answers compared row by
row:

- `hub/core/overdue.py` `is_overdue` against the case list (`list_cases`) and the metrics
  (`metrics_deadlines`);
- the case page (`hub/services/cases.py`: `hub/core/case_state.py` `case_status`, `is_overdue`, and
  `hub/core/case_view.py`'s rule of which recipients a viewer sees) against the case list's SQL
  (`hub/store/queries/cases.sql` `list_cases`), for every kind of viewer (the operator, the originator,
  each recipient of a fan-out, liaisons shared the whole case, one part or two, and an unrelated one),
  and the list's filters (status, overdue, recipient, country) against what the page shows.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from hub.core.case_state import RecipientState, case_status
from hub.core.overdue import is_overdue
from hub.core.refusal import Refusal
from hub.services.case_list import STATUSES, CaseFilter, list_cases
from hub.services.cases import read_case, read_case_for_operator
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


# -- status, overdue and recipients, as each viewer sees them ---------------------------------------------
STATES = ("queued", "retrieved", "acknowledged", "actioned", "declined", "withdrawn")
PLATFORMS = (("ie-platform-a", "IE"), ("fr-platform-b", "FR"), ("us-platform-c", "US"))
# Whom every case was shared with, and what each sees (None: the whole case; else those platforms' parts).
SHARES = {"nl-police": None, "be-police": ["ie-platform-a"], "es-police": ["ie-platform-a", "fr-platform-b"]}


async def a_table_of_cases(db: asyncpg.Connection, directory: Directory) -> list[TableCase]:
    """Every combination of three recipients' states; clocks of every kind spread over them (and some
    owed by the originator); every seventh case closed; each shared with the three liaisons of SHARES."""
    hotline = await directory.add("de-hotline", "hotline", "DE")
    for pid, country in PLATFORMS:
        await directory.add(pid, "platform", country)
    for pid in SHARES:
        await directory.add(pid, "law-enforcement", "NL")
    await directory.add("gb-police", "law-enforcement", "GB")  # unrelated to every case
    variants = every_clock("")
    cases = []
    for n, states in enumerate(itertools.product(STATES, repeat=len(PLATFORMS))):
        parties = [Party(hotline.id, "originator")]
        parties += [Party(pid, "recipient", s) for (pid, _), s in zip(PLATFORMS, states, strict=True)]
        parties += [Party(pid, "shared", sees_parts=sees) for pid, sees in SHARES.items()]
        clocks = []
        for i, (pid, _) in enumerate(PLATFORMS):
            if (n + i) % 3:  # not every recipient owes a clock
                v = variants[(n * 3 + i) % len(variants)]
                clocks.append(Clock(pid, v.state, v.due_at, v.answered_late_at))
        if n % 5 == 0:
            v = variants[n % len(variants)]
            clocks.append(Clock(hotline.id, v.state, v.due_at, v.answered_late_at))
        closed = NOW - timedelta(hours=3) if n % 7 == 0 else None
        case = TableCase(uuid.uuid4(), NOW - timedelta(days=3, minutes=n), parties, clocks, closed)
        await write_case(db, case, hotline)
        cases.append(case)
    return cases


VIEWERS = (None, "de-hotline", *(pid for pid, _ in PLATFORMS), *SHARES, "gb-police")


async def pages_read_one_by_one(
    pool: asyncpg.Pool, viewer: str | None, cases: list[TableCase]
) -> dict[str, dict[str, Any]]:
    """What the case page (hub/services/cases.py, with hub/core's rules) shows the viewer of each case."""
    shown = {}
    for case in cases:
        if viewer is None:
            async with pool.acquire() as conn:
                page = await read_case_for_operator(conn, case.id, NOW)
        else:
            try:
                page = await read_case(pool, case.id, viewer, NOW)
            except Refusal as refusal:
                if refusal.code != "not-a-party":
                    raise
                continue
        shown[str(case.id)] = {
            "status": page["status"],
            "overdue": page["overdue"],
            "recipients": sorted(r["participant_id"] for r in page["recipients"]),
        }
    return shown


async def test_status_overdue_and_recipients_of_the_list_are_those_of_the_case_page(
    db: asyncpg.Connection, directory: Directory, database_url: str
) -> None:
    cases = await a_table_of_cases(db, directory)
    country = dict(PLATFORMS)
    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as pool:
        for viewer in VIEWERS:
            pages = await pages_read_one_by_one(pool, viewer, cases)
            rows = await listed(db, viewer)
            assert {
                k: {"status": v["status"], "overdue": v["overdue"], "recipients": v["recipients"]}
                for k, v in rows.items()
            } == pages, viewer
            # The filters match what the viewer sees, no more: another platform's part never matches.
            for status in STATUSES:
                found = set(await listed(db, viewer, status=status))
                assert found == {k for k, v in pages.items() if v["status"] == status}, (viewer, status)
            for overdue in (True, False):
                found = set(await listed(db, viewer, overdue=overdue))
                assert found == {k for k, v in pages.items() if v["overdue"] is overdue}, (viewer, overdue)
            for pid, code in PLATFORMS:
                found = set(await listed(db, viewer, recipient=pid))
                assert found == {k for k, v in pages.items() if pid in v["recipients"]}, (viewer, pid)
                found = set(await listed(db, viewer, country=code))
                assert found == {
                    k for k, v in pages.items() if code in {country[r] for r in v["recipients"]}
                }, (viewer, code)
            # The table tells the viewers apart: each sees exactly the recipients its rule names.
            sees = {pid for pid, _ in PLATFORMS}
            if viewer in SHARES and SHARES[viewer] is not None:
                sees = set(SHARES[viewer] or ())
            elif viewer in country:
                sees = {viewer}
            expected = {} if viewer == "gb-police" else {str(c.id): sorted(sees) for c in cases}
            assert {k: v["recipients"] for k, v in pages.items()} == expected, viewer
            assert {v["overdue"] for v in pages.values()} <= {True, False}
    assert statuses_of(cases) == set(STATUSES)


def statuses_of(cases: list[TableCase]) -> set[str]:
    """The statuses the table's whole cases take, from the Python rule alone: every one of them."""
    found = set()
    for case in cases:
        states = [RecipientState(p.state) for p in case.parties if p.role == "recipient" and p.state]
        found.add("closed" if case.closed_at else case_status(states))
    return found
