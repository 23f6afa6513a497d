"""`hub demo`: the whole core path on a throwaway embedded database, printed step by step.

A hotline in Germany, a platform established in Ireland and a police liaison in the Netherlands are
registered; the hotline signs a takedown request (the victim's contact sealed to the platform's key)
and shares the case with the liaison; the platform retrieves it, verifies the hotline's signature and
the hub's receipt, acknowledges it and reports removal; the liaison reads the timeline. All data is
fictitious; nothing is left behind.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from hub.api.keys import HUB_KEY, KEYRING, POOL
from hub.cli.audit import checkpoint_reader
from hub.cli.demo_server import running_hub
from hub.client import HubClient, HubError, new_envelope, verify_inbox_item
from hub.core.audit_verify import verify_log
from hub.core.binding import fingerprint
from hub.core.clock import rfc3339, utc_now
from hub.core.jose import PrivateEncryptionJwk, PrivateSigningJwk, b64url_decode, b64url_encode
from hub.core.sealing import seal, unseal
from hub.evidence.export import export_bundle
from hub.evidence.verify import trust_from_keys, verify_bundle
from hub.log import configure_logging
from hub.services.bindings import bind_own_key
from hub.settings import Settings
from hub.store import directory
from hub.store.audit import load_log, sequence_and_checkpoint
from hub.store.database import connect
from hub.store.embedded import start_embedded_postgres
from hub.store.migrate import migrate

HOTLINE, PLATFORM, LIAISON = "de-hotline-demo", "ie-platform-demo", "nl-police-liaison-demo"
PARTIES: tuple[tuple[str, str, str, str, list[str]], ...] = (
    (HOTLINE, "Demo Helpline (fictitious)", "hotline", "DE", ["takedown-request", "assistance-request"]),
    (PLATFORM, "Demo Photo Platform (fictitious)", "platform", "IE", ["takedown-request"]),
    (LIAISON, "Demo Police Liaison (fictitious)", "law-enforcement", "NL", []),
)


def cmd_demo() -> int:
    configure_logging("warning")
    with tempfile.TemporaryDirectory(prefix="hub-demo-") as tmp:
        embedded = start_embedded_postgres(Path(tmp) / "postgres", cleanup="delete")
        try:
            asyncio.run(_demo(Path(tmp), embedded.dsn()))
        finally:
            embedded.stop()
    return 0


def say(text: str = "") -> None:
    print(text, flush=True)


DEMO_HUB_ID = "demo-hub"


async def _register(dsn: str) -> dict[str, tuple[PrivateSigningJwk, PrivateEncryptionJwk]]:
    keys = {
        pid: (PrivateSigningJwk.generate(f"{pid}-sig"), PrivateEncryptionJwk.generate(f"{pid}-enc"))
        for pid, *_ in PARTIES
    }
    async with connect(dsn) as conn:
        await migrate(conn)
        for pid, name, kind, country, accepts in PARTIES:
            await directory.add_participant(
                conn,
                participant_id=pid,
                name=name,
                kind=kind,
                country=country,
                endpoint=None,
                accepts=accepts,
            )
            sig, enc = keys[pid]
            await directory.add_key(conn, participant_id=pid, jwk=sig.public().to_dict())
            # each participant binds its encryption key with its registered signing key (issue 18)
            await bind_own_key(
                conn, hub_id=DEMO_HUB_ID, participant_id=pid, signer=sig, key=enc.public(), now=utc_now()
            )
            say(f"  registered {pid:<24} {kind:<16} {country}  key {fingerprint(sig.public())[:19]}...")
    return keys


def _sealed(plaintext: dict[str, Any], recipient: str, key: PrivateEncryptionJwk) -> dict[str, Any]:
    ciphertext = seal(json.dumps(plaintext).encode(), key.public())
    return {
        "sealed": [
            {
                "to": recipient,
                "kid": key.kid,
                "alg": "X25519-SEALEDBOX",
                "ciphertext": b64url_encode(ciphertext),
            }
        ]
    }


def takedown_body(platform_enc: PrivateEncryptionJwk, platform: str = PLATFORM) -> dict[str, Any]:
    """The demo's takedown request, its contact sealed to `platform` (as the hotline names it)."""
    return {
        "category": "intimate-image",
        "minor_depicted": "no",
        "content": [{"url": "https://photos.example.com/p/demo-0001", "platform_item_id": "demo-0001"}],
        "non_consent_statement": {
            "affirmed": True,
            "text": "The depicted adult did not consent to publication.",
        },
        "illegality": {
            "explanation": "An intimate image of an identifiable adult was published without consent.",
            "laws": [
                {"jurisdiction": "EU", "citation": "Directive (EU) 2024/1385, Art. 5"},
                {"jurisdiction": "DE", "citation": "StGB section 201a"},
            ],
        },
        "accuracy_statement": {
            "affirmed": True,
            "text": "We believe in good faith that this notice is accurate.",
        },
        "authorisation": {
            "signatory": "authorised-representative",
            "method": "hotline-attestation",
            "signed_at": rfc3339(utc_now()),
            "reference": "DEMO-2026-0001",
        },
        "contact": _sealed({"channel": "via-hotline", "reference": "DEMO-2026-0001"}, platform, platform_enc),
        "jurisdictions": ["EU", "DE", "IE"],
        "identical_copies": True,
    }


