"""Legal clocks through the API against a controllable clock, one jurisdiction at a time.

For each law: the due time is the time the recipient was told plus the law's period; reminders reach
the recipient before it; at expiry the hub signs an `escalation` (a negative evidence) to the sender and,
for the law's own periods, to the country's regulator, who may then read the case; a late answer is
recorded and the breach stays. Clocks of a push recipient start when the push succeeds. Two hub
processes racing over the same due clocks fire each reminder and breach once; a restart keeps them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
from aiohttp import web
from jwcrypto import jwk, jws

from adapters.base import AdapterContext
from adapters.registry import build_adapters
from hub.api.app import create_app
from hub.api.keys import DSN, HUB_KEY, INTAKE, POOL
from hub.clocks.worker import ClockWorker
from hub.core.clock import parse_rfc3339, rfc3339
from hub.core.hub_identity import HubIdentity
from hub.delivery.worker import WorkerConfig
from hub.services.issuer import Issuer
from hub.settings import Settings
from hub.store import directory as directory_store
from tests.factories import (
    Api,
    Directory,
    FakeClock,
    Member,
    acknowledgement,
    add_with_endpoint,
    deadline_of,
    declined,
    delivery_worker,
    escalations,
    information_request,
    removal,
    takedown,
    withdrawal,
)

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Law:
    jurisdiction: str
    sender_kind: str
    trusted_flagger: bool
    acknowledge: timedelta | None
    act: timedelta
    rule: str
    basis: str  # a fragment of the act clock's legal basis
    reminders: tuple[timedelta, ...]  # before the act clock's due time
    regulator_notified: bool


LAWS = {
    "US": Law("US", "hotline", False, 24 * HOUR, 48 * HOUR, "us-take-it-down-removal", "TAKE IT DOWN Act",
              (12 * HOUR, HOUR), True),
    "GB": Law("GB", "hotline", False, 24 * HOUR, 48 * HOUR, "gb-osa-intimate-image-removal",
              "Online Safety Act 2023", (12 * HOUR, HOUR), True),
    "AU": Law("AU", "regulator", False, None, 24 * HOUR, "au-osa-s77-removal-notice",
              "Online Safety Act 2021", (6 * HOUR, HOUR), True),
    "EU": Law("EU", "hotline", False, 24 * HOUR, 7 * 24 * HOUR, "eu-dsa-notice", "DSA Art. 16(5)",
              (6 * HOUR, HOUR), False),
    "EU-trusted-flagger": Law("EU", "hotline", True, 24 * HOUR, 24 * HOUR, "eu-dsa-notice", "DSA Art. 22",
                              (6 * HOUR, HOUR), False),
}  # fmt: skip


@dataclass
class Hub:
    api: Api
    app: web.Application
    clock: FakeClock
    clocks: ClockWorker
    db: asyncpg.Connection


@pytest_asyncio.fixture
async def hub(settings: Settings, db: asyncpg.Connection, aiohttp_client: Any) -> Hub:
    clock = FakeClock()
    app = create_app(settings, clock=clock, background=False)
    client = await aiohttp_client(app)
    return Hub(Api(client, clock), app, clock, ClockWorker(app[POOL], Issuer(app[INTAKE]), clock), db)


@dataclass
class Parties:
    sender: Member
    platform: Member
    regulator: Member


async def parties(law: Law, directory: Directory, db: asyncpg.Connection) -> Parties:
    """A sender of the law's kind, a platform, and a regulator of the law's jurisdiction (for AU the
    sender itself: the eSafety Commissioner gives the removal notice)."""
    code = law.jurisdiction.lower()
    platform = await directory.add(f"{code}-platform-test", "platform", "IE")
    if law.sender_kind == "regulator":
        sender = await directory.add(f"{code}-regulator-test", "regulator", law.jurisdiction)
        return Parties(sender, platform, sender)
    sender = await directory.add(f"{code}-hotline-test", law.sender_kind, "DE")
    if law.trusted_flagger:
        await directory_store.update_participant(db, sender.id, trusted_flagger=True)
    regulator = await directory.add(f"{code}-regulator-test", "regulator", law.jurisdiction)
    return Parties(sender, platform, regulator)


def hub_key(jwks: dict[str, Any], kid: str) -> jwk.JWK:
    [public] = [k for k in jwks["keys"] if k["kid"] == kid]
    return jwk.JWK(**{k: public[k] for k in ("kty", "crv", "x", "kid")})


def verified(compact: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The payload of a hub-signed message, verified with jwcrypto against the published JWKS."""
    token = jws.JWS()
    token.deserialize(compact)
    kid = token.jose_header["kid"]
    token.verify(hub_key(jwks, kid), alg="EdDSA")
    payload: dict[str, Any] = json.loads(token.payload)
    return payload


