"""`GET /v1/cases`: who sees which cases, the filters (state, overdue, country, recipient), keyset paging
that stays stable while new cases arrive, refusals of bad parameters; and `hub cases list --overdue`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
import pytest_asyncio

from hub.api.app import create_app
from hub.api.keys import INTAKE, POOL
from hub.clocks.worker import ClockWorker
from hub.core.clock import end_of_today
from hub.services import case_list
from hub.services.issuer import Issuer
from hub.settings import Settings
from tests.factories import (
    Api,
    Directory,
    FakeClock,
    Member,
    Referral,
    acknowledgement,
    case_closure,
    refer,
    removal,
    run_hub,
    takedown_parts,
)


@dataclass
class World:
    api: Api
    clock: FakeClock
    clocks: ClockWorker
    hotline: Member
    other_hotline: Member
    a: Member  # platforms in IE, US and GB
    b: Member
    c: Member
    liaison: Member

    async def refer(self, *recipients: Member, sender: Member | None = None) -> tuple[str, Referral]:
        """A takedown request to `recipients`, one signed part per platform under one case."""
        sender = sender or self.hotline
        parts = takedown_parts(sender, *recipients, jurisdictions=["US"])
        referral = await refer(lambda part: self.api.accepted(sender, part), parts)
        return referral.case_id, referral

    async def listing(self, member: Member, query: str = "") -> dict[str, Any]:
        status, body = await self.api.get(member, f"/v1/cases{query}")
        assert status == 200, body
        return dict(body)

    async def ids(self, member: Member, query: str = "") -> list[str]:
        return [c["case_id"] for c in (await self.listing(member, query))["cases"]]


@pytest_asyncio.fixture
async def world(
    settings: Settings, db: asyncpg.Connection, directory: Directory, aiohttp_client: Any
) -> World:
    hotline = await directory.add("us-hotline-test", "hotline", "US")
    other = await directory.add("gb-hotline-test", "hotline", "GB")
    a = await directory.add("platform-a", "platform", "IE")
    b = await directory.add("platform-b", "platform", "US")
    c = await directory.add("platform-c", "platform", "GB")
    liaison = await directory.add("nl-police-test", "law-enforcement", "NL")
    clock = FakeClock()
    app = create_app(settings, clock=clock, background=False)
    api = Api(await aiohttp_client(app), clock)
    return World(
        api, clock, ClockWorker(app[POOL], Issuer(app[INTAKE]), clock), hotline, other, a, b, c, liaison
    )


# -- who sees what ----------------------------------------------------------------------------------------
async def test_each_participant_lists_its_own_cases_and_a_platform_sees_only_itself(world: World) -> None:
    fan_out, _ = await world.refer(world.a, world.b, world.c)
    world.clock.advance(minutes=1)
    only_a, _ = await world.refer(world.a)
    world.clock.advance(minutes=1)
    elsewhere, _ = await world.refer(world.b, sender=world.other_hotline)

    listing = await world.listing(world.hotline)
    assert [c["case_id"] for c in listing["cases"]] == [only_a, fan_out]  # newest first
    assert listing["next_cursor"] is None
    by_id = {c["case_id"]: c for c in listing["cases"]}
    assert by_id[fan_out]["recipients"] == ["platform-a", "platform-b", "platform-c"]
    assert by_id[fan_out]["your_role"] == "originator"
    assert by_id[fan_out]["status"] == "open"
    assert by_id[fan_out]["case_type"] == "takedown-request"

    mine = {c["case_id"]: c for c in (await world.listing(world.a))["cases"]}
    assert list(mine) == [only_a, fan_out]
    assert mine[fan_out]["recipients"] == [world.a.id]
    assert mine[fan_out]["your_role"] == "recipient"
    assert await world.ids(world.b) == [elsewhere, fan_out]
    assert await world.ids(world.c) == [fan_out]
    assert await world.ids(world.other_hotline) == [elsewhere]

    # A liaison sees nothing until a case is shared with it, then that case only, in full.
    assert await world.ids(world.liaison) == []
    assert await world.api.share(world.hotline, fan_out, world.liaison) == 201
    [shared] = (await world.listing(world.liaison))["cases"]
    assert (shared["case_id"], shared["your_role"]) == (fan_out, "shared")
    assert shared["recipients"] == ["platform-a", "platform-b", "platform-c"]
    status, view = await world.api.get(world.liaison, f"/v1/cases/{fan_out}")
    assert status == 200, view
    assert view["timeline"]
    status, _ = await world.api.get(world.liaison, f"/v1/cases/{only_a}")
    assert status == 403


async def test_a_regulator_lists_the_cases_escalated_to_it(world: World, directory: Directory) -> None:
    regulator = await directory.add("us-regulator-test", "regulator", "US")
    late, _ = await world.refer(world.b)
    on_time, request = await world.refer(world.a)
    await world.api.accepted(world.a, removal(world.a, world.hotline, on_time, request.id_of(world.a)))
    assert await world.ids(regulator) == []

    world.clock.advance(hours=49)
    assert await world.clocks.run_once() == 2  # the late case's acknowledge and act clocks

    [row] = (await world.listing(regulator))["cases"]
    assert (row["case_id"], row["your_role"], row["overdue"]) == (late, "shared", True)
    assert await world.ids(regulator, "?overdue=true&country=US") == [late]


async def test_the_listing_needs_a_token(world: World) -> None:
    response = await world.api.client.get("/v1/cases")
    assert response.status == 401
    assert (await response.json())["type"] == "urn:referral-hub:problem:missing-token"


# -- filters ----------------------------------------------------------------------------------------------
async def test_filters_by_state_overdue_country_and_recipient(world: World) -> None:
    actioned, request = await world.refer(world.a)  # IE
    await world.api.accepted(world.a, removal(world.a, world.hotline, actioned, request.id_of(world.a)))
    world.clock.advance(minutes=1)
    pending, pending_request = await world.refer(world.b)  # US
    world.clock.advance(minutes=1)
    closed, _ = await world.refer(world.c)  # GB
    await world.api.accepted(world.hotline, case_closure(world.hotline, [world.c], closed))
    world.clock.advance(minutes=1)

    ids = world.ids
    assert await ids(world.hotline, "?state=open") == [pending]
    assert await ids(world.hotline, "?state=actioned") == [actioned]
    assert await ids(world.hotline, "?state=closed") == [closed]
    assert await ids(world.hotline, "?state=declined") == []
    assert await ids(world.hotline, "?country=IE") == [actioned]
    assert await ids(world.hotline, "?country=GB") == [closed]
    assert await ids(world.hotline, "?country=NL") == []
    assert await ids(world.hotline, "?recipient=platform-b") == [pending]
    assert await ids(world.hotline, "?recipient=platform-b&state=actioned") == []
    assert await ids(world.hotline, "?overdue=true") == []
    assert await ids(world.hotline, "?overdue=false") == [closed, pending, actioned]

    # Past the pending request's 48 hours: overdue before and after the clock worker breaches it.
    world.clock.advance(hours=49)
    assert await ids(world.hotline, "?overdue=true") == [pending]
    [row] = (await world.listing(world.hotline, "?overdue=true"))["cases"]
    assert row["overdue"] is True
    assert await world.clocks.run_once() == 2
    assert await ids(world.hotline, "?overdue=true") == [pending]
    assert await ids(world.hotline, "?overdue=true&state=open&country=US&recipient=platform-b") == [pending]
    assert await ids(world.hotline, "?overdue=false") == [closed, actioned]

    # Late answers are recorded, and the case is no longer overdue.
    await world.api.accepted(
        world.b, acknowledgement(world.b, world.hotline, pending, pending_request.id_of(world.b))
    )
    await world.api.accepted(
        world.b, removal(world.b, world.hotline, pending, pending_request.id_of(world.b))
    )
    assert await ids(world.hotline, "?overdue=true") == []
    assert await ids(world.hotline, "?state=actioned") == [pending, actioned]


async def test_a_platform_cannot_probe_the_other_recipients_of_its_fan_out(world: World) -> None:
    fan_out, _ = await world.refer(world.a, world.b, world.c)
    assert await world.ids(world.a) == [fan_out]
    assert await world.ids(world.a, "?recipient=platform-b") == []
    assert await world.ids(world.a, "?country=GB") == []


async def test_a_platform_s_listing_agrees_with_its_case_view(world: World) -> None:
    fan_out, request = await world.refer(world.a, world.c)
    await world.api.accepted(world.a, removal(world.a, world.hotline, fan_out, request.id_of(world.a)))
    world.clock.advance(hours=49)  # c's clocks are past due; a answered in time
    await world.clocks.run_once()

    view = await world.api.case(world.a, fan_out)
    [listed] = (await world.listing(world.a))["cases"]
    assert (view["status"], view["overdue"]) == ("actioned", False)
    assert (listed["status"], listed["overdue"]) == (view["status"], view["overdue"])
    assert await world.ids(world.a, "?overdue=true") == []


def next_due_on_page(view: dict[str, Any]) -> dict[str, Any] | None:
    """The earliest running clock the case page shows its viewer."""
    shown = [d for r in view["recipients"] for d in r["deadlines"]] + view["deadlines_owed_by_originator"]
    running = sorted((d["due_at"], d["deadline"]) for d in shown if d["state"] == "open")
    return {"deadline": running[0][1], "due_at": running[0][0]} if running else None


async def test_each_viewer_s_next_due_is_the_first_running_clock_its_case_page_shows(world: World) -> None:
    fan_out, request = await world.refer(world.a, world.c)
    await world.api.accepted(
        world.a, acknowledgement(world.a, world.hotline, fan_out, request.id_of(world.a))
    )
    await world.api.share(world.hotline, fan_out, world.liaison)
    for viewer in (world.hotline, world.a, world.c, world.liaison):
        view = await world.api.case(viewer, fan_out)
        [listed] = (await world.listing(viewer))["cases"]
        assert listed["next_due"] == next_due_on_page(view), viewer.id
    # a acknowledged: its next clock is a later one than c's, which the originator sees first
    [for_a] = (await world.listing(world.a))["cases"]
    [for_c] = (await world.listing(world.c))["cases"]
    [for_hotline] = (await world.listing(world.hotline))["cases"]
    assert for_a["next_due"]["deadline"] != "acknowledge"
    assert for_c["next_due"]["deadline"] == "acknowledge"
    assert for_hotline["next_due"] == for_c["next_due"]
    assert for_a["next_due"]["due_at"] > for_c["next_due"]["due_at"]

    await world.api.accepted(world.a, removal(world.a, world.hotline, fan_out, request.id_of(world.a)))
    await world.api.accepted(world.hotline, case_closure(world.hotline, [world.a, world.c], fan_out))
    for viewer in (world.hotline, world.a, world.c):
        [listed] = (await world.listing(viewer))["cases"]
        assert listed["next_due"] == next_due_on_page(await world.api.case(viewer, fan_out)), viewer.id


async def test_due_today_counts_the_cases_with_a_clock_the_viewer_sees_due_before_the_day_ends(
    world: World,
) -> None:
    fan_out, request = await world.refer(world.a, world.c)
    await world.api.accepted(
        world.a, acknowledgement(world.a, world.hotline, fan_out, request.id_of(world.a))
    )
    [acknowledge] = [
        d
        for d in (await world.api.case(world.c, fan_out))["recipients"][0]["deadlines"]
        if d["deadline"] == "acknowledge"
    ]
    due = datetime.fromisoformat(acknowledge["due_at"])
    viewers = (world.hotline, world.a, world.c, world.other_hotline)
    # due tomorrow (UTC): nothing is due today yet
    assert [(await world.listing(v))["due_today"] for v in viewers] == [0, 0, 0, 0]

    world.clock.now = datetime.combine(due.date(), time(), UTC) + timedelta(seconds=1)  # that day begins
    assert world.clock.now < due

    # c's acknowledgement is due today; a acknowledged and its next clock is later; another hotline sees none
    assert [(await world.listing(v))["due_today"] for v in viewers] == [1, 0, 1, 0]
    assert (await world.listing(world.hotline, "?state=closed"))["due_today"] == 1  # whatever the filters


async def test_due_today_counts_the_day_in_the_viewer_s_time_zone(world: World) -> None:
    """A deadline at 23:30 UTC is due today by UTC's day but tomorrow in Berlin, until Berlin's midnight."""

    async def acknowledge_due(member: Member, case_id: str) -> datetime:
        deadlines = (await world.api.case(member, case_id))["recipients"][0]["deadlines"]
        return datetime.fromisoformat(next(d["due_at"] for d in deadlines if d["deadline"] == "acknowledge"))

    measured, _ = await world.refer(world.b)  # how long a platform has to acknowledge
    allowed = await acknowledge_due(world.b, measured) - world.clock.now
    target = datetime(2027, 1, 20, 23, 30, tzinfo=UTC)  # 00:30 on 21 January in Berlin (CET)
    world.clock.now = target - allowed
    case_id, _ = await world.refer(world.c)
    assert await acknowledge_due(world.c, case_id) == target

    world.clock.now = datetime(2027, 1, 20, 22, 0, tzinfo=UTC)  # 23:00 in Berlin, 20 January
    assert (await world.listing(world.c))["due_today"] == 1  # by UTC's day (the default)
    assert (await world.listing(world.c, "?time_zone=Europe/Berlin"))["due_today"] == 0
    world.clock.now = datetime(2027, 1, 20, 23, 0, 1, tzinfo=UTC)  # just past midnight in Berlin
    assert (await world.listing(world.c, "?time_zone=Europe/Berlin"))["due_today"] == 1
    assert (await world.listing(world.c, "?time_zone=America/New_York"))["due_today"] == 1  # 18:00 there

    status, problem = await world.api.get(world.c, "/v1/cases?time_zone=Mars/Olympus")
    assert status == 400, problem
    assert problem["parameter"] == "time_zone"


@pytest.mark.parametrize(
    ("now", "ends"),
    [
        (datetime(2027, 1, 20, 22, 59, tzinfo=UTC), datetime(2027, 1, 20, 23, 0, tzinfo=UTC)),
        (datetime(2027, 1, 20, 23, 0, tzinfo=UTC), datetime(2027, 1, 21, 23, 0, tzinfo=UTC)),
        (datetime(2027, 3, 27, 23, 30, tzinfo=UTC), datetime(2027, 3, 28, 22, 0, tzinfo=UTC)),  # 23 h
        (datetime(2027, 10, 30, 22, 30, tzinfo=UTC), datetime(2027, 10, 31, 23, 0, tzinfo=UTC)),  # 25 h
    ],
)
def test_today_ends_at_the_zone_s_next_midnight(now: datetime, ends: datetime) -> None:
    assert end_of_today(now, ZoneInfo("Europe/Berlin")) == ends
    assert end_of_today(now, UTC) == datetime.combine(now.date() + timedelta(days=1), time(), UTC)


# -- paging -----------------------------------------------------------------------------------------------
async def test_keyset_paging_is_stable_while_new_cases_arrive(world: World) -> None:
    older = []
    for _ in range(5):
        older.append((await world.refer(world.a))[0])
        world.clock.advance(minutes=1)
    newest_first = list(reversed(older))

    first = await world.listing(world.hotline, "?limit=2")
    assert [c["case_id"] for c in first["cases"]] == newest_first[:2]
    assert first["next_cursor"]

    arrived = []  # newer than every listed case
    for _ in range(2):
        arrived.append((await world.refer(world.b))[0])
        world.clock.advance(minutes=1)

    second = await world.listing(world.hotline, f"?limit=2&cursor={first['next_cursor']}")
    assert [c["case_id"] for c in second["cases"]] == newest_first[2:4]
    third = await world.listing(world.hotline, f"?limit=2&cursor={second['next_cursor']}")
    assert [c["case_id"] for c in third["cases"]] == newest_first[4:]
    assert third["next_cursor"] is None
    assert await world.ids(world.hotline, "?limit=2") == list(reversed(arrived))
    # The cursor carries the filters' position only: filters still apply on the next page.
    assert await world.ids(world.hotline, f"?recipient=platform-b&cursor={first['next_cursor']}") == []


async def test_cases_opened_at_the_same_moment_are_each_listed_once(world: World) -> None:
    same = {(await world.refer(world.a))[0] for _ in range(4)}  # the fake clock does not move
    seen: list[str] = []
    cursor = ""
    for _ in range(6):
        page = await world.listing(world.hotline, f"?limit=1{cursor}")
        seen += [c["case_id"] for c in page["cases"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert sorted(seen) == sorted(same)


async def test_by_due_the_cases_with_a_clock_running_come_soonest_first_for_each_viewer(world: World) -> None:
    first, request = await world.refer(world.a)
    world.clock.advance(hours=1)
    second, _ = await world.refer(world.c)
    world.clock.advance(hours=1)
    fan_out, _ = await world.refer(world.a, world.b)
    await world.api.accepted(world.a, acknowledgement(world.a, world.hotline, first, request.id_of(world.a)))
    closed, _ = await world.refer(world.b)
    await world.api.accepted(world.hotline, case_closure(world.hotline, [world.b], closed))

    for viewer in (world.hotline, world.a, world.b, world.c):
        every = (await world.listing(viewer))["cases"]
        running = sorted((c["next_due"]["due_at"], c["case_id"]) for c in every if c["next_due"] is not None)
        by_due = (await world.listing(viewer, "?sort=due"))["cases"]
        assert [(c["next_due"]["due_at"], c["case_id"]) for c in by_due] == running, viewer.id
        paged, cursor = [], ""  # one case a page gives the same order
        for _ in range(len(running) + 1):
            page = await world.listing(viewer, f"?sort=due&limit=1{cursor}")
            paged += [c["case_id"] for c in page["cases"]]
            if page["next_cursor"] is None:
                break
            cursor = f"&cursor={page['next_cursor']}"
        assert paged == [case_id for _, case_id in running], viewer.id
    hotline_order = await world.ids(world.hotline, "?sort=due")
    assert closed not in hotline_order  # nothing running: nothing to do
    assert hotline_order.index(second) < hotline_order.index(fan_out)  # both wait for acknowledgement
    assert await world.ids(world.hotline, "?sort=due&recipient=platform-b") == [fan_out]  # filters apply

    newest = (await world.listing(world.hotline, "?limit=1"))["next_cursor"]
    soonest = (await world.listing(world.hotline, "?sort=due&limit=1"))["next_cursor"]
    for query in (f"?sort=due&cursor={newest}", f"?cursor={soonest}", "?sort=newest"):
        status, problem = await world.api.get(world.hotline, f"/v1/cases{query}")
        assert status == 400, query
        assert problem["parameter"] in ("cursor", "sort")


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("state=bogus", "state"),
        ("state=OPEN", "state"),
        ("overdue=yes", "overdue"),
        ("country=de", "country"),
        ("country=DEU", "country"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=Zm9vfGJhcg", "cursor"),  # base64url of "foo|bar"
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
    ],
)
async def test_invalid_filters_are_refused(world: World, query: str, parameter: str) -> None:
    status, problem = await world.api.get(world.hotline, f"/v1/cases?{query}")
    assert status == 400, problem
    assert problem["type"] == "urn:referral-hub:problem:invalid-parameter"
    assert problem["parameter"] == parameter


# -- the operator's command -------------------------------------------------------------------------------
async def test_hub_cases_list_overdue_prints_the_overdue_case_and_no_content(
    world: World, database_url: str, tmp_path: Path
) -> None:
    late, request = await world.refer(world.b)
    world.clock.advance(hours=49)
    assert await world.clocks.run_once() == 2  # breached: overdue whatever the operator's clock says
    on_time, _ = await world.refer(world.a)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(HUB_DATA_DIR=str(tmp_path / "hub-data"), HUB_DATABASE_URL=database_url)

    code, out, err = await run_hub("cases", "list", "--overdue", env=env)

    assert code == 0, err
    listing = json.loads(out)
    assert [c["case_id"] for c in listing["cases"]] == [late]
    [row] = listing["cases"]
    assert row["overdue"] is True
    assert row["recipients"] == [world.b.id]
    assert on_time not in out
    body = request.part(world.b)["body"]
    for secret in (
        body["content"][0]["url"],
        "photos.example.com",
        body["non_consent_statement"]["text"],
        body["authorisation"]["reference"],
        body["contact"]["sealed"][0]["ciphertext"],
    ):
        assert secret not in out
        assert secret not in err

    code, out, err = await run_hub("cases", "list", "--country", "de", env=env)
    assert code == 2
    assert "country" in err
    assert "Traceback" not in err


async def test_a_filtered_page_gathers_its_cases_across_chunks(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Candidates are read a chunk at a time; a filter that matches one case in three still fills its
    pages in order, each case once, with the cursor picking up where the page ended."""
    monkeypatch.setattr(case_list, "CHUNK", 2)
    to_b = []
    for i in range(9):
        case_id, _ = await world.refer(world.b if i % 3 == 0 else world.a)
        if i % 3 == 0:
            to_b.append(case_id)
        world.clock.advance(minutes=1)
    newest_first = list(reversed(to_b))
    first = await world.listing(world.hotline, "?recipient=platform-b&limit=2")
    assert [c["case_id"] for c in first["cases"]] == newest_first[:2]
    after = f"&cursor={first['next_cursor']}"
    second = await world.listing(world.hotline, f"?recipient=platform-b&limit=2{after}")
    assert [c["case_id"] for c in second["cases"]] == newest_first[2:]
    assert second["next_cursor"] is None
    assert await world.ids(world.a, "?limit=2") == (await world.ids(world.a, "?limit=200"))[:2]
