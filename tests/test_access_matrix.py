"""Who may do what on a case: participant kind x case role x endpoint, as two tables a reader can audit.

The case: a hotline (DE) refers content on three platforms (a fan-out, one signed part per platform
under one case: `recipient`, `other-recipient`, and a platform whose only signing key was then revoked),
and shares the case with a police liaison and a regulator; `other-recipient` acknowledges, the liaison
asks `recipient` for information. Outside it: one unrelated participant of each kind, and the hub
itself, which is in its own directory with its signing key (it signs escalations) but must never act as a
participant.

Reads run against one such case that no test changes. Every write (a share, an ack, a message) runs on a
case of its own, made the same way in a second hub, so no cell depends on another. A third hub holds a
fan-out split per platform (one signed part each, its own URL and hash) for the role x surface matrix
of what each role may see.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from hub.api.app import create_app
from hub.api.keys import HUB_KEY, POOL, SETTINGS
from hub.client.envelope import new_envelope, sign_message
from hub.core.case_view import figures_cover_every_case
from hub.core.clock import rfc3339, utc_now
from hub.core.jose import PrivateSigningJwk, issue_token
from hub.services.cases import read_case_for_operator
from hub.settings import Settings
from hub.store import directory as directory_store
from hub.store.database import connect
from tests.conftest import with_database
from tests.factories import (
    Directory,
    Member,
    acknowledgement,
    jose,
    payload_of,
    refer,
    takedown,
    takedown_parts,
)

HUB_ID = "test-hub"
PROBLEM = "urn:referral-hub:problem:"

# role: (participant id, kind, country). The unrelated participants are named by their kind alone.
CAST = {
    "originator": ("de-hotline", "hotline", "DE"),
    "recipient": ("ie-platform-a", "platform", "IE"),
    "other-recipient": ("ie-platform-b", "platform", "IE"),
    "shared-liaison": ("nl-police", "law-enforcement", "NL"),
    "shared-regulator": ("ie-regulator", "regulator", "IE"),
    "hotline": ("fr-hotline", "hotline", "FR"),
    "platform": ("us-platform", "platform", "US"),
    "regulator": ("gb-regulator", "regulator", "GB"),
    "law-enforcement": ("be-police", "law-enforcement", "BE"),
    "support-service": ("de-support", "support-service", "DE"),
    "revoked": ("ie-platform-revoked", "platform", "IE"),
}
SHARE_TARGET = ("es-police", "law-enforcement", "ES")  # whom the share cells share with
RECIPIENTS = ("recipient", "other-recipient", "revoked")

# What each cell expects: a success status, or a refusal's status and RFC 9457 problem type.
OUTCOMES: dict[str, tuple[int, str | None]] = {
    "200": (200, None),
    "201": (201, None),
    "202": (202, None),
    "listed": (200, None),  # GET /v1/cases: 200, and the case is in the caller's listing
    "unlisted": (200, None),  # GET /v1/cases: 200, and the case is not in it
    "own": (200, None),  # GET /v1/inbox: 200, and exactly the messages addressed to the caller
    "not-a-party": (403, "not-a-party"),
    "unknown-msg": (422, "unknown-message"),  # acking a message that is not in one's inbox
    "revoked": (401, "key-not-valid"),  # the caller's signing key is revoked
    "no-login": (401, "invalid-token"),  # the hub's own key does not log in as a participant
    "hub-key": (403, "sender-mismatch"),  # nor signs a participant's submission
}

# The case's endpoints. `ack-other` acks `other-recipient`'s acknowledgement, addressed to the originator.
CASE_ENDPOINTS = """
role              GET-case     POST-share   GET-cases    GET-inbox    ack-other
originator        200          201          listed       own          200
recipient         200          201          listed       own          unknown-msg
other-recipient   200          201          listed       own          unknown-msg
shared-liaison    200          not-a-party  listed       own          unknown-msg
shared-regulator  200          not-a-party  listed       own          unknown-msg
hotline           not-a-party  not-a-party  unlisted     own          unknown-msg
platform          not-a-party  not-a-party  unlisted     own          unknown-msg
regulator         not-a-party  not-a-party  unlisted     own          unknown-msg
law-enforcement   not-a-party  not-a-party  unlisted     own          unknown-msg
support-service   not-a-party  not-a-party  unlisted     own          unknown-msg
revoked           revoked      revoked      revoked      revoked      revoked
hub               no-login     no-login     no-login     no-login     no-login
"""

# POST /v1/messages on the case, one message type per column. Addressed to the originator, except what
# the originator sends, withdrawals, closures and a non-recipient's information request: to `recipient`
# (to `other-recipient` when `recipient` sends it). Answers reply to the referral.
MESSAGES = """
role              acknowledgement  status-update  withdrawal   information-request  case-closure
originator        not-a-party      not-a-party    202          not-a-party          202
recipient         202              202            not-a-party  202                  not-a-party
other-recipient   202              202            not-a-party  202                  not-a-party
shared-liaison    not-a-party      not-a-party    not-a-party  202                  not-a-party
shared-regulator  not-a-party      not-a-party    not-a-party  not-a-party          not-a-party
hotline           not-a-party      not-a-party    not-a-party  not-a-party          not-a-party
platform          not-a-party      not-a-party    not-a-party  not-a-party          not-a-party
regulator         not-a-party      not-a-party    not-a-party  not-a-party          not-a-party
law-enforcement   not-a-party      not-a-party    not-a-party  not-a-party          not-a-party
support-service   not-a-party      not-a-party    not-a-party  not-a-party          not-a-party
revoked           revoked          revoked        revoked      revoked              revoked
hub               hub-key          hub-key        hub-key      hub-key              hub-key
"""

KNOWN_BUGS: dict[tuple[str, str], Any] = {}  # none left: each bug this matrix found is fixed


def cells(table: str) -> list[Any]:
    header, *rows = (line.split() for line in table.strip().splitlines())
    found = []
    for role, *expected in rows:
        assert len(expected) == len(header) - 1, role
        for column, outcome in zip(header[1:], expected, strict=True):
            assert outcome in OUTCOMES, outcome
            marks = [KNOWN_BUGS[(role, column)]] if (role, column) in KNOWN_BUGS else []
            found.append(pytest.param(role, column, outcome, marks=marks, id=f"{role}-{column}"))
    assert {row[0] for row in rows} == {*CAST, "hub"}
    return found


# -- two hubs ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    id: str
    parts: dict[str, str]  # recipient role -> the id of the takedown request's part it received
    acknowledgement: str  # other-recipient's, to the originator
    information_request: str  # the liaison's, to the recipient

    def referral(self, role: str) -> str:
        """What `role`'s answers reply to: its own part, or (for a role that got none) `recipient`'s."""
        return self.parts.get(role, self.parts["recipient"])


@dataclass
class Hub:
    client: TestClient[Any, Any]
    members: dict[str, Member]
    share_target: Member
    hub_key: PrivateSigningJwk

    def member(self, role: str) -> Member:
        return self.members[role]

    def auth(self, role: str) -> dict[str, str]:
        if role == "hub":
            token = issue_token(self.hub_key, issuer=HUB_ID, audience=HUB_ID, now=int(time.time()))
            return {"Authorization": f"Bearer {token}"}
        return self.members[role].auth()

    def sender(self, role: str) -> tuple[str, PrivateSigningJwk]:
        if role == "hub":
            return HUB_ID, self.hub_key
        return self.members[role].id, self.members[role].key

    async def post_message(self, role: str, envelope: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = await self.client.post(
            "/v1/messages", **jose(sign_message(envelope, self.sender(role)[1]))
        )
        return response.status, await response.json()

    async def accepted(self, role: str, envelope: dict[str, Any]) -> dict[str, Any]:
        status, body = await self.post_message(role, envelope)
        assert status == 202, body
        return body

    async def refer(self) -> Case:
        """The case of the matrix, as the module docstring tells it."""
        m = self.members
        parts = takedown_parts(m["originator"], *(m[role] for role in RECIPIENTS))
        referral = await refer(lambda part: self.accepted("originator", part), parts)
        case_id = referral.case_id
        for role in ("shared-liaison", "shared-regulator"):
            response = await self.client.post(
                f"/v1/cases/{case_id}/shares",
                json={"participant_id": m[role].id},
                headers=self.auth("originator"),
            )
            assert response.status == 201, await response.text()
        ours = referral.id_of(m["other-recipient"])
        answer = acknowledgement(m["other-recipient"], m["originator"], case_id, ours)
        await self.accepted("other-recipient", answer)
        question = new_envelope(
            "information-request",
            sender=m["shared-liaison"].id,
            to=[m["recipient"].id],
            case=case_id,
            body={"questions": ["Which account uploaded the reported item?"], "urgency": "routine"},
        )
        await self.accepted("shared-liaison", question)
        received = {role: referral.id_of(m[role]) for role in RECIPIENTS}
        return Case(case_id, received, answer["id"], question["id"])


@asynccontextmanager
async def running_hub(
    server_dsn: str, template: str, data_dir: Path, metrics_token_file: Path | None = None
) -> AsyncIterator[Hub]:
    name = f"hub_matrix_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    dsn = with_database(server_dsn, name)
    try:
        async with connect(dsn) as conn:
            register = Directory(conn)
            members = {
                role: await register.add(pid, kind, country) for role, (pid, kind, country) in CAST.items()
            }
            share_target = await register.add(*SHARE_TARGET)
            revoked = members["revoked"]
            await directory_store.revoke_key(
                conn, participant_id=revoked.id, kid=revoked.key.kid, reason="key-compromise"
            )
        settings = Settings(
            database_url=dsn,
            data_dir=data_dir,
            hub_id=HUB_ID,
            host="127.0.0.1",
            port=0,
            signing_key_file=data_dir / "hub-signing-key.jwk",
            max_body_bytes=64 * 1024,
            log_level="warning",
            metrics_token_file=metrics_token_file,
        )
        app = create_app(settings, background=False)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        try:
            yield Hub(client, members, share_target, app[HUB_KEY])
        finally:
            await client.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest_asyncio.fixture(scope="module")
async def reading(server_dsn: str, template_dsn: str) -> AsyncIterator[tuple[Hub, Case]]:
    """A hub whose one case no test changes: for the reads."""
    with tempfile.TemporaryDirectory(prefix="hub-matrix-") as tmp:
        async with running_hub(server_dsn, template_dsn, Path(tmp)) as hub:
            yield hub, await hub.refer()


@pytest_asyncio.fixture(scope="module")
async def writing(server_dsn: str, template_dsn: str) -> AsyncIterator[Hub]:
    """A hub for the writes: each test makes its own case there."""
    with tempfile.TemporaryDirectory(prefix="hub-matrix-") as tmp:
        async with running_hub(server_dsn, template_dsn, Path(tmp)) as hub:
            yield hub


def problem_of(status: int, body: Any) -> tuple[int, str | None]:
    kind = body.get("type") if isinstance(body, dict) and status >= 400 else None
    return status, None if kind is None else str(kind).removeprefix(PROBLEM)


# -- the case's endpoints ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("role", "endpoint", "outcome"), cells(CASE_ENDPOINTS))
async def test_case_endpoints(
    role: str, endpoint: str, outcome: str, reading: tuple[Hub, Case], writing: Hub
) -> None:
    if endpoint in ("POST-share", "ack-other"):
        hub, case = writing, await writing.refer()
    else:
        hub, case = reading
    if endpoint == "GET-case":
        response = await hub.client.get(f"/v1/cases/{case.id}", headers=hub.auth(role))
    elif endpoint == "POST-share":
        response = await hub.client.post(
            f"/v1/cases/{case.id}/shares",
            json={"participant_id": hub.share_target.id},
            headers=hub.auth(role),
        )
    elif endpoint == "GET-cases":
        response = await hub.client.get("/v1/cases?limit=200", headers=hub.auth(role))
    elif endpoint == "GET-inbox":
        response = await hub.client.get("/v1/inbox?limit=100", headers=hub.auth(role))
    else:
        response = await hub.client.post(
            "/v1/inbox/ack", json={"message_ids": [case.acknowledgement]}, headers=hub.auth(role)
        )
    body = await response.json()

    assert problem_of(response.status, body) == OUTCOMES[outcome], body
    if outcome in ("listed", "unlisted"):
        assert (case.id in [c["case_id"] for c in body["cases"]]) is (outcome == "listed")
    if outcome == "own":
        assert {m["message_id"] for m in body["messages"]} == own_inbox(role, case)
        for item in body["messages"]:
            assert hub.member(role).id in payload_of(item["message"])["to"]
    if endpoint == "ack-other" and outcome == "200":
        assert body["retrieved"] == [case.acknowledgement]


def own_inbox(role: str, case: Case) -> set[str]:
    """What each role finds in its inbox in the reading hub: what was addressed to it, nothing else."""
    return {
        "originator": {case.acknowledgement},
        "recipient": {case.referral("recipient"), case.information_request},
        "other-recipient": {case.referral("other-recipient")},
    }.get(role, set())


# -- messages on the case ---------------------------------------------------------------------------------
def addressees(hub: Hub, message_type: str, role: str) -> list[str]:
    m = hub.members
    to_a_recipient = message_type in ("withdrawal", "case-closure") or (
        message_type == "information-request" and role not in RECIPIENTS
    )
    if to_a_recipient or role == "originator":
        return [m["other-recipient"].id if role == "recipient" else m["recipient"].id]
    return [m["originator"].id]


BODIES: dict[str, dict[str, Any]] = {
    "acknowledgement": {"received_at": "{now}"},
    "status-update": {"status": "actioned", "action": "removed", "decided_at": "{now}"},
    "withdrawal": {"reason": "victim-request", "delete_data": True},
    "information-request": {"questions": ["Please confirm the reported item."], "urgency": "routine"},
    "case-closure": {"reason": "resolved"},
}


@pytest.mark.parametrize(("role", "message_type", "outcome"), cells(MESSAGES))
async def test_messages_on_the_case(role: str, message_type: str, outcome: str, writing: Hub) -> None:
    case = await writing.refer()
    now = rfc3339(utc_now())
    body = {k: (now if v == "{now}" else v) for k, v in BODIES[message_type].items()}
    replies = message_type in ("acknowledgement", "status-update")
    envelope = new_envelope(
        message_type,
        sender=writing.sender(role)[0],
        to=addressees(writing, message_type, role),
        body=body,
        case=case.id,
        in_reply_to=case.referral(role) if replies else None,
    )

    status, answer = await writing.post_message(role, envelope)

    assert problem_of(status, answer) == OUTCOMES[outcome], answer
    if status == 202:
        assert answer["case_id"] == case.id


# -- what a case view shows to whom -----------------------------------------------------------------------
async def view(hub: Hub, role: str, case_id: str) -> dict[str, Any]:
    response = await hub.client.get(f"/v1/cases/{case_id}", headers=hub.auth(role))
    assert response.status == 200, await response.text()
    found: dict[str, Any] = await response.json()
    return found


@pytest.mark.parametrize("role", ["recipient", "other-recipient"])
async def test_a_recipient_of_a_fan_out_sees_only_its_own_part(role: str, reading: tuple[Hub, Case]) -> None:
    hub, case = reading
    me = hub.member(role).id
    others = {hub.member(r).id for r in RECIPIENTS} - {me}

    mine = await view(hub, role, case.id)
    listing = await (await hub.client.get("/v1/cases", headers=hub.auth(role))).json()

    assert mine["your_role"] == "recipient"
    assert [r["participant_id"] for r in mine["recipients"]] == [me]
    assert mine["shared_with"] == []
    assert not [e for e in mine["timeline"] if {e.get("actor"), e.get("subject")} & others]
    [listed] = [c for c in listing["cases"] if c["case_id"] == case.id]
    assert listed["recipients"] == [me]


@pytest.mark.parametrize("role", ["recipient", "other-recipient"])
async def test_a_recipient_s_case_view_names_no_other_recipient(role: str, reading: tuple[Hub, Case]) -> None:
    hub, case = reading
    shown = json.dumps(await view(hub, role, case.id))

    assert [r for r in RECIPIENTS if r != role and hub.member(r).id in shown] == []


@pytest.mark.parametrize("role", ["originator", "shared-liaison", "shared-regulator"])
async def test_the_originator_and_those_it_shared_with_see_every_recipient(
    role: str, reading: tuple[Hub, Case]
) -> None:
    hub, case = reading

    whole = await view(hub, role, case.id)

    assert {r["participant_id"] for r in whole["recipients"]} == {hub.member(r).id for r in RECIPIENTS}
    assert {s["participant_id"] for s in whole["shared_with"]} == {
        hub.member("shared-liaison").id,
        hub.member("shared-regulator").id,
    }


async def test_whom_a_recipient_shares_with_sees_no_more_than_that_recipient(writing: Hub) -> None:
    case = await writing.refer()
    response = await writing.client.post(
        f"/v1/cases/{case.id}/shares",
        json={"participant_id": writing.member("law-enforcement").id},
        headers=writing.auth("recipient"),
    )
    assert response.status == 201

    seen = await view(writing, "law-enforcement", case.id)

    assert [r["participant_id"] for r in seen["recipients"]] == [writing.member("recipient").id]


async def test_the_hub_cannot_open_a_case_as_a_participant(writing: Hub) -> None:
    request = takedown(writing.member("hotline"), writing.member("recipient"))
    request["from"] = HUB_ID

    status, answer = await writing.post_message("hub", request)

    assert status >= 400, answer


async def test_an_unknown_case_is_not_found_and_another_s_case_is_refused_without_detail(
    reading: tuple[Hub, Case],
) -> None:
    hub, case = reading
    unknown = await hub.client.get(f"/v1/cases/{uuid.uuid4()}", headers=hub.auth("platform"))
    foreign = await hub.client.get(f"/v1/cases/{case.id}", headers=hub.auth("platform"))

    # The two answers differ (404 / 403): a participant learns that a case id it holds exists. Case ids
    # are random UUIDs, so that reveals nothing it could not already know; the body quotes nothing.
    assert problem_of(unknown.status, await unknown.json()) == (404, "case-not-found")
    body = await foreign.json()
    assert problem_of(foreign.status, body) == (403, "not-a-party")
    assert hub.member("recipient").id not in json.dumps(body)


# -- every role x every surface that shows case data, on a fan-out split per platform (issue 14.3) --------
# The originator refers one case to two platforms, one signed part each (its own URL and hash);
# `recipient` shares the case with the liaison (which so sees `recipient`'s part only), the originator
# with the regulator (the whole case). Each role may see the parts below and no others: another part's
# platform id, URL and hash appear on none of its surfaces, and the list's filters find no more than the
# case page shows.
PART_URLS = {
    "recipient": "https://photos.example.com/p/part-a-marker-0001",
    "other-recipient": "https://video.example.org/v/part-b-marker-0002",
}
PART_HASHES = {"recipient": "ab" * 32, "other-recipient": "cd" * 32}
SEES_PARTS = {
    "originator": {"recipient", "other-recipient"},
    "recipient": {"recipient"},
    "other-recipient": {"other-recipient"},
    "shared-liaison": {"recipient"},
    "shared-regulator": {"recipient", "other-recipient"},
    "platform": set(),
    "law-enforcement": set(),
    "regulator": set(),
}
SURFACES = (
    "GET-case",
    "GET-cases",
    "GET-cases-filtered",
    "GET-proofs",
    "GET-messages",
    "GET-inbox",
    "GET-signals",
    "GET-stats",
)


@pytest_asyncio.fixture(scope="module")
async def split(server_dsn: str, template_dsn: str) -> AsyncIterator[tuple[Hub, str]]:
    """A hub with the split fan-out above, and its case id; /metrics needs the scrape token in
    `scrape-token` beside the hub's data."""
    with tempfile.TemporaryDirectory(prefix="hub-matrix-") as tmp:
        token_file = Path(tmp) / "scrape-token"
        token_file.write_text("scrape-" + uuid.uuid4().hex)
        async with running_hub(server_dsn, template_dsn, Path(tmp), metrics_token_file=token_file) as hub:
            m = hub.members
            case_id: str | None = None
            for role in PART_URLS:
                part = takedown(m["originator"], m[role], hash_sharing_consent=True)
                part["body"]["content"] = [
                    {"url": PART_URLS[role], "hashes": [{"alg": "md5", "value": PART_HASHES[role][:32]}]}
                ]
                if case_id is not None:
                    part["case"] = case_id
                case_id = (await hub.accepted("originator", part))["case_id"]
            assert case_id is not None
            for sharer, role in (("recipient", "shared-liaison"), ("originator", "shared-regulator")):
                response = await hub.client.post(
                    f"/v1/cases/{case_id}/shares",
                    json={"participant_id": m[role].id},
                    headers=hub.auth(sharer),
                )
                assert response.status == 201, await response.text()
            yield hub, case_id