def breaches_of(items: list[dict[str, Any]], deadline: str, recipient: str) -> list[dict[str, Any]]:
    return escalations(items, kind="breach", deadline=deadline, recipient=recipient)


def events(view: dict[str, Any], name: str, deadline: str | None = None) -> list[dict[str, Any]]:
    return [
        e
        for e in view["timeline"]
        if e["event"] == name and (deadline is None or e.get("deadline") == deadline)
    ]


# -- each law ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("law_name", list(LAWS))
async def test_each_law_due_time_reminders_breach_escalation_and_late_answer(
    hub: Hub, directory: Directory, law_name: str
) -> None:
    law = LAWS[law_name]
    who = await parties(law, directory, hub.db)
    api, clock = hub.api, hub.clock
    request = takedown(who.sender, who.platform, jurisdictions=[law.jurisdiction])
    receipt = await api.accepted(who.sender, request)
    case_id, told = receipt["case_id"], parse_rfc3339(receipt["accepted_at"])
    assert told == clock.now

    # Due = told + the law's period, with the rule and legal basis that set it.
    view = await api.case(who.sender, case_id)
    act = deadline_of(view, who.platform.id, "act")
    assert parse_rfc3339(act["told_at"]) == told
    assert parse_rfc3339(act["due_at"]) == told + law.act
    assert (act["state"], act["rule"], act["jurisdiction"]) == ("open", law.rule, law.jurisdiction)
    assert law.basis in act["legal_basis"]
    kinds = {d["deadline"] for d in view["recipients"][0]["deadlines"]}
    assert kinds == ({"acknowledge", "act"} if law.acknowledge else {"act"})
    if law.acknowledge:
        ack = deadline_of(view, who.platform.id, "acknowledge")
        assert parse_rfc3339(ack["due_at"]) == told + law.acknowledge
    due = told + law.act

    # Reminders: each one before the due time, to the recipient that owes the answer, once.
    for number, before in enumerate(law.reminders, start=1):
        clock.now = due - before + MINUTE
        assert await hub.clocks.run_once() >= 1
        reminders = escalations(await api.inbox(who.platform), kind="reminder", deadline="act")
        assert len(reminders) == number
        assert reminders[-1]["to"] == [who.platform.id]
        assert reminders[-1]["body"]["due_at"] == rfc3339(due)
        assert reminders[-1]["body"]["rule"] == law.rule
    assert breaches_of(await api.inbox(who.sender), "act", who.platform.id) == []
    assert deadline_of(await api.case(who.sender, case_id), who.platform.id, "act")["state"] == "open"

    # Expiry: one hub-signed breach to the sender (and the regulator, for the law's own periods).
    clock.now = due + MINUTE
    assert await hub.clocks.run_once() >= 1
    assert await hub.clocks.run_once() == 0  # nothing fires twice
    [item] = [i for i in await api.inbox(who.sender) if in_escalations(i, "breach", "act")]
    jwks = await (await api.client.get("/.well-known/jwks.json")).json()
    escalation = verified(item["message"], jwks)
    assert item["from"] == escalation["from"] == "test-hub"
    assert escalation["type"] == "escalation"
    assert escalation["case"] == case_id
    assert escalation["in_reply_to"] == request["id"]
    body = escalation["body"]
    assert (body["kind"], body["deadline"], body["recipient"]) == ("breach", "act", who.platform.id)
    assert (body["rule"], body["jurisdiction"]) == (law.rule, law.jurisdiction)
    assert body["legal_basis"] == act["legal_basis"]
    assert body["told_at"] == rfc3339(told)
    assert body["due_at"] == rfc3339(due)
    assert body["issued_at"] == rfc3339(due + MINUTE)
    assert body["recipient_state"] == "queued"
    assert verified(item["receipt"], jwks)["message_id"] == escalation["id"]

    status, regulator_view = await api.get(who.regulator, f"/v1/cases/{case_id}")
    regulator_inbox = await api.inbox(who.regulator)
    if law.regulator_notified:
        assert who.regulator.id in escalation["to"]
        assert escalation["to"][0] == who.sender.id
        assert [e["id"] for e in breaches_of(regulator_inbox, "act", who.platform.id)] == [escalation["id"]]
        assert status == 200, regulator_view
        assert regulator_view["your_role"] in ("shared", "originator")
    else:
        assert escalation["to"] == [who.sender.id]
        assert regulator_inbox == []
        assert status == 403

    view = await api.case(who.sender, case_id)
    act = deadline_of(view, who.platform.id, "act")
    assert act["state"] == "breached"
    assert act["escalation_id"] == escalation["id"]
    assert act["overdue"] is True
    assert view["overdue"] is True
    [breached] = events(view, "deadline.breached", "act")
    assert breached["message_id"] == escalation["id"]

    # A late answer is recorded; the breach stays.
    clock.now += 2 * HOUR
    await api.accepted(who.platform, removal(who.platform, who.sender, case_id, request["id"]))
    view = await api.case(who.sender, case_id)
    act = deadline_of(view, who.platform.id, "act")
    assert act["state"] == "breached"
    assert act["escalation_id"] == escalation["id"]
    assert parse_rfc3339(act["answered_late_at"]) == clock.now
    assert len(events(view, "deadline.answered_late", "act")) == 1
    assert events(view, "deadline.met", "act") == []
    assert view["status"] == "actioned"
    assert len(breaches_of(await api.inbox(who.sender), "act", who.platform.id)) == 1
    assert await hub.clocks.run_once() == 0


