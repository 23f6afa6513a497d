"""The case lifecycle through the API, under a fake clock: a fan-out to three platforms answering
differently, withdrawal with deletion confirmations, information requests (from a platform, and an EU
e-Evidence order from a law-enforcement liaison), counter-notice, closure, and the refusals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from hub.api.app import create_app
from hub.api.keys import INTAKE, POOL
from hub.client.envelope import new_envelope
from hub.clocks.worker import ClockWorker
from hub.core.clock import parse_rfc3339, rfc3339
from hub.services.issuer import Issuer
from hub.settings import Settings
from tests.conftest import table_counts
from tests.factories import (
    Api,
    Directory,
    FakeClock,
    Member,
    Referral,
    acknowledgement,
    case_closure,
    counter_notice,
    deadline_of,
    declined,
    deletion_confirmation,
    escalations,
    information_request,
    information_response,
    refer,
    removal,
    takedown_parts,
    withdrawal,
)

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


@dataclass
class World:
    api: Api
    clock: FakeClock
    clocks: ClockWorker
    db: asyncpg.Connection
    hotline: Member
    platforms: list[Member]
    regulator: Member

    async def refer(self, *jurisdictions: str) -> tuple[str, Referral]:
        """A fan-out to the three platforms: one signed part each, under one case."""
        parts = takedown_parts(self.hotline, *self.platforms, jurisdictions=list(jurisdictions or ("US",)))
        referral = await refer(lambda part: self.api.accepted(self.hotline, part), parts)
        return referral.case_id, referral

    async def view(self, case_id: str, who: Member | None = None) -> dict[str, Any]:
        return await self.api.case(who or self.hotline, case_id)


@pytest_asyncio.fixture
async def world(
    settings: Settings, db: asyncpg.Connection, directory: Directory, aiohttp_client: Any
) -> World:
    hotline = await directory.add("us-hotline-test", "hotline", "US")
    platforms = [await directory.add(f"platform-{name}", "platform", "IE") for name in ("a", "b", "c")]
    regulator = await directory.add("us-regulator-test", "regulator", "US")
    clock = FakeClock()
    app = create_app(settings, clock=clock, background=False)
    api = Api(await aiohttp_client(app), clock)
    return World(
        api, clock, ClockWorker(app[POOL], Issuer(app[INTAKE]), clock), db, hotline, platforms, regulator
    )


def state_of(view: dict[str, Any], member: Member) -> str:
    return str(next(r["state"] for r in view["recipients"] if r["participant_id"] == member.id))


def clock_states(view: dict[str, Any], member: Member) -> dict[str, str]:
    party = next(r for r in view["recipients"] if r["participant_id"] == member.id)
    return {d["deadline"]: d["state"] for d in party["deadlines"]}


def timeline(view: dict[str, Any], event: str, **detail: Any) -> list[dict[str, Any]]:
    return [
        e for e in view["timeline"] if e["event"] == event and all(e.get(k) == v for k, v in detail.items())
    ]


# -- fan-out ----------------------------------------------------------------------------------------------
async def test_a_fan_out_to_three_platforms_has_three_deliveries_own_clocks_and_a_derived_status(
    world: World,
) -> None:
    a, b, c = world.platforms
    case_id, request = await world.refer("US")
    told = world.clock.now
    deliveries = "SELECT count(*) FROM deliveries WHERE message_id = ANY($1::uuid[])"
    assert await world.db.fetchval(deliveries, request.ids) == 3
    view = await world.view(case_id)
    for platform in (a, b, c):
        assert clock_states(view, platform) == {"acknowledge": "open", "act": "open"}
        assert parse_rfc3339(deadline_of(view, platform.id, "act")["due_at"]) == told + 48 * HOUR

    world.clock.advance(hours=1)
    await world.api.accepted(a, removal(a, world.hotline, case_id, request.id_of(a)))
    world.clock.advance(hours=1)
    await world.api.accepted(b, declined(b, world.hotline, case_id, request.id_of(b)))

    view = await world.view(case_id)
    assert (state_of(view, a), state_of(view, b), state_of(view, c)) == ("actioned", "declined", "queued")
    assert view["status"] == "open"
    assert clock_states(view, a) == clock_states(view, b) == {"acknowledge": "met", "act": "met"}
    assert clock_states(view, c) == {"acknowledge": "open", "act": "open"}

    # A platform sees only itself among the recipients, and none of the others' doings.
    mine = await world.view(case_id, a)
    assert [r["participant_id"] for r in mine["recipients"]] == [a.id]
    assert all(b.id not in (e.get("actor"), e.get("subject")) for e in mine["timeline"])

    # The silent one breaches: the case stays open, the sender hears of that platform only.
    world.clock.now = told + 48 * HOUR + MINUTE
    assert await world.clocks.run_once() == 2  # c's acknowledge and act
    view = await world.view(case_id)
    assert view["status"] == "open"
    assert clock_states(view, c) == {"acknowledge": "breached", "act": "breached"}
    breaches = escalations(await world.api.inbox(world.hotline), kind="breach")
    assert {(e["body"]["recipient"], e["body"]["deadline"]) for e in breaches} == {
        (c.id, "acknowledge"),
        (c.id, "act"),
    }

    # It acts late: the case is partially actioned, the breach stays on the record.
    world.clock.advance(hours=5)
    await world.api.accepted(c, removal(c, world.hotline, case_id, request.id_of(c)))
    view = await world.view(case_id)
    assert view["status"] == "partially-actioned"
    late = deadline_of(view, c.id, "act")
    assert late["state"] == "breached"
    assert "answered_late_at" in late
    assert clock_states(view, a) == {"acknowledge": "met", "act": "met"}


# -- withdrawal -------------------------------------------------------------------------------------------
async def test_withdrawal_reaches_every_recipient_and_the_case_shows_who_confirmed_deletion(
    world: World,
) -> None:
    a, b, c = world.platforms
    case_id, request = await world.refer("US", "EU")
    await world.api.accepted(a, removal(a, world.hotline, case_id, request.id_of(a)))
    await world.api.accepted(b, acknowledgement(b, world.hotline, case_id, request.id_of(b)))
    world.clock.advance(hours=5)
    withdrawn_at = world.clock.now
    notice = withdrawal(world.hotline, [a, b, c], case_id)
    receipt = await world.api.accepted(world.hotline, notice)
    assert receipt["case_id"] == case_id

    for platform in (a, b, c):
        assert notice["id"] in [
            i["message_id"] for i in await world.api.inbox(platform) if i["type"] == "withdrawal"
        ]
    view = await world.view(case_id)
    assert view["status"] == "withdrawn"
    assert {state_of(view, p) for p in (a, b, c)} == {"withdrawn"}
    # Open decision clocks end; met ones stay met; each recipient now owes a deletion confirmation.
    assert clock_states(view, a) == {"acknowledge": "met", "act": "met", "confirm_deletion": "open"}
    assert clock_states(view, b) == {"acknowledge": "met", "act": "cancelled", "confirm_deletion": "open"}
    assert clock_states(view, c) == {
        "acknowledge": "cancelled",
        "act": "cancelled",
        "confirm_deletion": "open",
    }
    cancelled = {(e["subject"], e["deadline"]) for e in timeline(view, "deadline.cancelled")}
    assert cancelled == {(b.id, "act"), (c.id, "acknowledge"), (c.id, "act")}
    for platform in (a, b, c):
        confirm = deadline_of(view, platform.id, "confirm_deletion")
        assert confirm["message_id"] == notice["id"]
        assert parse_rfc3339(confirm["due_at"]) == withdrawn_at + timedelta(days=3)
        assert confirm["rule"].endswith("-withdrawal-deletion")
        party = next(r for r in view["recipients"] if r["participant_id"] == platform.id)
        assert party["deletion"] == {"requested_at": rfc3339(withdrawn_at), "confirmed": False}

    world.clock.advance(days=1)
    confirmed_at = world.clock.now
    for platform in (a, b):
        await world.api.accepted(
            platform, deletion_confirmation(platform, world.hotline, case_id, notice["id"])
        )
    view = await world.view(case_id)
    deletion = {r["participant_id"]: r["deletion"] for r in view["recipients"]}
    assert deletion[a.id]["confirmed"] is True
    assert deletion[b.id]["confirmed"] is True
    assert deletion[a.id]["confirmed_at"] == rfc3339(confirmed_at)
    assert deletion[c.id] == {"requested_at": rfc3339(withdrawn_at), "confirmed": False}
    assert {e["subject"] for e in timeline(view, "deletion.confirmed")} == {a.id, b.id}
    assert clock_states(view, a)["confirm_deletion"] == clock_states(view, b)["confirm_deletion"] == "met"

    # The silent one is reminded, then its deletion clock breaches: to the sender, not to a regulator.
    world.clock.now = withdrawn_at + timedelta(days=2) + MINUTE
    assert await world.clocks.run_once() == 1
    assert escalations(await world.api.inbox(c), kind="reminder", deadline="confirm-deletion")
    world.clock.now = withdrawn_at + timedelta(days=3) + MINUTE
    assert await world.clocks.run_once() == 1
    view = await world.view(case_id)
    assert clock_states(view, c)["confirm_deletion"] == "breached"
    [breach] = escalations(await world.api.inbox(world.hotline), kind="breach", deadline="confirm-deletion")
    assert breach["body"]["recipient"] == c.id
    assert breach["in_reply_to"] == notice["id"]
    assert breach["to"] == [world.hotline.id]
    assert escalations(await world.api.inbox(world.regulator)) == []


async def test_nothing_moves_a_withdrawn_recipient(world: World) -> None:
    a, _, _ = world.platforms
    case_id, request = await world.refer("US")
    await world.api.accepted(world.hotline, withdrawal(world.hotline, [a], case_id))
    await world.api.refused(a, removal(a, world.hotline, case_id, request.id_of(a)), "invalid-transition")


# -- information requests ---------------------------------------------------------------------------------
async def test_a_platform_asks_the_originator_for_more_and_gets_an_answer(world: World) -> None:
    a, b, _ = world.platforms
    case_id, request = await world.refer("US")
    question = information_request(a, world.hotline, case_id, in_reply_to=request.id_of(a))
    await world.api.accepted(a, question)

    [item] = [i for i in await world.api.inbox(world.hotline) if i["type"] == "information-request"]
    assert (item["message_id"], item["from"]) == (question["id"], a.id)
    view = await world.view(case_id)
    assert clock_states(view, a) == {"acknowledge": "met", "act": "open"}  # asking shows it has the referral
    assert clock_states(view, b) == {"acknowledge": "open", "act": "open"}

    answer = information_response(world.hotline, a, case_id, question["id"])
    await world.api.accepted(world.hotline, answer)
    assert answer["id"] in [i["message_id"] for i in await world.api.inbox(a)]
    # A platform asks the originator, never another platform.
    await world.api.refused(a, information_request(a, b, case_id), "not-a-party")


@pytest.mark.parametrize(("urgency", "within", "rule"), [
    ("emergency", 8 * HOUR, "eu-e-evidence-emergency"),
    ("routine", timedelta(days=10), "eu-e-evidence-production"),
])  # fmt: skip
async def test_a_liaison_s_e_evidence_request_starts_the_platform_s_respond_clock(
    world: World, directory: Directory, urgency: str, within: timedelta, rule: str
) -> None:
    a, _, _ = world.platforms
    liaison = await directory.add("nl-police-test", "law-enforcement", "NL")
    case_id, _ = await world.refer("EU")
    order = information_request(liaison, a, case_id, urgency=urgency)
    await world.api.refused(liaison, order, "not-a-party")  # not shared yet
    assert await world.api.share(world.hotline, case_id, liaison) == 201

    world.clock.advance(hours=2)
    asked_at = world.clock.now
    await world.api.accepted(liaison, order)

    assert order["id"] in [i["message_id"] for i in await world.api.inbox(a)]
    view = await world.view(case_id, liaison)  # the liaison reads the shared case
    respond = deadline_of(view, a.id, "respond")
    assert (respond["state"], respond["rule"], respond["jurisdiction"]) == ("open", rule, "EU")
    assert parse_rfc3339(respond["due_at"]) == asked_at + within
    assert "2023/1543" in respond["legal_basis"]

    world.clock.advance(hours=1)
    answer = information_response(a, liaison, case_id, order["id"])
    await world.api.accepted(a, answer)
    assert answer["id"] in [i["message_id"] for i in await world.api.inbox(liaison)]
    view = await world.view(case_id)
    respond = deadline_of(view, a.id, "respond")
    assert respond["state"] == "met"
    assert respond["met_at"] == rfc3339(world.clock.now)
    assert timeline(view, "deadline.met", deadline="respond", subject=a.id)


async def test_a_liaison_asks_only_recipients(world: World, directory: Directory) -> None:
    liaison = await directory.add("nl-police-test", "law-enforcement", "NL")
    case_id, _ = await world.refer("EU")
    assert await world.api.share(world.hotline, case_id, liaison) == 201
    await world.api.refused(liaison, information_request(liaison, world.hotline, case_id), "not-a-party")


async def test_a_missed_e_evidence_deadline_is_escalated_to_the_liaison_who_asked(
    world: World, directory: Directory
) -> None:
    a, _, _ = world.platforms
    liaison = await directory.add("nl-police-test", "law-enforcement", "NL")
    case_id, _ = await world.refer("EU")
    assert await world.api.share(world.hotline, case_id, liaison) == 201
    order = information_request(liaison, a, case_id, urgency="emergency")
    await world.api.accepted(liaison, order)

    world.clock.advance(hours=8, minutes=1)
    await world.clocks.run_once()

    assert deadline_of(await world.view(case_id), a.id, "respond")["state"] == "breached"
    [breach] = escalations(await world.api.inbox(liaison), kind="breach", deadline="respond")
    assert breach["in_reply_to"] == order["id"]


async def test_a_reply_to_a_missed_e_evidence_deadline_is_recorded_late(
    world: World, directory: Directory
) -> None:
    a, _, _ = world.platforms
    liaison = await directory.add("nl-police-test", "law-enforcement", "NL")
    case_id, _ = await world.refer("EU")
    assert await world.api.share(world.hotline, case_id, liaison) == 201
    order = information_request(liaison, a, case_id, urgency="emergency")
    await world.api.accepted(liaison, order)
    world.clock.advance(hours=8, minutes=1)
    await world.clocks.run_once()
    await world.api.accepted(a, information_response(a, liaison, case_id, order["id"]))
    respond = deadline_of(await world.view(case_id), a.id, "respond")
    assert respond["state"] == "breached"
    assert "answered_late_at" in respond


# -- counter-notice ---------------------------------------------------------------------------------------
async def test_a_counter_notice_after_removal_is_passed_on_and_recorded(world: World) -> None:
    a, _, _ = world.platforms
    case_id, request = await world.refer("US")
    decision = removal(a, world.hotline, case_id, request.id_of(a))
    await world.api.accepted(a, decision)
    world.clock.advance(days=2)
    appeal = counter_notice(a, world.hotline, case_id, decision["id"])
    await world.api.accepted(a, appeal)

    assert appeal["id"] in [i["message_id"] for i in await world.api.inbox(world.hotline)]
    view = await world.view(case_id)
    [event] = timeline(view, "message.accepted", message_id=appeal["id"])
    assert (event["actor"], event["message_type"], event["to"]) == (
        a.id,
        "counter-notice",
        [world.hotline.id],
    )
    assert event["at"] == rfc3339(world.clock.now)
    assert state_of(view, a) == "actioned"
    # The originator has no uploader whose appeal it could pass on.
    await world.api.refused(
        world.hotline, counter_notice(world.hotline, a, case_id, decision["id"]), "not-a-party"
    )


# -- closure ----------------------------------------------------------------------------------------------
async def test_closure_closes_the_case_cancels_its_clocks_and_takes_only_deletion_confirmations(
    world: World,
) -> None:
    a, b, c = world.platforms
    case_id, request = await world.refer("US")
    await world.api.accepted(c, removal(c, world.hotline, case_id, request.id_of(c)))
    notice = withdrawal(world.hotline, [a], case_id)
    await world.api.accepted(world.hotline, notice)
    world.clock.advance(hours=3)
    closed_at = world.clock.now

    await world.api.accepted(world.hotline, case_closure(world.hotline, [a, b, c], case_id))

    view = await world.view(case_id)
    assert view["status"] == "closed"
    assert view["closed"] == {"at": rfc3339(closed_at), "by": world.hotline.id, "reason": "resolved"}
    assert clock_states(view, b) == {"acknowledge": "cancelled", "act": "cancelled"}
    assert clock_states(view, c) == {"acknowledge": "met", "act": "met"}
    assert clock_states(view, a)["confirm_deletion"] == "cancelled"
    assert timeline(view, "case.closed")
    world.clock.advance(days=30)
    assert await world.clocks.run_once() == 0

    before = await table_counts(world.db)
    refused = [
        (b, removal(b, world.hotline, case_id, request.id_of(b))),
        (b, acknowledgement(b, world.hotline, case_id, request.id_of(b))),
        (world.hotline, withdrawal(world.hotline, [b], case_id)),
        (world.hotline, case_closure(world.hotline, [b], case_id)),
        (b, information_request(b, world.hotline, case_id)),
        (c, counter_notice(c, world.hotline, case_id, request.id_of(c))),
    ]
    for sender, message in refused:
        problem = await world.api.refused(sender, message, "case-closed")
        assert problem["status"] == 409
    assert await table_counts(world.db) == before

    await world.api.accepted(a, deletion_confirmation(a, world.hotline, case_id, notice["id"]))
    view = await world.view(case_id)
    assert next(r for r in view["recipients"] if r["participant_id"] == a.id)["deletion"]["confirmed"] is True
    assert view["status"] == "closed"


# -- refusals ---------------------------------------------------------------------------------------------
async def test_a_deletion_confirmation_answers_a_withdrawal_to_its_sender(world: World) -> None:
    a, b, _ = world.platforms
    case_id, request = await world.refer("US")
    await world.api.refused(
        a, deletion_confirmation(a, world.hotline, case_id, request.id_of(a)), "invalid-reply"
    )
    notice = withdrawal(world.hotline, [a], case_id)
    await world.api.accepted(world.hotline, notice)
    # b was not withdrawn from: it has nothing to confirm.
    await world.api.refused(b, deletion_confirmation(b, world.hotline, case_id, notice["id"]), "not-a-party")
    stranger = new_envelope(
        "information-response",
        sender=world.hotline.id,
        to=[a.id],
        body={"answers": ["An answer to no question."]},
        case=case_id,
        in_reply_to=request.id_of(a),
    )
    await world.api.refused(world.hotline, stranger, "invalid-reply")


async def test_an_escalation_from_a_participant_is_refused(world: World) -> None:
    a, _, _ = world.platforms
    case_id, request = await world.refer("US")
    now = rfc3339(world.clock.now)
    forged = new_envelope(
        "escalation",
        sender=world.hotline.id,
        to=[world.regulator.id],
        case=case_id,
        in_reply_to=request.id_of(a),
        body={
            "kind": "breach",
            "deadline": "act",
            "recipient": a.id,
            "jurisdiction": "US",
            "rule": "us-take-it-down-removal",
            "legal_basis": "TAKE IT DOWN Act section 3",
            "told_at": now,
            "due_at": now,
            "issued_at": now,
            "recipient_state": "queued",
        },
    )
    before = await table_counts(world.db)
    await world.api.refused(world.hotline, forged, "hub-only-type")
    await world.api.refused(a, {**forged, "from": a.id}, "hub-only-type")
    assert await table_counts(world.db) == before


async def test_only_the_originator_withdraws_or_closes(world: World) -> None:
    a, b, _ = world.platforms
    case_id, _ = await world.refer("US")
    await world.api.refused(a, case_closure(a, [world.hotline], case_id), "not-a-party")
    await world.api.refused(a, withdrawal(a, [b], case_id), "not-a-party")
    assert (await world.view(case_id))["status"] == "open"


async def test_a_recipient_withdrawn_before_retrieval_can_still_empty_its_inbox(world: World) -> None:
    a, _, _ = world.platforms
    case_id, _ = await world.refer("US")
    notice = withdrawal(world.hotline, [a], case_id)
    await world.api.accepted(world.hotline, notice)
    items = await world.api.inbox(a)
    assert [i["message_id"] for i in items] == [notice["id"]]  # the referral itself is withheld

    response = await world.api.client.post(
        "/v1/inbox/ack",
        json={"message_ids": [i["message_id"] for i in items]},
        headers=a.auth(now=world.clock.ts()),
    )

    assert response.status == 200, await response.text()
    assert await world.api.inbox(a) == []
    assert state_of(await world.view(case_id), a) == "withdrawn"


async def test_answering_one_production_order_leaves_the_other_s_clock_running(
    world: World, directory: Directory
) -> None:
    a, _, _ = world.platforms
    liaison = await directory.add("nl-police-test", "law-enforcement", "NL")
    case_id, _ = await world.refer("EU")
    assert await world.api.share(world.hotline, case_id, liaison) == 201
    routine = information_request(liaison, a, case_id, urgency="routine")
    emergency = information_request(liaison, a, case_id, urgency="emergency")
    await world.api.accepted(liaison, routine)
    await world.api.accepted(liaison, emergency)

    await world.api.accepted(a, information_response(a, liaison, case_id, routine["id"]))

    view = await world.view(case_id)
    assert deadline_of(view, a.id, "respond", routine["id"])["state"] == "met"
    assert deadline_of(view, a.id, "respond", emergency["id"])["state"] == "open"


async def test_a_referral_not_yet_pulled_is_never_handed_out_after_its_withdrawal(world: World) -> None:
    a, b, c = world.platforms
    case_id, request = await world.refer("US")
    assert request.id_of(a) in [i["message_id"] for i in await world.api.inbox(a)]  # a took it in time
    taken = await world.api.client.post(
        "/v1/inbox/ack", json={"message_ids": [request.id_of(a)]}, headers=a.auth(now=world.clock.ts())
    )
    assert taken.status == 200, await taken.text()
    notice = withdrawal(world.hotline, [a, b, c], case_id)
    await world.api.accepted(world.hotline, notice)
    for late in (b, c):  # never the referral (its sealed contact, its URLs): the withdrawal instead
        assert [(i["type"], i["message_id"]) for i in await world.api.inbox(late)] == [
            ("withdrawal", notice["id"])
        ]
    view = await world.view(case_id)
    withheld = {(e["subject"], e["message_id"]) for e in timeline(view, "delivery.withheld")}
    assert withheld == {(b.id, request.id_of(b)), (c.id, request.id_of(c))}
    assert deadline_of(view, c.id, "confirm_deletion")["state"] == "open"