async def surface(hub: Hub, role: str, name: str, case_id: str) -> list[tuple[int, Any]]:
    """The role's answers on one surface (several for the list's filters)."""
    paths = {
        "GET-case": [f"/v1/cases/{case_id}"],
        "GET-cases": ["/v1/cases?limit=200"],
        "GET-cases-filtered": [
            *(f"/v1/cases?recipient={hub.member(r).id}" for r in PART_URLS),
            "/v1/cases?country=IE",
            "/v1/cases?state=open",
            "/v1/cases?overdue=false",
        ],
        "GET-proofs": [f"/v1/cases/{case_id}/proofs"],
        "GET-messages": [f"/v1/cases/{case_id}/messages"],
        "GET-inbox": ["/v1/inbox?limit=100"],
        "GET-signals": ["/v1/signals"],
        "GET-stats": ["/v1/stats"],
    }[name]
    answers = []
    for path in paths:
        response = await hub.client.get(path, headers=hub.auth(role))
        body = await response.json() if response.content_type.endswith("json") else await response.text()
        answers.append((response.status, body))
    return answers


@pytest.mark.parametrize("name", SURFACES)
@pytest.mark.parametrize("role", sorted(SEES_PARTS))
async def test_no_surface_shows_a_role_a_part_it_may_not_see(
    role: str, name: str, split: tuple[Hub, str]
) -> None:
    hub, case_id = split
    hidden = set(PART_URLS) - SEES_PARTS[role]
    forbidden = {hub.member(r).id for r in hidden} | {PART_URLS[r] for r in hidden}
    forbidden |= {PART_HASHES[r][:32] for r in hidden} | {
        u.split("/")[2] for r in hidden for u in [PART_URLS[r]]
    }

    if name == "GET-stats" and figures_cover_every_case(CAST[role][1]):
        # A regulator's transparency figures cover every case by rule (hub/core/case_view.py), per
        # platform: the platforms' ids are the figures' labels; never a URL or a hash.
        forbidden -= {hub.member(r).id for r in hidden}
    for status, body in await surface(hub, role, name, case_id):
        text = body if isinstance(body, str) else json.dumps(body)
        if name in ("GET-inbox", "GET-messages") and status == 200:  # signed: read the payloads decoded
            text += json.dumps([payload_of(item["message"]) for item in body["messages"]])
        assert [f for f in forbidden if f in text] == [], (status, name)
        own = SEES_PARTS[role] & {role}  # a recipient's own part reaches it on these surfaces
        if name == "GET-inbox":
            assert [PART_URLS[r] for r in own if PART_URLS[r] not in text] == []
        if name == "GET-signals":
            assert [r for r in own if PART_HASHES[r][:32] not in text] == [], body
        if name == "GET-case":
            if SEES_PARTS[role]:
                assert status == 200, body
                shown = {r["participant_id"] for r in body["recipients"]}
                assert shown == {hub.member(r).id for r in SEES_PARTS[role]}
            else:
                assert problem_of(status, body) == (403, "not-a-party")
        if name.startswith("GET-cases"):
            assert status == 200, body
            listed = [c for c in body["cases"] if c["case_id"] == case_id]
            assert bool(listed) is bool(SEES_PARTS[role]) or name == "GET-cases-filtered"
            for c in listed:
                assert set(c["recipients"]) <= {hub.member(r).id for r in SEES_PARTS[role]}


