"""Issue 20, "deadlines and law where they belong" (docs/federation.md, section 6): each hub counts its
own participants' legal clocks, from its own delivery to them, and tells the peer hub's participant who
asked how each ended (met, breached; a breach also as the hub's own escalation) with a hub-signed
`clock-result`, which the peer takes from the hub itself and records on its case. The sending hub counts
no clock of a peer's participant."""

from __future__ import annotations

import json
import uuid
from typing import Any

from hub.api.keys import INTAKE, POOL
from hub.client.verify import verify_inbox_item
from hub.clocks.worker import ClockWorker
from hub.core.jose import issue_token, parse_jws, sha256_hex, sign_compact
from hub.core.receipt import sign_receipt
from hub.services.issuer import Issuer
from tests.factories import Member, acknowledgement
from tests.test_federation_forwarding import hub_b_url, hub_settings  # noqa: F401  (fixtures)
from tests.test_federation_two_hubs import (  # noqa: F401  (a fixture)
    HUB_A,
    HUB_B,
    PROBLEM,
    Federation,
    Peer,
    federation,
)


def clocks_of(peer: Peer) -> ClockWorker:
    app = peer.app
    return ClockWorker(app[POOL], Issuer(app[INTAKE]), peer.clock)


async def inbox_of(peer: Peer, member: Member) -> list[dict[str, Any]]:
    token = member.token(audience=peer.identity.hub_id, now=peer.clock.ts())
    response = await peer.client.get("/v1/inbox", headers={"Authorization": f"Bearer {token}"})
    return list((await response.json())["messages"])


def envelope_of(item: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(parse_jws(item["message"].encode()).payload))


async def test_hub_b_counts_its_platforms_clocks_and_tells_hub_a_how_they_ended(
    federation: Federation,  # noqa: F811
) -> None:
    f = federation
    sent = await f.send()
    case_id = sent["case_id"]
    await f.forward_all()
    # A counts no clock of B's platform; B counts them from its own delivery to it
    assert await f.a.db.fetchval("SELECT count(*) FROM deadlines") == 0
    await inbox_of(f.b, f.platform)
    kinds = await f.b.db.fetch("SELECT kind, state FROM deadlines WHERE recipient_id = 'ie-platform'")
    assert sorted((r["kind"], r["state"]) for r in kinds) == [("acknowledge", "open"), ("act", "open")]

    # the platform acknowledges in time: B's acknowledge clock is met, and B tells the hotline on A
    remote_hotline = Member(f"de-hotline@{HUB_A}", "hotline", "DE", f.hotline.key, f.hotline.enc)
    ack = acknowledgement(f.platform, remote_hotline, case_id, sent["message_id"])
    response = await f.b.client.post(
        "/v1/messages", data=f.platform.sign(ack).encode(), headers={"Content-Type": "application/jose"}
    )
    assert response.status == 202, await response.json()
    await clocks_of(f.b).run_once()
    await f.forward_all(f.b)

    items = await inbox_of(f.a, f.hotline)
    results = [envelope_of(i) for i in items if envelope_of(i)["type"] == "clock-result"]
    (met,) = results
    # the hotline checks it as any message: signed by B, the sender, with the key A lists for B
    (item,) = [i for i in items if envelope_of(i)["type"] == "clock-result"]
    b_entry = await (await f.a.client.get(f"/v1/participants/{HUB_B}")).json()
    a_jwks = await (await f.a.client.get("/.well-known/jwks.json")).json()
    verify_inbox_item(item, b_entry["jwks"], a_jwks, recipient="de-hotline")
    assert (met["from"], met["case"], met["in_reply_to"]) == (HUB_B, case_id, sent["message_id"])
    assert met["to"] == [f"de-hotline@{HUB_A}"]
    body = met["body"]
    assert (body["result"], body["deadline"], body["recipient"], body["rule"]) == (
        "met",
        "acknowledge",
        "ie-platform",
        "eu-dsa-notice",
    )
    assert body["answered_by"] == ack["id"]
    # A recorded it on its case: accepted from B itself, with B's receipt for the hop
    view = await f.a.timeline(f.hotline, case_id)
    accepted = [
        e for e in view if e["event"] == "message.accepted" and e.get("message_type") == "clock-result"
    ]
    assert [e["actor"] for e in accepted] == [HUB_B]
    hops = [e for e in view if e["event"] == "message.received_from_hub" and e["message_id"] == met["id"]]
    assert [h["actor"] for h in hops] == [HUB_B]

    # the platform does not decide within the 7 days: B breaches its clock, escalates to the hotline and
    # reports the breach; both reach A, once
    f.a.clock.advance(days=8)
    f.b.clock.advance(days=8)
    await clocks_of(f.b).run_once()
    await clocks_of(f.b).run_once()  # nothing is reported twice
    await f.forward_all(f.b)

    envelopes = [envelope_of(i) for i in await inbox_of(f.a, f.hotline)]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for e in envelopes:
        by_type.setdefault(e["type"], []).append(e)
    (escalation,) = by_type["escalation"]
    assert (escalation["from"], escalation["body"]["kind"], escalation["body"]["recipient"]) == (
        HUB_B,
        "breach",
        "ie-platform",
    )
    breached = [r for r in by_type["clock-result"] if r["body"]["result"] == "breached"]
    assert len(breached) == 1
    assert (breached[0]["body"]["deadline"], breached[0]["body"]["escalation"]) == ("act", escalation["id"])
    assert len(by_type["clock-result"]) == 2
    assert await f.a.db.fetchval("SELECT count(*) FROM deadlines") == 0
    on_a = "SELECT count(*) FROM messages WHERE sender_id = $1"
    assert await f.a.db.fetchval(on_a, HUB_B) == 3


