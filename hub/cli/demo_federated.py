"""`hub demo --federated`: two hubs on a throwaway machine, peers of each other (docs/federation.md).

One embedded PostgreSQL holds two databases, one per hub; each hub is its own aiohttp app on its own
port, with its own key and its own delivery worker. Hub A has a German hotline, hub B an Irish platform.
Each registers the other as a peer (kind `hub`) and syncs the other's vouching feed; the hotline sends a
takedown request to the platform's global id; A forwards it, B takes it and the platform pulls it; the
platform answers, and B forwards the answers back, and the results of the platform's legal clocks, which
B counts and A does not. Both hubs' timelines are printed, each hop with the
other hub's signed receipt. All data is fictitious; nothing is left behind.
"""

from __future__ import annotations

import asyncio
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp

from hub.api.keys import HUB_KEY, POOL
from hub.cli.demo import say, takedown_body
from hub.cli.demo_server import DemoHub, running_hub
from hub.client import HubClient, new_envelope, verify_inbox_item
from hub.core.clock import rfc3339, utc_now
from hub.core.global_id import global_id
from hub.core.jose import PrivateEncryptionJwk, PrivateSigningJwk
from hub.core.receipt import ReceiptError, verify_receipt
from hub.log import configure_logging
from hub.services.bindings import bind_own_key
from hub.services.peer_sync import sync_peer
from hub.store import directory
from hub.store.audit import sequence_and_checkpoint
from hub.store.database import connect, create_databases
from hub.store.embedded import start_embedded_postgres

HUB_A, HUB_B = "hub-a.demo.example", "hub-b.demo.example"
HOTLINE, PLATFORM = "de-hotline-demo", "ie-platform-demo"
WAIT_SECONDS = 30


def cmd_demo_federated() -> int:
    configure_logging("warning")
    with tempfile.TemporaryDirectory(prefix="hub-demo-") as tmp:
        embedded = start_embedded_postgres(Path(tmp) / "postgres", cleanup="delete")
        try:
            asyncio.run(_demo(Path(tmp), embedded.dsn))
        finally:
            embedded.stop()
    return 0


async def _member(
    hub: DemoHub, pid: str, name: str, kind: str, country: str, accepts: list[str]
) -> tuple[PrivateSigningJwk, PrivateEncryptionJwk]:
    sig, enc = PrivateSigningJwk.generate(f"{pid}-sig"), PrivateEncryptionJwk.generate(f"{pid}-enc")
    async with connect(hub.dsn) as conn:
        await directory.add_participant(
            conn, participant_id=pid, name=name, kind=kind, country=country, endpoint=None, accepts=accepts
        )
        await directory.add_key(conn, participant_id=pid, jwk=sig.public().to_dict())
        await bind_own_key(
            conn, hub_id=hub.hub_id, participant_id=pid, signer=sig, key=enc.public(), now=utc_now()
        )
    say(f"  {hub.hub_id}: registered {pid:<18} {kind:<9} {country}")
    return sig, enc


async def _peer(hub: DemoHub, peer: DemoHub, session: aiohttp.ClientSession) -> None:
    """`hub participants add PEER --kind hub ...` then `hub peers sync PEER`, on `hub`."""
    async with connect(hub.dsn) as conn:
        await directory.add_participant(
            conn,
            participant_id=peer.hub_id,
            name=f"Peer hub {peer.hub_id}",
            kind="hub",
            country="EU",
            endpoint=peer.url,
            accepts=[],
        )
        await directory.add_key(conn, participant_id=peer.hub_id, jwk=peer.identity.public_jwk())
        # the peer's checkpoint task, at once: its feed's log proofs then cover the participants it lists
        await sequence_and_checkpoint(peer.app[POOL], peer.app[HUB_KEY], peer.hub_id, utc_now())
        listed = await sync_peer(conn, session, peer.hub_id, utc_now())
    say(f"  {hub.hub_id}: peer {peer.hub_id} registered, its feed synced: {', '.join(listed)}")


async def _demo(tmp: Path, dsn_of: Any) -> None:
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    await create_databases(dsn_of(), ("hub_a", "hub_b"))
    say("Referral hub demo, federated: a takedown request from a hotline on hub A to a platform on hub B")
    say("(two hubs, each its own database, key and worker; all data fictitious)\n")
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(running_hub(HUB_A, dsn_of("hub_a"), tmp / "a"))
        b = await stack.enter_async_context(running_hub(HUB_B, dsn_of("hub_b"), tmp / "b"))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        say("1. Each operator registers its own participant:")
        hotline_keys = await _member(
            a, HOTLINE, "Demo Helpline (fictitious)", "hotline", "DE", ["takedown-request"]
        )
        platform_keys = await _member(
            b, PLATFORM, "Demo Photo Platform (fictitious)", "platform", "IE", ["takedown-request"]
        )
        say("\n2. Each registers the other as a peer hub and takes its signed vouching feed:")
        await _peer(a, b, session)
        await _peer(b, a, session)
        hotline = HubClient(session, a.url, HOTLINE, hotline_keys[0])
        platform = HubClient(session, b.url, PLATFORM, platform_keys[0])
        await _story(a, b, hotline, platform, platform_keys[1])
    say(
        "\nDone: forwarded hub to hub with the hotline's signature untouched, answered back,"
        " every hop proven."
    )


