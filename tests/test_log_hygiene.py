"""Log hygiene: every flow runs with a distinctive marker in each personal field a participant can send in
clear, and no marker appears in any log line the hub prints, nor in any problem (error) response.

The markers do reach the parties the messages are addressed to (the inbox items carry them, which also
shows that the search would find one): that is the data, not a log. Logs are captured from the hub's own
structlog configuration at debug level, from stdlib logging (aiohttp's access and server logs) and from
stdout and stderr; each marker is looked for in clear, in hex and in base64 / base64url (a logged JWS
would carry it in that form).
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
from aiohttp import web

from adapters.base import AdapterContext
from adapters.registry import build_adapters
from hub.api.app import create_app
from hub.api.keys import HUB_KEY, INTAKE, POOL
from hub.client.envelope import new_envelope
from hub.clocks.worker import ClockWorker
from hub.core.clock import rfc3339
from hub.core.hub_identity import HubIdentity
from hub.core.jose import PrivateSigningJwk, b64url_encode, sign_compact
from hub.core.retry import RetryPolicy
from hub.delivery.worker import WorkerConfig
from hub.services.issuer import Issuer
from hub.settings import Settings
from hub.store import directory as directory_store
from tests.factories import (
    Directory,
    FakeClock,
    Member,
    Referral,
    add_with_endpoint,
    delivery_worker,
    payload_of,
    refer,
    routed,
    split_takedown,
    takedown_body,
)
from tests.test_plaintext_search import Logs, capturing_logs, found_in

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"

# One marker per personal field that travels in clear. Hosts are lower case, as URLs' hosts are compared.
MARK = {
    "url_host": "mkhost4q7z",
    "url_path": "MKurlpath4Q7Z",
    "item_id": "MKitemid8W2X",
    "description": "MKdescription3V6N",
    "non_consent": "MKnonconsent5T1B",
    "explanation": "MKexplanation9R4D",
    "accuracy": "MKaccuracy2P8F",
    "authorisation_reference": "MKauthref6L3G",
    "notes": "MKnotes1K5H",
    "ack_reference": "MKackref7J9M",
    "ack_note": "MKacknote4C2S",
    "outcome_url": "MKoutcomeurl6E1Y",
    "facts": "MKfacts5U8A",
    "legal_ground": "MKlegalground3I7O",
    "decline_reason": "MKdeclinereason2W6Q",
    "question": "MKquestion8T3Z",
    "order_basis": "MKorderbasis1N4B",
    "answer": "MKanswer9X5V",
    "withdrawal_note": "MKwithdrawalnote7D2K",
    "retained_item": "MKretaineditem4G8H",
    "retained_basis": "MKretainedbasis6P1L",
    "deletion_note": "MKdeletionnote3F9R",
    "closure_note": "MKclosurenote5S2T",
}
MARKERS = tuple(MARK.values())
CONTENT_URL = f"https://{MARK['url_host']}.example.net/v/{MARK['url_path']}"


def in_words(marker: str) -> str:
    """A sentence long enough for every template's minimum, with the marker inside."""
    return f"This statement was written for the test and carries {marker} in the middle of it."


def example_body(template: str, name: str = "full") -> dict[str, Any]:
    path = SCHEMAS / template / "examples" / "valid" / f"{name}.json"
    body: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["body"]
    return copy.deepcopy(body)


# -- marked messages --------------------------------------------------------------------------------------
def referral(sender: Member, *to: Member, **overrides: Any) -> dict[str, Any]:
    body = takedown_body(*to)
    body["content"] = [
        {
            "url": CONTENT_URL,
            "platform_item_id": MARK["item_id"],
            "description": in_words(MARK["description"]),
            "hashes": [{"alg": "md5", "value": "0cc175b9c0f1b6a831c399e269772661"}],
        }
    ]
    body["non_consent_statement"]["text"] = in_words(MARK["non_consent"])
    body["illegality"]["explanation"] = in_words(MARK["explanation"])
    body["accuracy_statement"]["text"] = in_words(MARK["accuracy"])
    body["authorisation"]["reference"] = MARK["authorisation_reference"]
    body["notes"] = in_words(MARK["notes"])
    body.update(overrides)
    return new_envelope("takedown-request", sender=sender.id, to=[m.id for m in to], body=body)