def in_escalations(item: dict[str, Any], kind: str, deadline: str) -> bool:
    return bool(escalations([item], kind=kind, deadline=deadline))


@pytest.mark.parametrize("law_name", list(LAWS))
async def test_an_answer_in_time_meets_the_clocks_and_nothing_is_escalated(
    hub: Hub, directory: Directory, law_name: str
) -> None:
    law = LAWS[law_name]
    who = await parties(law, directory, hub.db)
    request = takedown(who.sender, who.platform, jurisdictions=[law.jurisdiction])
    case_id = (await hub.api.accepted(who.sender, request))["case_id"]

    hub.clock.advance(hours=1)
    await hub.api.accepted(who.platform, acknowledgement(who.platform, who.sender, case_id, request["id"]))
    hub.clock.advance(hours=1)
    await hub.api.accepted(who.platform, removal(who.platform, who.sender, case_id, request["id"]))
    hub.clock.advance(days=30)
    assert await hub.clocks.run_once() == 0

    view = await hub.api.case(who.sender, case_id)
    for clock in view["recipients"][0]["deadlines"]:
        assert clock["state"] == "met", clock
        assert "escalation_id" not in clock
        assert "answered_late_at" not in clock
    assert len(events(view, "deadline.met")) == (2 if law.acknowledge else 1)
    assert view["overdue"] is False
    assert await hub.db.fetchval("SELECT count(*) FROM messages WHERE message_type = 'escalation'") == 0
    assert escalations(await hub.api.inbox(who.regulator)) == []