async def _demo(data_dir: Path, dsn: str) -> None:
    say("Referral hub demo: a takedown request across three countries (all data fictitious)\n")
    say("1. The operator registers three participants and their public keys:")
    keys = await _register(dsn)
    async with running_hub(DEMO_HUB_ID, dsn, data_dir) as hub:
        async with aiohttp.ClientSession() as session:
            clients = {pid: HubClient(session, hub.url, pid, keys[pid][0]) for pid, *_ in PARTIES}
            case_id = await _story(clients, keys)
        await _proof(hub.app, hub.settings, case_id, data_dir)
    say("\nDone: the request was signed, verified, stored, delivered, acknowledged and actioned, provably.")


async def _proof(app: web.Application, settings: Settings, case_id: str, data_dir: Path) -> None:
    """The record would stand up in court: the audit log verifies, and the case exports as evidence."""
    say("\n7. The proof: the tamper-evident audit log and the case's evidence bundle:")
    pool, key = app[POOL], app[HUB_KEY]
    await sequence_and_checkpoint(pool, key, settings.hub_id, utc_now())
    async with pool.acquire() as conn:
        entries, checkpoints, pending = await load_log(conn)
        bundle = await export_bundle(
            conn, uuid.UUID(case_id), hub_id=settings.hub_id, now=utc_now(), keyring=app[KEYRING]
        )
    public = key.public()
    report = verify_log(
        [dict(e.items()) for e in entries],
        [dict(c.items()) for c in checkpoints],
        checkpoint_reader({public.kid: public}),
        pending,
    )
    if not report.ok:
        raise RuntimeError(f"the demo's audit log does not verify: {report.fault}")
    say(f"  audit log: {report.entries} entries in a Merkle tree, head signed by the hub; it verifies")
    checked = verify_bundle(bundle, trust_from_keys([public], "the demo hub's own key"))
    if not checked.ok:
        raise RuntimeError(f"the demo's evidence bundle does not verify: {checked.faults[0]}")
    counts = ", ".join(f"{n} {what}" for what, n in sorted(checked.checked.items()))
    say(f"  evidence bundle: {len(bundle)} bytes; verified offline: {counts}")


async def _story(
    clients: dict[str, HubClient], keys: dict[str, tuple[PrivateSigningJwk, PrivateEncryptionJwk]]
) -> str:
    hotline, platform, liaison = clients[HOTLINE], clients[PLATFORM], clients[LIAISON]
    say("\n2. The hotline signs a takedown request (victim contact sealed to the platform's X25519 key):")
    request = new_envelope(
        "takedown-request", sender=HOTLINE, to=[PLATFORM], body=takedown_body(keys[PLATFORM][1])
    )
    receipt = await hotline.send(request)
    case_id = receipt["case_id"]
    say(
        f"  accepted: case {case_id}, payload sha256 {receipt['payload_sha256'][:16]}...,"
        f" at {receipt['accepted_at']}"
    )
    say(f"  the hub's signed receipt is a compact JWS of {len(receipt['receipt'])} characters")

    say("\n3. The liaison cannot see the case until the hotline shares it:")
    try:
        await liaison.case(case_id)
        raise RuntimeError("the liaison read a case not shared with it")
    except HubError as refused:
        say(f"  refused: {refused.status} {refused.code}")
    await hotline.share(case_id, LIAISON)
    say(f"  shared with {LIAISON}")

    say("\n4. The platform pulls its inbox and verifies what it got:")
    page = await platform.inbox(wait=5)
    item = page["messages"][0]
    verified = verify_inbox_item(
        item, (await platform.participant(HOTLINE))["jwks"], await platform.hub_jwks()
    )
    contact = verified.envelope["body"]["contact"]["sealed"][0]
    unseal(b64url_decode(contact["ciphertext"]), keys[PLATFORM][1])
    say(
        f"  {item['type']} from {item['from']}: hotline signature OK, hub receipt OK,"
        " contact unsealed locally"
    )
    await platform.ack([item["message_id"]])

    say("\n5. The platform acknowledges receipt, then reports removal:")
    for message_type, body in (
        ("acknowledgement", {"received_at": rfc3339(utc_now()), "reference": "DEMO-TICKET-42"}),
        (
            "status-update",
            {
                "status": "actioned",
                "action": "removed",
                "decided_at": rfc3339(utc_now()),
                "identical_copies_removed": 1,
            },
        ),
    ):
        answer = new_envelope(
            message_type, sender=PLATFORM, to=[HOTLINE], body=body, case=case_id, in_reply_to=request["id"]
        )
        await platform.send(answer)
        say(f"  {message_type} accepted")

    say("\n6. The case as the police liaison sees it:")
    case = await liaison.case(case_id)
    say(
        f"  status: {case['status']}; "
        + ", ".join(f"{r['participant_id']}: {r['state']}" for r in case["recipients"])
    )
    for event in case["timeline"]:
        change = f" {event.get('from_state', '-')} -> {event['to_state']}" if "to_state" in event else ""
        subject = f" [{event['subject']}]" if "subject" in event else ""
        kind = f" ({event['message_type']})" if "message_type" in event else ""
        if "deadline" in event:
            kind = f" {event['deadline']}, due {event['due_at'][:16]} ({event['rule']})"
        say(f"  {event['at']}  {event['event']:<24} by {event['actor']}{subject}{change}{kind}")
    say("\n  Legal clocks of the platform (EU law applies to this request):")
    for deadline in case["recipients"][0]["deadlines"]:
        say(f"  {deadline['deadline']:<12} {deadline['state']:<6} due {deadline['due_at']}")
        say(f"      {deadline['legal_basis']}")
    if case["status"] != "actioned":
        raise RuntimeError(f"the demo ended with case status {case['status']}")
    return str(case_id)