def marked_parts(sender: Member, *platforms: Member) -> list[dict[str, Any]]:
    """The marked referral to several platforms, as the client sends it: one part each, each with its
    own copy of the marked locator."""
    whole = referral(sender, *platforms)
    [locator] = whole["body"]["content"]
    whole["body"]["content"] = [
        {**locator, "url": f"{locator['url']}-{p.id}", "for": p.id} for p in platforms
    ]
    return split_takedown(whole, *platforms)


def on_case(
    message_type: str, sender: Member, to: list[Member], case_id: str, body: dict[str, Any], reply: str | None
) -> dict[str, Any]:
    return new_envelope(
        message_type, sender=sender.id, to=[m.id for m in to], body=body, case=case_id, in_reply_to=reply
    )


def acknowledged(sender: Member, to: Member, case_id: str, reply: str, now: str) -> dict[str, Any]:
    body = {"received_at": now, "reference": MARK["ack_reference"], "note": in_words(MARK["ack_note"])}
    return on_case("acknowledgement", sender, [to], case_id, body, reply)


def actioned(sender: Member, to: Member, case_id: str, reply: str, now: str) -> dict[str, Any]:
    body = example_body("status-update")
    body["decided_at"] = now
    body["items"] = [
        {"url": f"https://media.example.com/{MARK['outcome_url']}", "outcome": "removed"},
        {"platform_item_id": MARK["item_id"], "outcome": "removed"},
    ]
    body["statement_of_reasons"]["facts"] = in_words(MARK["facts"])
    body["statement_of_reasons"]["legal_ground"] = in_words(MARK["legal_ground"])
    return on_case("status-update", sender, [to], case_id, body, reply)


def declined(sender: Member, to: Member, case_id: str, reply: str, now: str) -> dict[str, Any]:
    body = {
        "status": "declined",
        "decided_at": now,
        "decline_reason": in_words(MARK["decline_reason"]),
        "items": [{"url": CONTENT_URL, "outcome": "not-found"}],
    }
    return on_case("status-update", sender, [to], case_id, body, reply)


def question(sender: Member, to: Member, case_id: str, *, order: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"questions": [in_words(MARK["question"])], "urgency": "routine"}
    if order:
        body["legal_basis"] = f"Regulation (EU) 2023/1543, {MARK['order_basis']}"
    return on_case("information-request", sender, [to], case_id, body, None)


def answered(sender: Member, to: Member, case_id: str, reply: str) -> dict[str, Any]:
    return on_case(
        "information-response", sender, [to], case_id, {"answers": [in_words(MARK["answer"])]}, reply
    )


def withdrawn(sender: Member, to: list[Member], case_id: str) -> dict[str, Any]:
    body = {"reason": "victim-request", "delete_data": True, "note": in_words(MARK["withdrawal_note"])}
    return on_case("withdrawal", sender, to, case_id, body, None)


def deletion(sender: Member, to: Member, case_id: str, reply: str, now: str) -> dict[str, Any]:
    body = {
        "deleted_at": now,
        "scope": "referral-only",
        "retained": [
            {"item": in_words(MARK["retained_item"]), "legal_basis": in_words(MARK["retained_basis"])}
        ],
        "note": in_words(MARK["deletion_note"]),
    }
    return on_case("deletion-confirmation", sender, [to], case_id, body, reply)


def closure(sender: Member, to: list[Member], case_id: str) -> dict[str, Any]:
    body = {"reason": "resolved", "note": in_words(MARK["closure_note"])}
    return on_case("case-closure", sender, to, case_id, body, None)