async def forward_from_b(f: Federation, envelope: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """B forwards a message it signed itself to A, with its receipt."""
    key = f.b.identity.key
    payload = json.dumps(envelope).encode()
    signed = sign_compact(payload, key)
    receipt = sign_receipt(
        key,
        hub_id=HUB_B,
        message_id=uuid.UUID(envelope["id"]),
        message_type=envelope["type"],
        sender=HUB_B,
        recipients=envelope["to"],
        case_id=uuid.UUID(envelope["case"]),
        payload_sha256=sha256_hex(payload),
        accepted_at=f.b.clock(),
    )
    token = issue_token(key, issuer=HUB_B, audience=HUB_A, now=f.a.clock.ts())
    response = await f.a.client.post(
        "/v1/federation/messages",
        json={"message": signed, "receipt": receipt},
        headers={"Authorization": f"Bearer {token}"},
    )
    return response.status, await response.json()


async def test_a_hub_reports_only_its_own_participants_clocks(federation: Federation) -> None:  # noqa: F811
    """B's clock result about a participant B does not vouch for (one of A's own, or one B does not know)
    is refused by A, and nothing is stored."""
    f = federation
    sent = await f.send()
    await f.forward_all()
    before = await f.a.db.fetchval("SELECT count(*) FROM messages")
    for about in ("de-hotline", "at-platform"):
        envelope = {
            "id": str(uuid.uuid4()),
            "type": "clock-result",
            "version": "1.0",
            "from": HUB_B,
            "to": [f"de-hotline@{HUB_A}"],
            "case": sent["case_id"],
            "in_reply_to": sent["message_id"],
            "created_at": "2026-06-01T10:02:11Z",
            "body": {
                "result": "met",
                "deadline": "acknowledge",
                "recipient": about,
                "jurisdiction": "EU",
                "rule": "eu-dsa-notice",
                "legal_basis": "DSA Art. 16(4).",
                "told_at": "2026-06-01T09:15:04Z",
                "due_at": "2026-06-02T09:15:04Z",
                "at": "2026-06-01T10:02:10Z",
            },
        }
        status, problem = await forward_from_b(f, envelope)
        assert (status, problem["type"]) == (422, PROBLEM + "sender-not-vouched"), problem
    assert await f.a.db.fetchval("SELECT count(*) FROM messages") == before