async def _story(
    a: DemoHub,
    b: DemoHub,
    hotline: HubClient,
    platform: HubClient,
    platform_enc: PrivateEncryptionJwk,
) -> None:
    remote_platform, remote_hotline = global_id(PLATFORM, HUB_B), global_id(HOTLINE, HUB_A)
    say(f"\n3. The hotline on A sends a takedown request to {remote_platform}:")
    request = new_envelope(
        "takedown-request",
        sender=HOTLINE,
        to=[remote_platform],
        body=takedown_body(platform_enc, remote_platform),
    )
    receipt = await hotline.send(request)
    case_id = receipt["case_id"]
    say(f"  accepted by A: case {case_id}; A's delivery worker forwards it to B")

    say("\n4. The platform on B pulls its inbox and verifies the hotline's own signature:")
    page = await platform.inbox(wait=WAIT_SECONDS)
    if not page["messages"]:
        raise RuntimeError("the forwarded request did not reach the platform's inbox on hub B")
    item = page["messages"][0]
    # the hotline's keys as the client library trusts them: only through hub A's own log proof
    sender = await platform.participant(remote_hotline)
    verify_inbox_item(item, sender["jwks"], await platform.hub_jwks(), recipient=PLATFORM)
    say(
        f"  {item['type']} from {item['from']}: the hotline's signature verifies"
        f" (its key proven by hub {HUB_A}'s log), B's receipt too"
    )
    await platform.ack([item["message_id"]])

    say("\n5. The platform answers the hotline by its global id; B forwards the answers to A:")
    for message_type, body in (
        ("acknowledgement", {"received_at": rfc3339(utc_now()), "reference": "DEMO-TICKET-42"}),
        ("status-update", {"status": "actioned", "action": "removed", "decided_at": rfc3339(utc_now())}),
    ):
        answer = new_envelope(
            message_type,
            sender=PLATFORM,
            to=[remote_hotline],
            body=body,
            case=case_id,
            in_reply_to=request["id"],
        )
        await platform.send(answer)
        say(f"  {message_type} accepted by B")
    await _until_actioned(hotline, case_id)
    say("\n   B counts the platform's clocks (A counts none of them) and tells A how each ended:")
    case = await _until_reported(hotline, case_id)
    for event in case["timeline"]:
        if event["event"] == "message.accepted" and event.get("message_type") == "clock-result":
            say(f"  clock-result from {event['actor']} accepted by A")

    say("\n6. The case on hub A, as the hotline sees it (each hop with hub B's receipt, checked):")
    _timeline(case, b)
    say("\n7. The case on hub B, as the platform sees it (each hop with hub A's receipt, checked):")
    _timeline(await platform.case(case_id), a)


async def _until_actioned(hotline: HubClient, case_id: str) -> dict[str, Any]:
    for _ in range(WAIT_SECONDS * 5):
        case = await hotline.case(case_id)
        if case["status"] == "actioned":
            return case
        await asyncio.sleep(0.2)
    raise RuntimeError("the platform's answers did not reach the hotline's case on hub A")


async def _until_reported(hotline: HubClient, case_id: str) -> dict[str, Any]:
    """The case on A once B's results of the platform's two clocks (acknowledge and act, both met by its
    answers) are on it (docs/federation.md, section 6)."""
    for _ in range(WAIT_SECONDS * 5):
        case = await hotline.case(case_id)
        results = [e for e in case["timeline"] if e.get("message_type") == "clock-result"]
        if len([e for e in results if e["event"] == "message.accepted"]) >= 2:
            return case
        await asyncio.sleep(0.2)
    raise RuntimeError("hub B's clock results did not reach the hotline's case on hub A")


def _timeline(case: dict[str, Any], other: DemoHub) -> None:
    say(
        f"  status: {case['status']}; "
        + ", ".join(f"{r['participant_id']}: {r['state']}" for r in case["recipients"])
    )
    for event in case["timeline"]:
        change = f" {event.get('from_state', '-')} -> {event['to_state']}" if "to_state" in event else ""
        kind = f" ({event['message_type']})" if "message_type" in event else ""
        proof = f" [{_checked_receipt(event, other)}]" if "receipt" in event else ""
        say(f"  {event['at']}  {event['event']:<26} by {event['actor']}{change}{kind}{proof}")


def _checked_receipt(event: dict[str, Any], other: DemoHub) -> str:
    """The other hub's receipt on a hop, checked with that hub's public key: it names this message."""
    try:
        verify_receipt(
            event["receipt"],
            issuer=other.hub_id,
            keys=[other.identity.key.public()],
            message_id=UUID(event["message_id"]),
            payload_sha256=event["payload_sha256"],
        )
    except (ReceiptError, KeyError, ValueError) as exc:
        raise RuntimeError(f"a hop's receipt of {other.hub_id} does not verify: {exc}") from None
    return f"receipt of {other.hub_id} verifies"