# -- a hub whose every answer is kept ---------------------------------------------------------------------
@dataclass
class World:
    client: Any  # aiohttp's TestClient
    app: web.Application
    clock: FakeClock
    db: asyncpg.Connection
    hotline: Member
    a: Member
    b: Member
    liaison: Member
    regulator: Member
    problems: list[str] = field(default_factory=list)
    received: list[str] = field(default_factory=list)  # what the parties got: where the markers belong

    def now(self) -> str:
        return rfc3339(self.clock.now)

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        response = await self.client.request(method, path, **kwargs)
        text = await response.text()
        if response.status >= 400:
            self.problems.append(f"{response.status} {dict(response.headers)} {text}")
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text

    async def submit(self, raw: bytes, content_type: str = "application/jose") -> tuple[int, Any]:
        return await self.request("POST", "/v1/messages", data=raw, headers={"Content-Type": content_type})

    async def send(self, member: Member, envelope: dict[str, Any]) -> tuple[int, Any]:
        return await self.submit(member.sign(envelope).encode())

    async def accepted(self, member: Member, envelope: dict[str, Any]) -> dict[str, Any]:
        status, body = await self.send(member, envelope)
        assert status == 202, body
        return dict(body)

    async def as_member(self, member: Member, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.request(method, path, headers=member.auth(now=self.clock.ts()), **kwargs)

    async def empty_inbox(self, member: Member) -> list[dict[str, Any]]:
        """Read the inbox, keep what it held, acknowledge it all."""
        status, page = await self.as_member(member, "GET", "/v1/inbox?limit=100")
        assert status == 200, page
        items: list[dict[str, Any]] = page["messages"]
        self.received += [json.dumps(item) for item in items]
        if items:
            ids = [i["message_id"] for i in items]
            status, _ = await self.as_member(member, "POST", "/v1/inbox/ack", json={"message_ids": ids})
            assert status == 200
        return items

    def assert_clean(self, logs: Logs, *expected_events: str) -> None:
        text = logs.text()
        for event in expected_events:  # the capture works: the hub's own lines are there
            assert f'"event": "{event}"' in text, event
        assert found_in(text, *MARKERS) == set()
        assert found_in("\n".join(self.problems), *MARKERS) == set()


@pytest.fixture
def hub_logs(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Iterator[Logs]:
    with capturing_logs(capsys, caplog) as logs:
        yield logs


@pytest_asyncio.fixture
async def world(
    settings: Settings, db: asyncpg.Connection, directory: Directory, aiohttp_client: Any
) -> World:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    a = await directory.add("ie-platform-a", "platform", "IE")
    b = await directory.add("ie-platform-b", "platform", "IE")
    liaison = await directory.add("nl-police-test", "law-enforcement", "NL")
    regulator = await directory.add("us-regulator-test", "regulator", "US")
    clock = FakeClock()
    app = create_app(settings, clock=clock, background=False)
    client = await aiohttp_client(app)
    return World(client, app, clock, db, hotline, a, b, liaison, regulator)


# -- the whole pull flow ----------------------------------------------------------------------------------
async def test_the_pull_flow_logs_no_personal_value(world: World, hub_logs: Logs) -> None:
    w, now = world, world.now()
    request = await refer(lambda part: w.accepted(w.hotline, part), marked_parts(w.hotline, w.a, w.b))
    case_id = request.case_id
    share = {"participant_id": w.liaison.id}
    assert (await w.as_member(w.hotline, "POST", f"/v1/cases/{case_id}/shares", json=share))[0] == 201

    [item] = await w.empty_inbox(w.a)
    assert found_in(item["message"], *MARKERS) >= {MARK["description"], MARK["notes"]}  # the data arrives
    await w.empty_inbox(w.b)
    await w.accepted(w.a, acknowledged(w.a, w.hotline, case_id, request.id_of(w.a), now))
    await w.accepted(w.a, actioned(w.a, w.hotline, case_id, request.id_of(w.a), now))
    ask = question(w.b, w.hotline, case_id)
    await w.accepted(w.b, ask)
    await w.accepted(w.hotline, answered(w.hotline, w.b, case_id, ask["id"]))
    order = question(w.liaison, w.a, case_id, order=True)
    await w.accepted(w.liaison, order)
    await w.accepted(w.a, answered(w.a, w.liaison, case_id, order["id"]))
    await w.accepted(w.b, declined(w.b, w.hotline, case_id, request.id_of(w.b), now))
    for member in (w.hotline, w.a, w.b, w.liaison):
        await w.empty_inbox(member)
        assert (await w.as_member(member, "GET", f"/v1/cases/{case_id}"))[0] == 200
        assert (await w.as_member(member, "GET", "/v1/cases"))[0] == 200

    notice = withdrawn(w.hotline, [w.a], case_id)
    await w.accepted(w.hotline, notice)
    await w.accepted(w.a, deletion(w.a, w.hotline, case_id, notice["id"], now))
    await w.accepted(w.hotline, closure(w.hotline, [w.a, w.b], case_id))
    for member in (w.hotline, w.a, w.b):
        await w.empty_inbox(member)
    assert (await w.as_member(w.hotline, "GET", f"/v1/cases/{case_id}"))[1]["status"] == "closed"

    assert found_in("\n".join(w.received), *MARKERS) == set(MARKERS)  # every marker reached a party
    w.assert_clean(hub_logs, "message.accepted")


# -- every refusal ----------------------------------------------------------------------------------------
Refusal = Callable[[World], Awaitable[tuple[int, Any]]]


async def _open_case(w: World) -> tuple[str, Referral]:
    request = await refer(lambda part: w.accepted(w.hotline, part), marked_parts(w.hotline, w.a, w.b))
    return request.case_id, request


async def schema_invalid(w: World) -> tuple[int, Any]:
    request = referral(w.hotline, w.a)
    request["body"]["content"].append(
        {
            "url": f"ftp://{MARK['url_host']}.example.net/{MARK['url_path']}",
            "description": MARK["description"] * 40,
        }
    )
    request["body"]["illegality"]["explanation"] = MARK["explanation"]  # too short
    request["body"]["contact"] = {"email": f"{MARK['notes']}@example.org"}  # a contact in clear
    request["body"]["victim"] = MARK[
        "accuracy"
    ]  # an unexpected property: its name is quoted, its value never
    return await w.send(w.hotline, request)


async def csam_referral(w: World) -> tuple[int, Any]:
    return await w.send(w.hotline, referral(w.hotline, w.a, minor_depicted="yes"))


async def unknown_template(w: World) -> tuple[int, Any]:
    return await w.send(w.hotline, {**referral(w.hotline, w.a), "version": "9.9"})


async def unknown_recipient(w: World) -> tuple[int, Any]:
    request = referral(w.hotline, w.a)
    return await w.send(w.hotline, {**request, "to": ["nobody-here"]})


async def invalid_recipient(w: World) -> tuple[int, Any]:
    return await w.send(w.hotline, {**referral(w.hotline, w.a), "to": [w.hotline.id]})


async def does_not_accept(w: World) -> tuple[int, Any]:
    return await w.send(w.hotline, {**referral(w.hotline, w.a), "to": [w.regulator.id]})


async def unroutable(w: World) -> tuple[int, Any]:
    return await w.send(w.hotline, routed(referral(w.hotline, w.a), {"by": "content"}))


async def ambiguous_route(w: World) -> tuple[int, Any]:
    return await w.send(w.hotline, routed(referral(w.hotline, w.a), {"kind": "platform", "country": "IE"}))


async def duplicate_id(w: World) -> tuple[int, Any]:
    request = referral(w.hotline, w.a)
    await w.accepted(w.hotline, request)
    request["body"]["notes"] = in_words(MARK["explanation"])
    return await w.send(w.hotline, request)


async def sender_mismatch(w: World) -> tuple[int, Any]:
    return await w.submit(w.a.sign(referral(w.hotline, w.a)).encode())


async def unknown_key(w: World) -> tuple[int, Any]:
    stranger = PrivateSigningJwk.generate("nobody-knows-this-key")
    return await w.submit(w.hotline.sign(referral(w.hotline, w.a), stranger).encode())


async def key_not_valid(w: World) -> tuple[int, Any]:
    await directory_store.revoke_key(w.db, participant_id=w.b.id, kid=w.b.key.kid, reason="key-compromise")
    return await w.send(w.b, referral(w.b, w.a))


async def bad_signature(w: World) -> tuple[int, Any]:
    header, _, signature = w.hotline.sign(referral(w.hotline, w.a)).split(".")
    forged = b64url_encode(json.dumps(referral(w.hotline, w.b)).encode())
    return await w.submit(f"{header}.{forged}.{signature}".encode())


async def payload_not_json(w: World) -> tuple[int, Any]:
    return await w.submit(sign_compact(" ".join(MARKERS).encode(), w.hotline.key).encode())


async def body_not_json(w: World) -> tuple[int, Any]:
    return await w.submit(" ".join(MARKERS).encode(), "application/jose+json")


async def malformed_jws(w: World) -> tuple[int, Any]:
    return await w.submit(".".join(MARKERS).encode())


async def wrong_media_type(w: World) -> tuple[int, Any]:
    return await w.submit(w.hotline.sign(referral(w.hotline, w.a)).encode(), "text/plain")


async def too_large(w: World) -> tuple[int, Any]:
    request = referral(w.hotline, w.a)
    request["body"]["content"] *= 400
    return await w.send(w.hotline, request)


async def hub_only_type(w: World) -> tuple[int, Any]:
    return await w.send(w.hotline, {**referral(w.hotline, w.a), "attestation": {"by": "test-hub"}})


async def not_a_party(w: World) -> tuple[int, Any]:
    case_id, request = await _open_case(w)
    return await w.send(w.liaison, declined(w.liaison, w.hotline, case_id, request.id_of(w.a), w.now()))


async def invalid_transition(w: World) -> tuple[int, Any]:
    case_id, request = await _open_case(w)
    await w.accepted(w.hotline, withdrawn(w.hotline, [w.a], case_id))
    return await w.send(w.a, actioned(w.a, w.hotline, case_id, request.id_of(w.a), w.now()))


async def invalid_reply(w: World) -> tuple[int, Any]:
    case_id, _ = await _open_case(w)
    return await w.send(w.a, acknowledged(w.a, w.hotline, case_id, str(uuid.uuid4()), w.now()))


async def unknown_case(w: World) -> tuple[int, Any]:
    return await w.send(w.a, declined(w.a, w.hotline, str(uuid.uuid4()), str(uuid.uuid4()), w.now()))


async def case_closed(w: World) -> tuple[int, Any]:
    case_id, request = await _open_case(w)
    await w.accepted(w.hotline, closure(w.hotline, [w.a, w.b], case_id))
    return await w.send(w.a, actioned(w.a, w.hotline, case_id, request.id_of(w.a), w.now()))


async def share_not_a_party(w: World) -> tuple[int, Any]:
    case_id, _ = await _open_case(w)
    body = {"participant_id": w.regulator.id, "note": MARK["notes"]}
    return await w.as_member(w.liaison, "POST", f"/v1/cases/{case_id}/shares", json=body)


async def unknown_message(w: World) -> tuple[int, Any]:
    return await w.as_member(w.a, "POST", "/v1/inbox/ack", json={"message_ids": [str(uuid.uuid4())]})


async def missing_token(w: World) -> tuple[int, Any]:
    return await w.request("POST", "/v1/inbox/ack", json={"message_ids": [MARK["notes"]]})


async def invalid_token(w: World) -> tuple[int, Any]:
    token = ".".join(b64url_encode(m.encode()) for m in MARKERS[:3])
    return await w.request("GET", "/v1/inbox", headers={"Authorization": f"Bearer {token}"})


async def token_replay(w: World) -> tuple[int, Any]:
    headers = w.a.auth(now=w.clock.ts())
    await w.request("GET", "/v1/inbox", headers=headers)
    return await w.request("POST", "/v1/inbox/ack", headers=headers, json={"message_ids": [MARK["notes"]]})


async def invalid_parameter(w: World) -> tuple[int, Any]:
    return await w.as_member(w.a, "POST", "/v1/inbox/ack", json={"message_ids": [MARK["notes"]]})


async def case_not_found(w: World) -> tuple[int, Any]:
    return await w.as_member(w.a, "GET", "/v1/cases/not-a-case-id")


async def not_found(w: World) -> tuple[int, Any]:
    return await w.request("POST", "/v1/notes", json={"note": MARK["closure_note"]})


async def method_not_allowed(w: World) -> tuple[int, Any]:
    return await w.request("PUT", "/v1/messages", data=w.hotline.sign(referral(w.hotline, w.a)).encode())


REFUSALS: dict[str, tuple[Refusal, str]] = {
    "missing-token": (missing_token, "missing-token"),
    "invalid-token": (invalid_token, "invalid-token"),
    "token-replay": (token_replay, "token-replay"),
    "parameter": (invalid_parameter, "invalid-parameter"),
    "case-not-found": (case_not_found, "case-not-found"),
    "not-found": (not_found, "not-found"),
    "method": (method_not_allowed, "method-not-allowed"),
    "schema": (schema_invalid, "schema-invalid"),
    "csam": (csam_referral, "csam-referral"),
    "template": (unknown_template, "unknown-template"),
    "unknown-recipient": (unknown_recipient, "unknown-recipient"),
    "own-sender": (invalid_recipient, "invalid-recipient"),
    "does-not-accept": (does_not_accept, "recipient-does-not-accept"),
    "unroutable": (unroutable, "unroutable"),
    "ambiguous-route": (ambiguous_route, "ambiguous-route"),
    "duplicate-id": (duplicate_id, "duplicate-id"),
    "sender-mismatch": (sender_mismatch, "sender-mismatch"),
    "unknown-key": (unknown_key, "unknown-key"),
    "revoked-key": (key_not_valid, "key-not-valid"),
    "bad-signature": (bad_signature, "bad-signature"),
    "payload-not-json": (payload_not_json, "malformed-json"),
    "body-not-json": (body_not_json, "malformed-json"),
    "malformed-jws": (malformed_jws, "malformed-jws"),
    "media-type": (wrong_media_type, "unsupported-media-type"),
    "too-large": (too_large, "body-too-large"),
    "attested": (hub_only_type, "hub-only-type"),
    "not-a-party": (not_a_party, "not-a-party"),
    "transition": (invalid_transition, "invalid-transition"),
    "reply": (invalid_reply, "invalid-reply"),
    "unknown-case": (unknown_case, "unknown-case"),
    "closed": (case_closed, "case-closed"),
    "share": (share_not_a_party, "not-a-party"),
    "ack": (unknown_message, "unknown-message"),
}


@pytest.mark.parametrize("name", list(REFUSALS))
async def test_a_refusal_quotes_and_logs_no_personal_value(name: str, world: World, hub_logs: Logs) -> None:
    attempt, code = REFUSALS[name]

    status, problem = await attempt(world)

    assert status >= 400
    assert problem["type"] == f"urn:referral-hub:problem:{code}", problem
    routing_error = code in ("not-found", "method-not-allowed")  # aiohttp's, logged by its access log only
    world.assert_clean(hub_logs, *([] if routing_error else ["request.refused"]))


# -- push delivery, its failures, and an answer in the webhook's response ---------------------------------
@dataclass
class Receiver:
    """A platform's webhook: records what it got, and answers each referral as its notes say (markers
    in the body of its error answers, a signed status-update full of markers in a 200's)."""

    answers: dict[str, Callable[[dict[str, Any]], web.Response]] = field(default_factory=dict)
    got: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.got.append(json.dumps(body))
        answer = self.answers.get(payload_of(body["message"])["body"].get("notes", ""))
        return answer(body) if answer else web.Response(status=200)


async def test_push_delivery_and_its_failures_log_no_personal_value(
    world: World, db: asyncpg.Connection, aiohttp_server: Any, hub_logs: Logs
) -> None:
    w, receiver = world, Receiver()
    server = await aiohttp_server(_receiver_app(receiver))
    pushed = await add_with_endpoint(db, "ie-platform-push", "platform", "IE", str(server.make_url("/hook")))

    def signed_answer(message: dict[str, Any]) -> web.Response:
        answer = actioned(pushed, w.hotline, message["case_id"], message["message_id"], w.now())
        return web.Response(status=200, body=pushed.sign(answer).encode(), content_type="application/jose")

    def invalid_answer(message: dict[str, Any]) -> web.Response:
        answer = actioned(pushed, w.hotline, message["case_id"], message["message_id"], w.now())
        # Facts of 5000 characters at most: this answer is refused, after the push was delivered.
        answer["body"]["statement_of_reasons"]["facts"] = MARK["facts"] * 600
        return web.Response(status=200, body=pushed.sign(answer).encode(), content_type="application/jose")

    outcomes = {"answered": signed_answer, "refused-answer": invalid_answer}
    receiver.answers = {in_words(k): v for k, v in outcomes.items()}
    receiver.answers[in_words("server-error")] = lambda _: web.Response(status=500, text=" ".join(MARKERS))
    receiver.answers[in_words("client-error")] = lambda _: web.Response(status=400, text=" ".join(MARKERS))
    for kind in ("answered", "refused-answer", "server-error", "client-error"):
        await w.accepted(w.hotline, referral(w.hotline, pushed, notes=in_words(kind)))

    async with aiohttp.ClientSession() as session:
        context = AdapterContext(session, HubIdentity("test-hub", w.app[HUB_KEY]), w.clock)
        config = WorkerConfig(poll_interval=0.05, policy=RetryPolicy(max_attempts=3))
        worker = delivery_worker(w.app[POOL], "", build_adapters(context), w.app[INTAKE], w.clock, config)
        for _ in range(3):  # the server error is retried, and dead after its third attempt
            await worker.run_once()
            await worker.wait_idle()
            w.clock.advance(hours=1)
        await worker.stop()

    states = dict(
        await db.fetch("SELECT state, count(*) FROM deliveries WHERE recipient_id = $1 GROUP BY 1", pushed.id)
    )
    assert states == {"delivered": 2, "dead": 2}
    assert found_in("\n".join(receiver.got), *MARKERS)  # the platform got the data
    w.assert_clean(
        hub_logs,
        "delivery.delivered",
        "delivery.attempt_failed",
        "delivery.dead",
        "delivery.answer_accepted",
        "delivery.answer_refused",
    )


def _receiver_app(receiver: Receiver) -> web.Application:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    return app


# -- legal clocks: reminders, a breach escalated to the regulator -----------------------------------------
async def test_clock_reminders_and_breaches_log_no_personal_value(world: World, hub_logs: Logs) -> None:
    w = world
    request = referral(w.hotline, w.a, jurisdictions=["US"])
    case_id = (await w.accepted(w.hotline, request))["case_id"]
    clocks = ClockWorker(w.app[POOL], Issuer(w.app[INTAKE]), w.clock)

    w.clock.advance(hours=36, minutes=1)
    assert await clocks.run_once() >= 1  # reminders
    w.clock.advance(hours=12)
    assert await clocks.run_once() >= 1  # breaches, escalated to the US regulator
    await w.accepted(w.a, actioned(w.a, w.hotline, case_id, request["id"], w.now()))  # late

    escalated = await w.empty_inbox(w.regulator)
    assert [i["type"] for i in escalated] == ["escalation"]
    assert (await w.as_member(w.regulator, "GET", f"/v1/cases/{case_id}"))[0] == 200
    for member in (w.hotline, w.a):
        await w.empty_inbox(member)
    w.assert_clean(hub_logs, "deadline.reminded", "deadline.breached")