async def test_a_decline_with_reasons_also_stops_the_act_clock(hub: Hub, directory: Directory) -> None:
    who = await parties(LAWS["GB"], directory, hub.db)
    request = takedown(who.sender, who.platform, jurisdictions=["GB"])
    case_id = (await hub.api.accepted(who.sender, request))["case_id"]
    await hub.api.accepted(who.platform, declined(who.platform, who.sender, case_id, request["id"]))
    hub.clock.advance(days=3)
    assert await hub.clocks.run_once() == 0
    view = await hub.api.case(who.sender, case_id)
    assert {d["deadline"]: d["state"] for d in view["recipients"][0]["deadlines"]} == {
        "acknowledge": "met",
        "act": "met",
    }
    assert view["status"] == "declined"


# -- a push recipient is told when the push succeeds ------------------------------------------------------
@pytest_asyncio.fixture
async def receiver(aiohttp_server: Any) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    posts: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        posts.append(await request.json())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    yield str(server.make_url("/hook")), posts


async def test_a_push_recipients_clocks_start_only_when_the_push_succeeds(
    hub: Hub, directory: Directory, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, posts = receiver
    hotline = await directory.add("us-hotline-test", "hotline", "US")
    platform = await add_with_endpoint(hub.db, "us-platform-push", "platform", "US", url)
    request = takedown(hotline, platform, jurisdictions=["US"])
    case_id = (await hub.api.accepted(hotline, request))["case_id"]

    delivery = await hub.db.fetchrow("SELECT * FROM deliveries WHERE recipient_id = $1", platform.id)
    assert delivery is not None
    assert delivery["channel"] == "push"
    held = delivery["clocks"]
    held = json.loads(held) if isinstance(held, str) else held
    assert sorted(c["kind"] for c in held) == ["acknowledge", "act"]
    assert await hub.db.fetchval("SELECT count(*) FROM deadlines") == 0
    view = await hub.api.case(hotline, case_id)
    assert view["recipients"][0]["deadlines"] == []

    hub.clock.advance(hours=3)  # the endpoint was down for three hours; the push now succeeds
    pushed_at = hub.clock.now
    async with aiohttp.ClientSession() as session:
        context = AdapterContext(session, HubIdentity("test-hub", hub.app[HUB_KEY]), hub.clock)
        worker = delivery_worker(
            hub.app[POOL], hub.app[DSN], build_adapters(context), hub.app[INTAKE], hub.clock, WorkerConfig()
        )
        try:
            assert await worker.run_once() == 1
            await worker.wait_idle()
        finally:
            await worker.stop()
    assert [p["message_id"] for p in posts] == [request["id"]]

    view = await hub.api.case(hotline, case_id)
    act = deadline_of(view, platform.id, "act")
    assert parse_rfc3339(act["told_at"]) == pushed_at
    assert parse_rfc3339(act["due_at"]) == pushed_at + 48 * HOUR
    started = events(view, "deadline.started")
    assert sorted(e["deadline"] for e in started) == ["acknowledge", "act"]

    # 48 hours after acceptance, but not after the push: the act clock still runs.
    hub.clock.now = pushed_at - 3 * HOUR + 48 * HOUR + MINUTE
    await hub.clocks.run_once()
    view = await hub.api.case(hotline, case_id)
    assert deadline_of(view, platform.id, "act")["state"] == "open"
    assert deadline_of(view, platform.id, "acknowledge")["state"] == "breached"


# -- several hub processes and restarts -------------------------------------------------------------------
async def submit_many(api: Api, hotline: Member, platforms: list[Member], count: int) -> list[str]:
    cases = []
    for i in range(count):
        platform = platforms[i % len(platforms)]
        request = takedown(hotline, platform, jurisdictions=["US"])
        cases.append((await api.accepted(hotline, request))["case_id"])
    return cases


async def test_two_hub_processes_fire_each_reminder_and_breach_once(
    settings: Settings, db: asyncpg.Connection, directory: Directory, aiohttp_client: Any
) -> None:
    hotline = await directory.add("us-hotline-test", "hotline", "US")
    platforms = [await directory.add(f"us-platform-{i}", "platform", "US") for i in range(3)]
    regulator = await directory.add("us-regulator-test", "regulator", "US")
    clock = FakeClock()
    app_a = create_app(settings, clock=clock, background=False)
    app_b = create_app(settings, clock=clock, background=False)
    api = Api(await aiohttp_client(app_a), clock)
    await aiohttp_client(app_b)
    assert app_a[POOL] is not app_b[POOL]
    workers = [ClockWorker(app[POOL], Issuer(app[INTAKE]), clock) for app in (app_a, app_b)]
    count = 15
    cases = await submit_many(api, hotline, platforms, count)
    start = clock.now

    async def race(at: timedelta) -> int:
        clock.now = start + at
        fired = await asyncio.gather(*(w.run_once() for w in workers))
        return sum(fired)

    # 36h01: the 24h acknowledgement clocks breach, the act clocks' 12h reminders fire.
    assert await race(36 * HOUR + MINUTE) == 2 * count
    assert await race(47 * HOUR + MINUTE) == count  # the act clocks' 1h reminders
    assert await race(48 * HOUR + MINUTE) == count  # the act clocks breach
    assert await race(72 * HOUR) == 0

    per_clock = await db.fetch(
        """SELECT d.id, d.kind, d.state, d.escalation_id,
                  (SELECT count(*) FROM case_events e
                   WHERE e.case_id = d.case_id AND e.subject = d.recipient_id
                     AND e.event = 'deadline.breached' AND e.detail->>'deadline' = d.kind) AS breaches,
                  (SELECT count(*) FROM case_events e
                   WHERE e.case_id = d.case_id AND e.subject = d.recipient_id
                     AND e.event = 'deadline.reminder' AND e.detail->>'deadline' = d.kind) AS reminders
           FROM deadlines d"""
    )
    assert len(per_clock) == 2 * count
    for row in per_clock:
        assert row["state"] == "breached"
        assert row["breaches"] == 1, dict(row)
        assert row["reminders"] == (2 if row["kind"] == "act" else 0), dict(row)
    assert len({row["escalation_id"] for row in per_clock}) == 2 * count
    escalation_count = await db.fetchval("SELECT count(*) FROM messages WHERE message_type = 'escalation'")
    assert escalation_count == 2 * count + 2 * count  # one breach per clock, two reminders per act clock
    assert len(set(cases)) == count
    # The regulator hears once of each statutory (act) breach, never of the hub's acknowledgement clock.
    regulator_items = await api.inbox(regulator)
    assert len(escalations(regulator_items, kind="breach", deadline="act")) == count
    assert escalations(regulator_items, deadline="acknowledge") == []


async def test_clocks_survive_a_restart(
    settings: Settings, db: asyncpg.Connection, directory: Directory, aiohttp_client: Any
) -> None:
    hotline = await directory.add("gb-hotline-test", "hotline", "GB")
    platform = await directory.add("gb-platform-test", "platform", "GB")
    clock = FakeClock()
    first = await aiohttp_client(create_app(settings, clock=clock, background=False))
    request = takedown(hotline, platform, jurisdictions=["GB"])
    case_id = (await Api(first, clock).accepted(hotline, request))["case_id"]
    told = clock.now
    await first.close()  # the hub stops; nothing of its clocks is in memory

    clock.now = told + 48 * HOUR + MINUTE
    app = create_app(settings, clock=clock, background=False)
    api = Api(await aiohttp_client(app), clock)
    assert await ClockWorker(app[POOL], Issuer(app[INTAKE]), clock).run_once() == 2  # acknowledge and act
    view = await api.case(hotline, case_id)
    act = deadline_of(view, platform.id, "act")
    assert (act["state"], parse_rfc3339(act["due_at"])) == ("breached", told + 48 * HOUR)
    assert len(breaches_of(await api.inbox(hotline), "act", platform.id)) == 1
    assert await ClockWorker(app[POOL], Issuer(app[INTAKE]), clock).run_once() == 0


# -- a clock owed by a party that is not a recipient ------------------------------------------------------
ANSWER_POLICY = {
    "jurisdiction": "NZ",
    "title": "Fictitious operator policy",
    "regulator_notified": False,
    "rules": [
        {
            "id": "nz-hotline-answers",
            "applies_to": {"message_type": "information-request", "recipient_kind": "hotline"},
            "respond": {"within": "PT24H", "legal_basis": "Fictitious hub practice", "statutory": False},
        }
    ],
}


async def test_a_clock_owed_by_the_originator_neither_crashes_nor_starves_the_clock_worker(
    settings: Settings, db: asyncpg.Connection, directory: Directory, aiohttp_client: Any, tmp_path: Any
) -> None:
    folder = tmp_path / "operator-policies"
    folder.mkdir()
    (folder / "NZ.json").write_text(json.dumps(ANSWER_POLICY), encoding="utf-8")
    hotline = await directory.add("nz-hotline-test", "hotline", "NZ")
    platform = await directory.add("us-platform-test", "platform", "US")
    clock = FakeClock()
    app = create_app(settings.with_changes(policy_dir=folder), clock=clock, background=False)
    api = Api(await aiohttp_client(app), clock)
    request = takedown(hotline, platform, jurisdictions=["NZ", "US"])
    case_id = (await api.accepted(hotline, request))["case_id"]
    question = information_request(platform, hotline, case_id, in_reply_to=request["id"])
    await api.accepted(platform, question)  # the hotline now owes an answer within 24 hours
    worker = ClockWorker(app[POOL], Issuer(app[INTAKE]), clock)

    clock.advance(hours=49)  # past the hotline's 24 hours and the platform's 48
    await worker.run_once()

    view = await api.case(hotline, case_id)
    assert deadline_of(view, platform.id, "act")["state"] == "breached"
    [owed] = view["deadlines_owed_by_originator"]
    assert (owed["deadline"], owed["state"]) == ("respond", "breached")
    [breach] = breaches_of(await api.inbox(platform), "respond", hotline.id)  # to the one who asked
    assert breach["in_reply_to"] == question["id"]


async def test_a_referral_withdrawn_before_its_push_is_delivered_and_starts_no_decision_clock(
    hub: Hub, directory: Directory, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, posts = receiver
    hotline = await directory.add("us-hotline-test", "hotline", "US")
    platform = await add_with_endpoint(hub.db, "us-platform-push", "platform", "US", url)
    request = takedown(hotline, platform, jurisdictions=["US"])
    case_id = (await hub.api.accepted(hotline, request))["case_id"]
    await hub.api.accepted(hotline, withdrawal(hotline, [platform], case_id))

    hub.clock.advance(hours=1)
    async with aiohttp.ClientSession() as session:
        context = AdapterContext(session, HubIdentity("test-hub", hub.app[HUB_KEY]), hub.clock)
        worker = delivery_worker(
            hub.app[POOL], hub.app[DSN], build_adapters(context), hub.app[INTAKE], hub.clock, WorkerConfig()
        )
        try:
            await worker.run_once()
            await worker.wait_idle()
        finally:
            await worker.stop()

    assert [post["type"] for post in posts] == ["withdrawal"]  # the referral itself is withheld
    states = await hub.db.fetch(
        "SELECT state FROM deliveries WHERE recipient_id = $1 ORDER BY seq", platform.id
    )
    assert [s["state"] for s in states] == ["purged", "delivered"]
    view = await hub.api.case(hotline, case_id)
    open_clocks = {d["deadline"] for d in view["recipients"][0]["deadlines"] if d["state"] == "open"}
    assert open_clocks == {"confirm_deletion"}
