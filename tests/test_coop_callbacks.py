"""A platform's ROOST Coop decides, and calls the hub back: the decision is the platform's answer.

End to end against a real PostgreSQL: a hotline's takedown request is delivered by the `coop` adapter to a
local server that speaks Coop's report API (and checks it, `tests/test_coop_adapter.py`); that "Coop"
then calls the hub back as Coop does (roostorg/coop at 1c1f54da: the body of
`server/rule_engine/ActionPublisher.ts`, signed RSASSA-PKCS1-v1_5 SHA-256 over the raw body with the
organisation's key, base64 in `coop-signature`, `server/services/networkingService/index.ts`). A valid
callback becomes the platform's hub-attested answer, on the case timeline and in an evidence bundle that
verifies; a callback whose signature fails is refused and leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import jsonschema
import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from adapters.base import AdapterContext
from adapters.coop import CoopAdapter
from adapters.registry import build_adapters, validate_config
from hub.api.app import create_app
from hub.api.keys import DSN, HUB_KEY, INTAKE, KEYRING, POOL
from hub.core.attestation import provenance
from hub.core.clock import utc_now
from hub.core.jose import PrivateEncryptionJwk, PrivateSigningJwk, parse_jws, sha256_hex
from hub.delivery.worker import DeliveryWorker, WorkerConfig
from hub.evidence.export import export_bundle
from hub.evidence.verify import trust_from_keys, verify_bundle
from hub.policies import load_retention_policy
from hub.settings import Settings
from hub.store import directory as directory_store
from hub.store.case_keys import ShreddedError
from hub.store.coop import open_callback
from hub.store.purge import purge_due_cases
from tests.factories import Member, delivery_worker, jose, register_keys, takedown
from tests.test_coop_adapter import COOP_REPORT_SCHEMA

GUARD = 15.0
API_KEY = "coop-callback-test-key-41"
ACTIONS = {
    "ack-ncii": "acknowledged",
    "remove-ncii": "removed",
    "not-ncii": "declined",
    "purge-data": "deleted",
}
PLATFORM = "ie-platform-coop"
CALLBACK = f"/v1/coop/{PLATFORM}/actions"
ATTESTED = "answered by a Coop action, attested by the hub"


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def coop_sign(key: rsa.RSAPrivateKey, body: bytes) -> str:
    """As Coop's SigningKeyPairService.sign and fetchHTTP do: RSASSA-PKCS1-v1_5 SHA-256, base64."""
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def action_body(item_id: str, action_id: str, **extra: Any) -> bytes:
    """The body ActionPublisher.ts POSTs for a Review Console decision (JSON, as jsonStringify writes it)."""
    body = {
        "item": {"id": item_id, "typeId": "ncii-referral", "typeName": "NCII referral"},
        "policies": [{"id": "ncii", "name": "NCII", "penalty": "SEVERE"}],
        "rules": [],
        "action": {"id": action_id},
        "custom": {"reportHistory": []},
        "actorEmail": "moderator@ie-platform-coop.example",
        **extra,
    }
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass
class CoopHub:
    client: Any
    db: asyncpg.Connection
    session: aiohttp.ClientSession
    hotline: Member
    platform: Member
    coop_key: rsa.RSAPrivateKey
    reports: list[dict[str, Any]] = field(default_factory=list)
    workers: list[DeliveryWorker] = field(default_factory=list)

    @property
    def app(self) -> Any:
        return self.client.app

    async def referral(self) -> tuple[str, str]:
        """A takedown request from the hotline, reported into the platform's Coop; (message id, case id)."""
        envelope = takedown(self.hotline, self.platform)
        response = await self.client.post("/v1/messages", **jose(self.hotline.sign(envelope)))
        assert response.status == 202, await response.text()
        case_id = (await response.json())["case_id"]
        context = AdapterContext(self.session, self.app[INTAKE].hub, utc_now)
        worker = delivery_worker(
            self.app[POOL],
            self.app[DSN],
            build_adapters(context, {"coop": CoopAdapter}),
            self.app[INTAKE],
            utc_now,
            WorkerConfig(poll_interval=0.05, grace=5.0),
        )
        self.workers.append(worker)
        assert await worker.run_once() == 1
        await asyncio.wait_for(worker.wait_idle(), GUARD)
        assert self.reports[-1]["reportedItem"]["id"] == envelope["id"]
        return envelope["id"], case_id

    async def call_back(self, body: bytes, signature: str | None = "sign") -> Any:
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            signature = coop_sign(self.coop_key, body)
        if signature is not None:
            headers["coop-signature"] = signature
        return await self.client.post(CALLBACK, data=body, headers=headers)

    async def timeline(self, case_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(f"/v1/cases/{case_id}", headers=self.hotline.auth())
        assert response.status == 200, await response.text()
        timeline: list[dict[str, Any]] = (await response.json())["timeline"]
        return timeline

    async def stored(self) -> tuple[int, int, int]:
        """(Coop callbacks kept, messages, case events): what a refused callback must not change."""
        return (
            await self.db.fetchval("SELECT count(*) FROM coop_callbacks"),
            await self.db.fetchval("SELECT count(*) FROM messages"),
            await self.db.fetchval("SELECT count(*) FROM case_events"),
        )


async def start_coop(reports: list[dict[str, Any]]) -> web.AppRunner:
    async def report(request: web.Request) -> web.Response:
        if request.headers.get("X-API-KEY") != API_KEY:
            return web.json_response({"errors": [{"title": "Invalid API Key"}]}, status=401)
        body = await request.json()
        jsonschema.Draft4Validator(COOP_REPORT_SCHEMA).validate(body)
        reports.append(body)
        return web.json_response({"reportId": str(uuid.uuid4())}, status=201)

    app = web.Application()
    app.router.add_post("/api/v1/report", report)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


@pytest_asyncio.fixture
async def hub(
    settings: Settings, db: asyncpg.Connection, directory: Any, aiohttp_client: Any, tmp_path: Path
) -> AsyncIterator[CoopHub]:
    key_file = tmp_path / "coop-api-key"
    key_file.write_text(API_KEY)
    reports: list[dict[str, Any]] = []
    coop = await start_coop(reports)
    coop_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    config = {
        "url": f"http://127.0.0.1:{coop.addresses[0][1]}",
        "api_key_file": str(key_file),
        "item_type_id": "ncii-referral",
        "reporter_type_id": "hub-user",
        "reporter_id": "referral-hub",
        "signature_key": public_pem(coop_key),
        "actions": ACTIONS,
    }
    validate_config("coop", config, None)  # as `hub participants add --adapter coop` does
    await directory_store.add_participant(
        db,
        participant_id=PLATFORM,
        name="Fictitious platform reviewing in Coop",
        kind="platform",
        country="IE",
        endpoint=None,
        accepts=["takedown-request"],
        adapter="coop",
        adapter_config=config,
    )
    platform = Member(
        PLATFORM,
        "platform",
        "IE",
        PrivateSigningJwk.generate(f"{PLATFORM}-sig"),
        PrivateEncryptionJwk.generate(f"{PLATFORM}-enc"),
    )
    await register_keys(db, PLATFORM, platform.key, platform.enc)
    client = await aiohttp_client(create_app(settings, background=False))
    async with aiohttp.ClientSession() as session:
        hub = CoopHub(client, db, session, hotline, platform, coop_key, reports)
        try:
            yield hub
        finally:
            for worker in hub.workers:
                await asyncio.wait_for(worker.stop(), GUARD)
            await coop.cleanup()


async def test_a_coop_decision_is_the_platforms_attested_answer_on_the_timeline_and_in_a_bundle(
    hub: CoopHub, settings: Settings
) -> None:
    message_id, case_id = await hub.referral()

    acknowledged = action_body(message_id, "ack-ncii")
    response = await hub.call_back(acknowledged)
    assert response.status == 200, await response.text()
    removed = action_body(message_id, "remove-ncii", decisionReason="Intimate image shared without consent")
    response = await hub.call_back(removed)
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert answer["case_id"] == case_id
    assert answer["receipt"]

    # The same callback again (Coop retries on 5xx): the same answer, nothing new.
    before = await hub.stored()
    again = await hub.call_back(removed)
    assert again.status == 200
    assert (await again.json())["message_id"] == answer["message_id"]
    assert await hub.stored() == before

    # The timeline: the platform's two answers, through Coop, attested by the hub.
    answers = [
        (e["message_type"], e["channel"], e["attested_by"])
        for e in await hub.timeline(case_id)
        if e["event"] == "message.accepted" and e["actor"] == PLATFORM
    ]
    assert answers == [
        ("acknowledgement", "coop", settings.hub_id),
        ("status-update", "coop", settings.hub_id),
    ]
    state = await hub.db.fetchval(
        "SELECT state FROM case_parties WHERE case_id = $1 AND participant_id = $2",
        uuid.UUID(case_id),
        PLATFORM,
    )
    assert state == "actioned"

    # The attested message names the callback's digest, and the hub keeps that very body (encrypted).
    signed = await hub.db.fetchval(
        "SELECT signed_form FROM messages WHERE id = $1", uuid.UUID(answer["message_id"])
    )
    assert signed is not None
    rows = await hub.db.fetch("SELECT * FROM coop_callbacks ORDER BY received_at")
    assert [(r["coop_action_id"], r["verdict"]) for r in rows] == [
        ("ack-ncii", "accepted"),
        ("remove-ncii", "accepted"),
    ]
    assert all(r["raw_encrypted"] for r in rows)
    assert await open_callback(hub.db, hub.app[KEYRING], rows[1]["id"]) == removed
    assert rows[1]["raw"] != removed  # at rest it is ciphertext

    # The evidence bundle: exported for the case, verified offline against the hub's public key.
    bundle = await export_bundle(
        hub.db, uuid.UUID(case_id), hub_id=settings.hub_id, now=utc_now(), keyring=hub.app[KEYRING]
    )
    report = verify_bundle(bundle, trust_from_keys([hub.app[HUB_KEY].public()], "the hub's key"))
    assert report.ok, report.faults
    assert report.checked.get("hub-attested answers") == 2
    payloads = [
        json.loads(parse_jws(m).payload)
        for m in [
            hub.app[KEYRING].open(*r)
            for r in await hub.db.fetch(
                "SELECT k.wrapped_key, m.signed_form, m.form_encrypted FROM messages m "
                "JOIN case_keys k ON k.case_id = m.case_id WHERE m.sender_id = $1 ORDER BY m.accepted_at",
                PLATFORM,
            )
        ]
    ]
    assert [p["attestation"]["evidence_sha256"] for p in payloads] == [
        sha256_hex(acknowledged),
        sha256_hex(removed),
    ]
    assert {p["attestation"]["channel"] for p in payloads} == {"coop"}
    assert {provenance(p, settings.hub_id) for p in payloads} == {ATTESTED}
    assert "moderator@" not in json.dumps(payloads)  # the moderator's address is not put in the answer


def forged(hub: CoopHub, body: bytes) -> list[tuple[str, bytes, str | None]]:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tampered = body.replace(b'"remove-ncii"', b'"remove-ncii" ', 1)
    return [
        ("another organisation's key", body, coop_sign(other, body)),
        ("a body changed after signing", tampered, coop_sign(hub.coop_key, body)),
        ("no signature", body, None),
        ("the t=,v1= form of docs/api/partial-items.md", body, "t=1234567890,v1=5f7d8e9"),
        ("not base64", body, "!!" + coop_sign(hub.coop_key, body)),
    ]


async def test_a_callback_whose_signature_fails_is_refused_and_nothing_is_stored(hub: CoopHub) -> None:
    message_id, case_id = await hub.referral()
    body = action_body(message_id, "remove-ncii")
    before, timeline = await hub.stored(), await hub.timeline(case_id)
    for why, sent, signature in forged(hub, body):
        response = await hub.call_back(sent, signature)
        assert response.status == 403, why
        assert response.content_type == "application/problem+json", why
        problem = await response.json()
        assert problem["type"] == "urn:referral-hub:problem:coop-signature-invalid", why
        assert "WWW-Authenticate" not in response.headers
    assert await hub.stored() == before
    assert await hub.timeline(case_id) == timeline
    state = await hub.db.fetchval(
        "SELECT state FROM case_parties WHERE case_id = $1 AND participant_id = $2",
        uuid.UUID(case_id),
        PLATFORM,
    )
    assert state != "actioned"


@pytest.mark.parametrize(
    ("action", "extra", "status", "code"),
    [
        ("ban-user", {}, 422, "coop-callback-unreadable"),  # not mapped to an answer
        ("not-ncii", {}, 422, "coop-callback-unreadable"),  # a decline without a reason
        ("not-ncii", {"decisionReason": "short"}, 422, "coop-callback-unreadable"),
    ],
)
async def test_a_signed_callback_that_gives_no_answer_is_refused_and_nothing_stored(
    hub: CoopHub, action: str, extra: dict[str, Any], status: int, code: str
) -> None:
    message_id, _ = await hub.referral()
    before = await hub.stored()
    response = await hub.call_back(action_body(message_id, action, **extra))
    assert (response.status, (await response.json())["type"]) == (status, f"urn:referral-hub:problem:{code}")
    assert await hub.stored() == before


async def test_a_decline_carries_the_moderators_reason(hub: CoopHub) -> None:
    message_id, case_id = await hub.referral()
    reason = "The reported image is a licensed stock photo; no intimate content."
    response = await hub.call_back(action_body(message_id, "not-ncii", decisionReason=reason))
    assert response.status == 200, await response.text()
    state = await hub.db.fetchval(
        "SELECT state FROM case_parties WHERE case_id = $1 AND participant_id = $2",
        uuid.UUID(case_id),
        PLATFORM,
    )
    assert state == "declined"


async def test_a_callback_for_no_message_of_this_platform_or_to_no_coop_platform_is_refused(
    hub: CoopHub,
) -> None:
    await hub.referral()
    before = await hub.stored()
    response = await hub.call_back(action_body(str(uuid.uuid4()), "remove-ncii"))
    assert (response.status, (await response.json())["type"]) == (
        422,
        "urn:referral-hub:problem:unknown-message",
    )
    body = action_body(str(uuid.uuid4()), "remove-ncii")
    elsewhere = await hub.client.post(
        "/v1/coop/de-hotline-test/actions",
        data=body,
        headers={"coop-signature": coop_sign(hub.coop_key, body), "Content-Type": "application/json"},
    )
    assert (elsewhere.status, (await elsewhere.json())["type"]) == (404, "urn:referral-hub:problem:not-found")
    assert await hub.stored() == before


async def test_an_answer_the_case_does_not_allow_is_kept_as_evidence_and_refused(hub: CoopHub) -> None:
    message_id, case_id = await hub.referral()
    assert (await hub.call_back(action_body(message_id, "remove-ncii"))).status == 200
    # a deletion confirmation answers a withdrawal, and nothing was withdrawn
    late = await hub.call_back(action_body(message_id, "purge-data"))
    problem = await late.json()
    assert late.status in (409, 422), problem
    rows = await hub.db.fetch("SELECT verdict, recorded_message_id FROM coop_callbacks ORDER BY received_at")
    assert [(r["verdict"], r["recorded_message_id"] is None) for r in rows] == [
        ("accepted", False),
        (problem["type"].removeprefix("urn:referral-hub:problem:"), True),
    ]
    events = [e["event"] for e in await hub.timeline(case_id)]
    assert "coop.not_applied" in events


async def test_the_purge_shreds_the_kept_callbacks_and_a_late_one_is_refused(hub: CoopHub) -> None:
    message_id, case_id = await hub.referral()
    removed = action_body(message_id, "remove-ncii")
    assert (await hub.call_back(removed)).status == 200
    later = utc_now() + timedelta(days=366 * 3)  # past every retention period of the policy
    assert await purge_due_cases(hub.app[POOL], load_retention_policy(), later) == [uuid.UUID(case_id)]

    [row] = await hub.db.fetch("SELECT id, raw FROM coop_callbacks")
    assert row["raw"] is None
    with pytest.raises(ShreddedError):
        await open_callback(hub.db, hub.app[KEYRING], row["id"])
    detail = await hub.db.fetchval("SELECT detail FROM purges WHERE case_id = $1", uuid.UUID(case_id))
    assert (json.loads(detail) if isinstance(detail, str) else detail)["coop_callbacks"] == 1

    before = await hub.stored()
    late = await hub.call_back(action_body(message_id, "ack-ncii"))
    assert (late.status, (await late.json())["type"]) == (410, "urn:referral-hub:problem:case-purged")
    assert await hub.stored() == before