@pytest.mark.parametrize("role", sorted(SEES_PARTS))
async def test_the_list_s_recipient_filter_finds_the_case_only_through_a_part_the_page_shows(
    role: str, split: tuple[Hub, str]
) -> None:
    hub, case_id = split
    for part in PART_URLS:
        response = await hub.client.get(f"/v1/cases?recipient={hub.member(part).id}", headers=hub.auth(role))
        found = case_id in [c["case_id"] for c in (await response.json())["cases"]]
        assert found is (part in SEES_PARTS[role]), part


async def test_the_operator_s_tools_see_the_whole_case(split: tuple[Hub, str]) -> None:
    hub, case_id = split
    pool = hub.client.app[POOL]
    async with pool.acquire() as conn:
        whole = await read_case_for_operator(conn, uuid.UUID(case_id), utc_now())
    assert {r["participant_id"] for r in whole["recipients"]} == {hub.member(r).id for r in PART_URLS}


# /metrics is the operator's surface (issue 14, 10a): with the scrape token set, no participant's login
# opens it; and what it shows is counted by route, problem, channel and destination, never a case's
# content: no case id, URL or hash of any part, whoever scrapes it.
@pytest.mark.parametrize("role", sorted(SEES_PARTS))
async def test_metrics_are_the_operator_s_and_carry_no_case_data(role: str, split: tuple[Hub, str]) -> None:
    hub, case_id = split
    response = await hub.client.get("/metrics", headers=hub.auth(role))
    assert problem_of(response.status, await response.json()) == (401, "invalid-token")
    token = hub.client.app[SETTINGS].metrics_token_file
    assert token is not None
    scrape = await hub.client.get("/metrics", headers={"Authorization": f"Bearer {token.read_text()}"})
    assert scrape.status == 200
    text = await scrape.text()
    assert "hub_messages_accepted_total" in text  # a real scrape (the parts were accepted), not an empty page
    shown = [case_id, *PART_URLS.values(), *(h[:32] for h in PART_HASHES.values())]
    shown += [u.split("/")[2] for u in PART_URLS.values()]
    assert [value for value in shown if value in text] == []
