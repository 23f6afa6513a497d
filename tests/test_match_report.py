"""Feedback from matchers (issue 19): a platform's match-report on its hash signals, through the HTTP API
and the client library; admitted only for copies the sender holds, shown on the timeline, counted in the
statistics, and a located copy starts the takedown's clocks for the reporter."""

from __future__ import annotations

from typing import Any

import asyncpg

from hub.api.app import create_app
from hub.client.http import HubClient
from tests.factories import jose, removal, reply, takedown

URL = "https://photos.example.com/p/match-marker-0001"


def pdq(n: int) -> str:
    """A fictitious PDQ, distinct per n (not of any real image)."""
    return f"{n:064x}".replace("0", "b")


async def test_a_match_report_is_admitted_shown_counted_and_a_located_copy_starts_the_clock(
    aiohttp_client: Any, settings: Any, directory: Any, db: asyncpg.Connection
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    other = await directory.add("nl-platform-test", "platform", "NL")
    client = await aiohttp_client(create_app(settings, background=False))
    content = [{"url": URL, "hashes": [{"alg": "pdq", "value": pdq(1)}, {"alg": "pdq", "value": pdq(2)}]}]
    request = takedown(hotline, platform, content=content, jurisdictions=["EU"])
    case_id = (await (await client.post("/v1/messages", **jose(hotline.sign(request)))).json())["case_id"]
    second = takedown(hotline, other, content=[{"url": URL, "hashes": [{"alg": "pdq", "value": pdq(3)}]}])
    other_case = (await (await client.post("/v1/messages", **jose(hotline.sign(second)))).json())["case_id"]
    await db.execute("UPDATE participants SET hash_signals = false")

    base = str(client.make_url("")).rstrip("/")
    hub = HubClient(client.session, base, platform.id, platform.key)
    feed = (await hub.signals())["signals"]
    ids = {s["value"]: s["signal_id"] for s in feed}
    assert {s["case_id"] for s in feed} == {case_id}
    foreign = (await HubClient(client.session, base, other.id, other.key).signals())["signals"][0]

    # A signal the sender holds no copy of, on this case or another: refused, nothing stored.
    for signal_id, case in ((foreign["signal_id"], case_id), (ids[pdq(1)], other_case)):
        refused = reply(
            "match-report",
            platform,
            hotline,
            case,
            None,
            {"outcomes": [{"signal_id": signal_id, "outcome": "not-found"}]},
        )
        response = await client.post("/v1/messages", **jose(platform.sign(refused)))
        assert response.status in (403, 422), await response.text()
    named_twice = {"outcomes": [{"signal_id": ids[pdq(1)], "outcome": "not-found"}] * 2}
    response = await client.post(
        "/v1/messages",
        **jose(platform.sign(reply("match-report", platform, hotline, case_id, None, named_twice))),
    )
    assert (await response.json())["type"] == "urn:referral-hub:problem:unknown-signal"
    before = await db.fetchval("SELECT count(*) FROM deadlines WHERE recipient_id = $1", platform.id)

    copy = {"url": "https://photos.example.com/p/reupload-0042"}
    receipt = await hub.report_matches(
        case_id,
        hotline.id,
        [
            {"signal_id": ids[pdq(1)], "outcome": "matched-removed", "location": copy},
            {"signal_id": ids[pdq(2)], "outcome": "matched-not-ncii"},
        ],
    )
    report_id = receipt["message_id"]
    assert receipt["case_id"] == case_id

    # The located copy starts the takedown's clocks (same kinds, rule and period) for the reporter.
    rows = await db.fetch(
        "SELECT message_id, kind, rule_id, due_at - started_at AS within FROM deadlines"
        " WHERE recipient_id = $1",
        platform.id,
    )
    by_message: dict[str, set[tuple[str, str, Any]]] = {}
    for row in rows:
        by_message.setdefault(str(row["message_id"]), set()).add((row["kind"], row["rule_id"], row["within"]))
    assert before > 0
    assert len(rows) == 2 * before
    assert by_message[report_id] == by_message[request["id"]]

    # Shown on the originator's case timeline, and counted in the figures.
    view = await (await client.get(f"/v1/cases/{case_id}", headers=hotline.auth())).json()
    shown = [e for e in view["timeline"] if e.get("event") == "signals.reported"]
    assert len(shown) == 1
    assert shown[0]["message_id"] == report_id
    assert URL not in str(shown)
    assert copy["url"] not in str(shown)
    stats = await (await client.get("/v1/stats", headers=hotline.auth())).json()
    assert stats["matches"] == {
        "by_outcome": {"matched-removed": 1, "matched-not-ncii": 1, "not-found": 0},
        "located_copies": 1,
    }

    # The platform answers the located copy with a status-update in reply to the report: its clocks met.
    answer = removal(platform, hotline, case_id, report_id)
    assert (await client.post("/v1/messages", **jose(platform.sign(answer)))).status == 202
    states = await db.fetch(
        "SELECT state FROM deadlines WHERE message_id = $1 AND kind IN ('acknowledge', 'act')", report_id
    )
    assert states
    assert {r["state"] for r in states} == {"met"}


async def test_a_report_without_a_located_copy_starts_no_clock(
    aiohttp_client: Any, settings: Any, directory: Any, db: asyncpg.Connection
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    client = await aiohttp_client(create_app(settings, background=False))
    content = [{"url": URL, "hashes": [{"alg": "pdq", "value": pdq(4)}]}]
    request = takedown(hotline, platform, content=content, jurisdictions=["EU"])
    case_id = (await (await client.post("/v1/messages", **jose(hotline.sign(request)))).json())["case_id"]
    base = str(client.make_url("")).rstrip("/")
    hub = HubClient(client.session, base, platform.id, platform.key)
    signal_id = (await hub.signals())["signals"][0]["signal_id"]
    receipt = await hub.report_matches(
        case_id, hotline.id, [{"signal_id": signal_id, "outcome": "not-found"}]
    )
    count = await db.fetchval("SELECT count(*) FROM deadlines WHERE message_id = $1", receipt["message_id"])
    assert count == 0
