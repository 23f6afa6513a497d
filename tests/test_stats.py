"""Transparency figures on a seeded dataset with known answers, built through the API under a fake clock
so that every time is exact; who sees which figures; the CSV; refusals; `hub stats`.

The dataset: a US hotline refers four takedown requests at T0 to two platforms, platform-a (IE, EU
law) and platform-b (US, TAKE IT DOWN Act 48 h clock):

    R1 -> a  acknowledged at 2 h, removed at 10 h
    R2 -> b  acknowledged at 2 h, removed at 30 h
    R3 -> a  acknowledged at 6 h, declined at 30 h
    R4 -> b  (a digital forgery) never answered: at 37 h its 24 h acknowledgement clock is breached and
             its act clock reminded (12 h before due); at 49 h its 48 h act clock is breached.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from hub.api.app import create_app
from hub.api.keys import INTAKE, POOL
from hub.clocks.worker import ClockWorker
from hub.core.clock import utc_now
from hub.services.issuer import Issuer
from hub.settings import Settings
from hub.stats.figures import csv_rows, parse_period
from hub.store.stats import figures_for
from tests.factories import (
    Api,
    Directory,
    FakeClock,
    Member,
    acknowledgement,
    declined,
    removal,
    run_hub,
    takedown,
)

YEAR = utc_now().year + 1  # a fixed day ahead of real time: keys registered now are valid then
T0 = datetime(YEAR, 3, 2, 9, 0, tzinfo=UTC)
PERIOD = f"from={YEAR}-03-01&to={YEAR}-03-08"


@dataclass
class World:
    api: Api
    clock: FakeClock
    clocks: ClockWorker
    hotline: Member
    a: Member
    b: Member
    regulator: Member
    stranger: Member
    requests: list[dict[str, Any]]

    async def stats(self, member: Member, query: str = PERIOD) -> dict[str, Any]:
        status, body = await self.api.get(member, f"/v1/stats?{query}")
        assert status == 200, body
        return dict(body)


async def build_world(settings: Settings, directory: Directory, aiohttp_client: Any) -> World:
    hotline = await directory.add("us-hotline-test", "hotline", "US")
    a = await directory.add("platform-a", "platform", "IE")
    b = await directory.add("platform-b", "platform", "US")
    regulator = await directory.add("us-regulator-test", "regulator", "US")
    stranger = await directory.add("gb-hotline-test", "hotline", "GB")
    clock = FakeClock(T0)
    app = create_app(settings, clock=clock, background=False)
    api = Api(await aiohttp_client(app), clock)
    clocks = ClockWorker(app[POOL], Issuer(app[INTAKE]), clock)
    return World(api, clock, clocks, hotline, a, b, regulator, stranger, [])


async def seed(world: World) -> None:
    h, a, b, api, clock = world.hotline, world.a, world.b, world.api, world.clock
    r1 = takedown(h, a, jurisdictions=["EU"])
    r2 = takedown(h, b, jurisdictions=["US"])
    r3 = takedown(h, a, jurisdictions=["EU"])
    r4 = takedown(h, b, jurisdictions=["US"], category="digital-forgery")
    cases = [(await api.accepted(h, r))["case_id"] for r in (r1, r2, r3, r4)]
    world.requests = [r1, r2, r3, r4]
    c1, c2, c3, _ = cases

    clock.advance(hours=2)
    await api.accepted(a, acknowledgement(a, h, c1, r1["id"]))
    await api.accepted(b, acknowledgement(b, h, c2, r2["id"]))
    clock.advance(hours=4)  # 6 h
    await api.accepted(a, acknowledgement(a, h, c3, r3["id"]))
    clock.advance(hours=4)  # 10 h
    await api.accepted(a, removal(a, h, c1, r1["id"]))
    clock.advance(hours=20)  # 30 h
    await api.accepted(a, declined(a, h, c3, r3["id"]))
    await api.accepted(b, removal(b, h, c2, r2["id"]))
    clock.advance(hours=7)  # 37 h
    assert await world.clocks.run_once() == 2  # R4: acknowledgement breached, act reminded
    clock.advance(hours=12)  # 49 h
    assert await world.clocks.run_once() == 1  # R4: act breached


@pytest_asyncio.fixture
async def world(
    settings: Settings, db: asyncpg.Connection, directory: Directory, aiohttp_client: Any
) -> World:
    built = await build_world(settings, directory, aiohttp_client)
    await seed(built)
    return built


def secrets_of(requests: list[dict[str, Any]]) -> list[str]:
    """What a statistic must never show: URLs, statements, references, sealed contacts."""
    found = ["photos.example.com", "https://", "Fictitious"]
    for request in requests:
        body = request["body"]
        found += [
            body["content"][0]["url"],
            body["non_consent_statement"]["text"],
            body["illegality"]["explanation"],
            body["accuracy_statement"]["text"],
            body["authorisation"]["reference"],
            body["contact"]["sealed"][0]["ciphertext"],
        ]
    return found


ALL_CASES = {
    "messages": {
        "total": 13,
        "by_type": {"acknowledgement": 3, "escalation": 3, "status-update": 3, "takedown-request": 4},
    },
    "referrals": {
        "total": 4,
        "recipient_referrals": 4,
        "by_recipient": {"platform-a": 2, "platform-b": 2},
        "by_country": {"IE": 2, "US": 2},
        "by_category": {"digital-forgery": 1, "intimate-image": 3},
        "by_outcome": {"actioned": 2, "declined": 1, "withdrawn": 0, "open": 1},
        "outcomes_by_recipient": {
            "platform-a": {"actioned": 1, "declined": 1, "withdrawn": 0, "open": 0},
            "platform-b": {"actioned": 1, "declined": 0, "withdrawn": 0, "open": 1},
        },
    },
    "response_times": {
        "acknowledgement": {
            "count": 3,
            "median_hours": 2.0,
            "p90_hours": 5.2,
            "by_recipient": {
                "platform-a": {"count": 2, "median_hours": 4.0, "p90_hours": 5.6},
                "platform-b": {"count": 1, "median_hours": 2.0, "p90_hours": 2.0},
            },
        },
        "action": {
            "count": 3,
            "median_hours": 30.0,
            "p90_hours": 30.0,
            "by_recipient": {
                "platform-a": {"count": 2, "median_hours": 20.0, "p90_hours": 28.0},
                "platform-b": {"count": 1, "median_hours": 30.0, "p90_hours": 30.0},
            },
            "distribution": {"under_6h": 0, "6h_to_24h": 1, "24h_to_48h": 2, "2d_to_7d": 0, "over_7d": 0},
        },
    },
    "deadlines": {
        "act_within_deadline": {
            "met": 3,
            "breached": 1,
            "share": 0.75,
            "by_jurisdiction": {
                "EU": {"met": 2, "breached": 0, "share": 1.0},
                "US": {"met": 1, "breached": 1, "share": 0.5},
            },
        }
    },
    "escalations": {
        "breaches": 2,
        "reminders": 1,
        "by_jurisdiction": {"US": {"breaches": 2, "reminders": 1}},
    },
    # 4 referrals, 3 acknowledgements and 3 decisions to their one recipient each; the reminder to b;
    # the acknowledgement breach (hub practice) to the hotline, the statutory act breach to the hotline
    # and the US regulator.
    "matches": {
        "by_outcome": {"matched-removed": 0, "matched-not-ncii": 0, "not-found": 0},
        "located_copies": 0,
    },
    "deliveries": {"total": 14, "by_channel": {"pull": 14}, "dead_letters": 0},
}


async def test_figures_over_every_case_have_the_known_answers(world: World, db: asyncpg.Connection) -> None:
    period = parse_period(f"{YEAR}-03-01", f"{YEAR}-03-08", T0)
    figures = await figures_for(db, None, period)
    assert figures["period"] == {"from": f"{YEAR}-03-01", "to": f"{YEAR}-03-08", "scope": "all-cases"}
    assert {k: v for k, v in figures.items() if k != "period"} == ALL_CASES

    # The regulator sees every case; so does the hotline, which opened them all.
    for member in (world.regulator, world.hotline):
        seen = await world.stats(member)
        assert {k: v for k, v in seen.items() if k != "period"} == ALL_CASES
    assert (await world.stats(world.regulator))["period"]["scope"] == "all-cases"
    assert (await world.stats(world.hotline))["period"]["scope"] == "own-cases"

    # A dead letter is counted as such.
    await db.execute(
        "UPDATE deliveries SET state = 'dead', dead_at = now(), dead_reason = 'test' WHERE seq = 1"
    )
    assert (await figures_for(db, None, period))["deliveries"]["dead_letters"] == 1


async def test_the_default_period_is_the_hub_clock_s_calendar_year(world: World) -> None:
    figures = await world.stats(world.regulator, "")
    assert figures["period"]["from"] == f"{YEAR}-01-01"
    assert figures["period"]["to"] == f"{YEAR + 1}-01-01"
    assert figures["referrals"]["recipient_referrals"] == 4
    assert (await world.stats(world.regulator, f"from={YEAR}-03-03"))["referrals"]["total"] == 0
    before = await world.stats(world.regulator, f"from={YEAR - 1}-01-01&to={YEAR}-03-02")
    assert before["messages"]["total"] == 0
    assert before["response_times"]["action"]["median_hours"] is None


async def test_a_platform_sees_only_its_own_part(world: World) -> None:
    a = await world.stats(world.a)
    assert a["period"]["scope"] == "own-cases"
    assert a["messages"]["by_type"] == {"acknowledgement": 2, "status-update": 2, "takedown-request": 2}
    assert a["referrals"]["by_recipient"] == {"platform-a": 2}
    assert a["referrals"]["by_country"] == {"IE": 2}
    assert a["referrals"]["by_category"] == {"intimate-image": 2}
    assert a["referrals"]["by_outcome"] == {"actioned": 1, "declined": 1, "withdrawn": 0, "open": 0}
    assert list(a["response_times"]["action"]["by_recipient"]) == ["platform-a"]
    assert a["response_times"]["action"]["median_hours"] == 20.0
    assert a["deadlines"]["act_within_deadline"]["by_jurisdiction"] == {
        "EU": {"met": 2, "breached": 0, "share": 1.0}
    }
    assert a["escalations"] == {"breaches": 0, "reminders": 0, "by_jurisdiction": {}}
    assert a["deliveries"]["total"] == 6
    assert "platform-b" not in json.dumps(a)

    b = await world.stats(world.b)
    assert b["messages"]["by_type"] == {
        "acknowledgement": 1,
        "escalation": 1,
        "status-update": 1,
        "takedown-request": 2,
    }
    assert b["referrals"]["by_category"] == {"digital-forgery": 1, "intimate-image": 1}
    assert b["deadlines"]["act_within_deadline"]["share"] == 0.5
    assert b["escalations"]["by_jurisdiction"] == {"US": {"breaches": 2, "reminders": 1}}
    assert b["deliveries"]["total"] == 5
    assert "platform-a" not in json.dumps(b)

    nothing = await world.stats(world.stranger)
    assert nothing["messages"]["total"] == 0
    assert nothing["referrals"]["by_recipient"] == {}
    assert nothing["response_times"]["acknowledgement"] == {
        "count": 0,
        "median_hours": None,
        "p90_hours": None,
        "by_recipient": {},
    }


async def test_csv_has_one_row_per_figure_and_no_personal_data(world: World) -> None:
    response = await world.api.client.get(
        f"/v1/stats?{PERIOD}&format=csv", headers=world.regulator.auth(now=world.clock.ts())
    )
    assert response.status == 200
    assert response.content_type == "text/csv"
    text = await response.text()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["section", "key", "value"]
    assert all(len(row) == 3 for row in rows)
    figures = await world.stats(world.regulator)
    assert [tuple(row) for row in rows[1:]] == csv_rows(figures)
    table = {(section, key): value for section, key, value in rows[1:]}
    assert table["messages", "total"] == "13"
    assert table["messages.by_type", "takedown-request"] == "4"
    assert table["response_times.acknowledgement", "p90_hours"] == "5.2"
    assert table["response_times.action", "by_recipient/platform-a/p90_hours"] == "28.0"
    assert table["deadlines.act_within_deadline", "by_jurisdiction/US/share"] == "0.5"
    assert table["period", "scope"] == "all-cases"
    for secret in secrets_of(world.requests):
        assert secret not in text
        assert secret not in json.dumps(figures)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("from=2027-13-01", "from"),
        ("from=20270101", "from"),
        ("from=2027-1-1", "from"),
        ("to=yesterday", "to"),
        ("from=2027-03-08&to=2027-03-01", "from"),
        ("from=2027-03-01&to=2027-03-01", "from"),
        ("format=xml", "format"),
    ],
)
async def test_invalid_parameters_are_problem_details(world: World, query: str, parameter: str) -> None:
    for path in ("/v1/stats", "/v1/stats/report.html"):
        if parameter == "format" and path.endswith(".html"):
            continue
        status, problem = await world.api.get(world.a, f"{path}?{query}")
        assert status == 400, problem
        assert problem["type"] == "urn:referral-hub:problem:invalid-parameter"
        assert problem["parameter"] == parameter


async def test_the_figures_need_a_token(world: World) -> None:
    for path in ("/v1/stats", "/v1/stats/report.html", "/v1/stats?format=xml"):
        response = await world.api.client.get(path)
        assert response.status == 401
        assert (await response.json())["type"] == "urn:referral-hub:problem:missing-token"


def hub_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_DATA_DIR=str(tmp_path / "hub-data"),
        HUB_DATABASE_URL=database_url,
        HUB_STORAGE_KEY_FILE=str(tmp_path / "hub-storage-key"),  # the storage key of the hub under test
    )
    return env


async def test_hub_stats_prints_the_operator_s_figures(
    world: World, database_url: str, tmp_path: Path
) -> None:
    env = hub_env(database_url, tmp_path)
    period = ("--from", f"{YEAR}-03-01", "--to", f"{YEAR}-03-08")
    code, out, err = await run_hub("stats", *period, env=env)
    assert code == 0, err
    figures = json.loads(out)
    assert {k: v for k, v in figures.items() if k != "period"} == ALL_CASES

    code, out, err = await run_hub("stats", *period, "--format", "csv", env=env)
    assert code == 0, err
    assert out.splitlines()[0] == "section,key,value"
    assert "response_times.action,by_recipient/platform-a/median_hours,20.0" in out.splitlines()

    report = tmp_path / "report.html"
    code, out, err = await run_hub("stats", *period, "--format", "html", "--out", str(report), env=env)
    assert code == 0, err
    assert out == ""
    assert "<svg" in report.read_text("utf-8")
    for secret in secrets_of(world.requests):
        assert secret not in report.read_text("utf-8")

    code, out, err = await run_hub("stats", "--from", "01/03/2027", env=env)
    assert code == 2
    assert "from" in err
    assert "Traceback" not in err
