"""Issue 20, end to end: two hubs on one machine, each its own database and its own aiohttp app in this
process, peers of each other (docs/federation.md). A hotline on hub A sends a takedown request to a
platform on hub B by its global id; A's delivery worker forwards it with adapter `hub`; B takes it and
the platform pulls it from its inbox and verifies the hotline's untouched signature; each hub's timeline
shows each hop with the other hub's signed receipt. A forged cross-hub sender is refused, and a
forwarding retried after its answer was lost is recorded once on both hubs."""

from __future__ import annotations

import io
import json
import random
import socket
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest_asyncio
from aiohttp import web

from adapters.registry import build_adapters
from hub.api.app import adapter_context, create_app
from hub.api.keys import DSN, HUB, HUB_KEY, INTAKE, KEYRING, POOL
from hub.client.verify import verify_inbox_item
from hub.core.hub_identity import HubIdentity
from hub.core.jose import PrivateSigningJwk, PublicJwk, issue_token, parse_jws, sha256_hex
from hub.core.receipt import sign_receipt, verify_receipt
from hub.delivery.worker import DeliveryWorker, WorkerConfig
from hub.evidence.export import export_bundle
from hub.evidence.verify import trust_from_keys, verify_bundle
from hub.services import vouching
from hub.store import directory
from hub.store.audit import sequence_and_checkpoint
from hub.store.database import connect
from tests.factories import (
    Directory,
    FakeClock,
    Member,
    acknowledgement,
    deletion_confirmation,
    delivery_worker,
    jose,
    routed,
    takedown,
    withdrawal,
)
from tests.test_cli import assert_ok, assert_refused, hub, hub_env
from tests.test_federation_forwarding import hub_b_url, hub_settings  # noqa: F401  (a fixture)

HUB_A, HUB_B = "hub-a.example.de", "hub-b.example.eu"
PROBLEM = "urn:referral-hub:problem:"


@dataclass
class Peer:
    """One hub: its app's client, its database, its identity, its clock."""

    client: Any
    db: asyncpg.Connection
    clock: FakeClock

    @property
    def app(self) -> web.Application:
        return self.client.server.app  # type: ignore[no-any-return]

    @property
    def identity(self) -> HubIdentity:
        return self.app[HUB]

    @property
    def url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    async def timeline(self, member: Member, case_id: str) -> list[dict[str, Any]]:
        token = member.token(audience=self.identity.hub_id, now=self.clock.ts())
        response = await self.client.get(f"/v1/cases/{case_id}", headers={"Authorization": f"Bearer {token}"})
        assert response.status == 200, await response.text()
        return list((await response.json())["timeline"])


async def register_peer(conn: asyncpg.Connection, peer: HubIdentity, endpoint: str) -> None:
    await directory.add_participant(
        conn,
        participant_id=peer.hub_id,
        name=f"Peer {peer.hub_id}",
        kind="hub",
        country="EU",
        endpoint=endpoint,
        accepts=[],
    )
    await directory.add_key(conn, participant_id=peer.hub_id, jwk=peer.public_jwk())


async def sync(into: Peer, source: Peer) -> list[str]:
    """`into` mirrors the feed `source` serves (what `hub peers sync` does), once `source` has signed a
    checkpoint over its directory (as its checkpoint task does), so the feed's log proofs cover it."""
    app = source.app
    await sequence_and_checkpoint(app[POOL], app[HUB_KEY], source.identity.hub_id, source.clock())
    feed = await (await source.client.get("/v1/federation/participants")).text()
    verified = await vouching.peer_feed(into.db, source.identity.hub_id, feed)
    return await vouching.mirror_feed(into.db, verified, into.clock())


class LosingProxy:
    """Stands between A and B: passes each forwarding on to B, and loses B's first answer (a 502 after
    B committed), as a network that drops a response would."""

    def __init__(self, target: str) -> None:
        self.target, self.lost, self.passed = target, 0, 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k in ("Authorization", "Idempotency-Key")}
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.target + request.path, data=body, headers={**headers, "Content-Type": "application/json"}
            ) as answer,
        ):
            text = await answer.text()
            self.passed += 1
            if self.lost == 0:
                self.lost += 1
                return web.Response(status=502, text="bad gateway")
            return web.Response(status=answer.status, text=text, content_type=answer.content_type)


@dataclass
class Federation:
    a: Peer
    b: Peer
    hotline: Member  # on A
    platform: Member  # on B, by its local id
    remote_platform: Member  # the platform as the hotline names it: its global id
    proxy: LosingProxy | None
    session: aiohttp.ClientSession

    def worker(self, hub: Peer | None = None) -> DeliveryWorker:
        """A delivery worker of hub A (or of `hub`), wired as `create_app` wires it."""
        peer = hub or self.a
        app = peer.app
        return delivery_worker(
            app[POOL],
            app[DSN],
            build_adapters(adapter_context(app, self.session)),
            app[INTAKE],
            peer.clock,
            WorkerConfig(poll_interval=0.05, grace=5.0),
            rng=random.Random(7),
        )

    async def forward_all(self, hub: Peer | None = None) -> None:
        worker = self.worker(hub)
        await worker.run_once()
        await worker.wait_idle()

    async def send(self) -> dict[str, Any]:
        signed = self.hotline.sign(takedown(self.hotline, self.remote_platform))
        response = await self.a.client.post("/v1/messages", **jose(signed))
        body = await response.json()
        assert response.status == 202, body
        return {**body, "signed": signed}


async def two_hubs(
    aiohttp_client: Any,
    a_url: str,
    b_url: str,
    tmp_path: Path,
    *,
    lose_first_answer: bool = False,
    synced: bool = True,
    clock_start: datetime | None = None,
) -> AsyncIterator[Federation]:
    clock_a, clock_b = FakeClock(clock_start), FakeClock(clock_start)
    client_a = await aiohttp_client(
        create_app(hub_settings(HUB_A, a_url, tmp_path / "a"), clock=clock_a, background=False)
    )
    client_b = await aiohttp_client(
        create_app(hub_settings(HUB_B, b_url, tmp_path / "b"), clock=clock_b, background=False)
    )
    proxy_runner: web.AppRunner | None = None
    async with connect(a_url) as db_a, connect(b_url) as db_b, aiohttp.ClientSession() as session:
        a, b = Peer(client_a, db_a, clock_a), Peer(client_b, db_b, clock_b)
        proxy = LosingProxy(b.url) if lose_first_answer else None
        b_endpoint = b.url
        if proxy is not None:
            proxy_app = web.Application()
            proxy_app.router.add_post("/v1/federation/messages", proxy.handle)
            proxy_runner = web.AppRunner(proxy_app)
            await proxy_runner.setup()
            site = web.TCPSite(proxy_runner, "127.0.0.1", 0)
            await site.start()
            b_endpoint = f"http://127.0.0.1:{proxy_runner.addresses[0][1]}"
        await register_peer(db_a, b.identity, b_endpoint)
        await register_peer(db_b, a.identity, a.url)
        hotline = await Directory(db_a, HUB_A).add("de-hotline", "hotline", "DE")
        platform = await Directory(db_b, HUB_B).add("ie-platform", "platform", "IE")
        if synced:
            assert await sync(b, a) == [f"de-hotline@{HUB_A}"]
            assert await sync(a, b) == [f"ie-platform@{HUB_B}"]
        remote = Member(f"ie-platform@{HUB_B}", "platform", "IE", platform.key, platform.enc)
        try:
            yield Federation(a, b, hotline, platform, remote, proxy, session)
        finally:
            if proxy_runner is not None:
                await proxy_runner.cleanup()


@pytest_asyncio.fixture
async def federation(
    hub_b_url: str,  # noqa: F811
    database_url: str,
    aiohttp_client: Any,
    tmp_path: Path,
) -> AsyncIterator[Federation]:
    async for f in two_hubs(aiohttp_client, database_url, hub_b_url, tmp_path):
        yield f


@pytest_asyncio.fixture
async def lossy_federation(
    hub_b_url: str,  # noqa: F811
    database_url: str,
    aiohttp_client: Any,
    tmp_path: Path,
) -> AsyncIterator[Federation]:
    async for f in two_hubs(aiohttp_client, database_url, hub_b_url, tmp_path, lose_first_answer=True):
        yield f


@pytest_asyncio.fixture
async def unsynced_federation(
    hub_b_url: str,  # noqa: F811
    database_url: str,
    aiohttp_client: Any,
    tmp_path: Path,
) -> AsyncIterator[Federation]:
    async for f in two_hubs(aiohttp_client, database_url, hub_b_url, tmp_path, synced=False):
        yield f


def hub_key(peer: Peer) -> PublicJwk:
    return peer.identity.key.public()


async def b_case_of(f: Federation, message_id: str) -> str:
    case_id = await f.b.db.fetchval("SELECT case_id FROM messages WHERE id = $1", uuid.UUID(message_id))
    assert case_id is not None
    return str(case_id)


async def test_a_takedown_crosses_two_hubs_with_each_hop_proven_on_both_timelines(
    federation: Federation,
) -> None:
    f = federation
    sent = await f.send()
    message_id, digest = uuid.UUID(sent["message_id"]), sent["payload_sha256"]

    await f.forward_all()

    # B took it and the platform pulls it from its inbox: the hotline's own signature, untouched
    token = f.platform.token(audience=HUB_B, now=f.b.clock.ts())
    inbox = await f.b.client.get("/v1/inbox", headers={"Authorization": f"Bearer {token}"})
    (item,) = (await inbox.json())["messages"]
    assert item["message"] == sent["signed"]
    sender = await (await f.b.client.get(f"/v1/participants/de-hotline@{HUB_A}")).json()
    b_jwks = await (await f.b.client.get("/.well-known/jwks.json")).json()
    assert (sender["home_hub"], sender["adapter"]) == (HUB_A, "hub")  # B's directory marks its home hub
    listed = await (await f.b.client.get("/v1/participants")).json()
    homes = {p["id"]: p["home_hub"] for p in listed["participants"]}
    assert (homes[f"de-hotline@{HUB_A}"], homes["ie-platform"]) == (HUB_A, None)
    verified = verify_inbox_item(item, sender["jwks"], b_jwks, recipient="ie-platform")
    assert verified.envelope["from"] == "de-hotline"
    assert verified.receipt["from"] == f"de-hotline@{HUB_A}"
    # A's timeline: accepted by A, forwarded to B with B's receipt (which proves this message)
    a_timeline = await f.a.timeline(f.hotline, sent["case_id"])
    (forwarded,) = [e for e in a_timeline if e["event"] == "message.forwarded"]
    assert forwarded["actor"] == HUB_B
    b_receipt = verify_receipt(
        forwarded["receipt"], issuer=HUB_B, keys=[hub_key(f.b)], message_id=message_id, payload_sha256=digest
    )
    assert b_receipt["to"] == ["ie-platform"]
    assert "message.delivered" in [e["event"] for e in a_timeline]
    token = f.hotline.token(audience=HUB_A, now=f.a.clock.ts())
    view = await (
        await f.a.client.get(f"/v1/cases/{sent['case_id']}", headers={"Authorization": f"Bearer {token}"})
    ).json()
    (recipient,) = view["recipients"]
    assert (recipient["state"], recipient["home_hub"]) == ("retrieved", HUB_B)  # B confirmed it
    assert "waiting_for_hub" not in recipient
    # B's timeline: received from A with A's receipt (the one the hotline got), then accepted by B
    b_timeline = await f.b.timeline(f.platform, await b_case_of(f, sent["message_id"]))
    (received,) = [e for e in b_timeline if e["event"] == "message.received_from_hub"]
    assert received["actor"] == HUB_A
    assert received["receipt"] == sent["receipt"]
    verify_receipt(
        received["receipt"], issuer=HUB_A, keys=[hub_key(f.a)], message_id=message_id, payload_sha256=digest
    )
    assert b_receipt["case_id"] == await b_case_of(f, sent["message_id"])


async def test_a_forged_cross_hub_sender_is_refused_by_the_receiving_hub(federation: Federation) -> None:
    """A third hub C, a registered peer of B, cannot speak for A's hotline: B reads its sender as
    C's (`de-hotline@hub-c`), which C's feed never vouched for."""
    f = federation
    hub_c = HubIdentity("hub-c.example.au", PrivateSigningJwk.generate("hub-c-key"))
    await register_peer(f.b.db, hub_c, "https://hub-c.example.au")
    signed = f.hotline.sign(takedown(f.hotline, f.remote_platform))
    payload = parse_jws(signed.encode()).payload
    envelope_id = uuid.UUID(json.loads(payload)["id"])
    receipt = sign_receipt(
        hub_c.key,
        hub_id=hub_c.hub_id,
        message_id=envelope_id,
        message_type="takedown-request",
        sender="de-hotline",
        recipients=[f.remote_platform.id],
        case_id=uuid.uuid4(),
        payload_sha256=sha256_hex(payload),
        accepted_at=f.b.clock(),
    )
    token = issue_token(hub_c.key, issuer=hub_c.hub_id, audience=HUB_B, now=f.b.clock.ts())
    response = await f.b.client.post(
        "/v1/federation/messages",
        json={"message": signed, "receipt": receipt},
        headers={"Authorization": f"Bearer {token}"},
    )
    problem = await response.json()
    assert (response.status, problem["type"]) == (422, PROBLEM + "sender-not-vouched")
    assert await f.b.db.fetchval("SELECT count(*) FROM messages") == 0


async def test_a_participant_its_peer_has_not_vouched_for_yet_is_refused_and_its_sender_told(
    federation: Federation,
) -> None:
    f = federation
    """A sender registered on A after B's last sync: B refuses it (sender-not-vouched, a 422), so A's
    forwarding is dead-lettered and the hotline told on its case, never counted as delivered."""
    late = await Directory(f.a.db).add("at-hotline", "hotline", "AT")
    signed = late.sign(takedown(late, f.remote_platform))
    response = await f.a.client.post("/v1/messages", **jose(signed))
    sent = await response.json()

    await f.forward_all()

    row = await f.a.db.fetchrow(
        "SELECT state, last_status FROM deliveries WHERE message_id = $1", uuid.UUID(sent["message_id"])
    )
    assert (row["state"], row["last_status"]) == ("dead", 422)
    events = [e["event"] for e in await f.a.timeline(late, sent["case_id"])]
    assert "delivery.dead" in events
    assert "message.forwarded" not in events
    assert await f.b.db.fetchval("SELECT count(*) FROM messages") == 0


async def test_a_forwarding_retried_after_its_answer_was_lost_is_recorded_once(
    lossy_federation: Federation,
) -> None:
    f = lossy_federation
    sent = await f.send()

    await f.forward_all()  # B commits, its answer is lost on the way back: A retries later
    row = await f.a.db.fetchrow("SELECT state, attempts FROM deliveries")
    assert (row["state"], row["attempts"]) == ("pending", 1)
    f.a.clock.advance(minutes=15)  # past the backoff (hub/core/retry.py)
    f.b.clock.advance(minutes=15)
    await f.forward_all()

    assert f.proxy is not None
    assert f.proxy.passed == 2
    row = await f.a.db.fetchrow("SELECT state, attempts FROM deliveries")
    assert (row["state"], row["attempts"]) == ("delivered", 2)
    a_events = [e["event"] for e in await f.a.timeline(f.hotline, sent["case_id"])]
    assert a_events.count("message.forwarded") == a_events.count("message.delivered") == 1
    assert await f.b.db.fetchval("SELECT count(*) FROM messages") == 1
    hops = "SELECT count(*) FROM case_events WHERE event = 'message.received_from_hub'"
    assert await f.b.db.fetchval(hops) == 1
    assert await f.b.db.fetchval("SELECT count(*) FROM deliveries") == 1


async def test_a_receipt_that_does_not_verify_is_no_delivery(federation: Federation) -> None:
    """B answers 202, but with a receipt A cannot check (B's key is no longer valid in A's directory):
    the forwarding is not counted as delivered and waits on the destination's attention path."""
    f = federation
    await f.a.db.execute(
        "UPDATE participant_keys SET revoked_at = now() - interval '1 hour' WHERE participant_id = $1", HUB_B
    )
    sent = await f.send()

    await f.forward_all()

    row = await f.a.db.fetchrow("SELECT state, delivered_at, last_error FROM deliveries")
    assert row["state"] == "pending"
    assert row["delivered_at"] is None
    assert "receipt is no proof" in row["last_error"]
    events = [e["event"] for e in await f.a.timeline(f.hotline, sent["case_id"])]
    assert "message.forwarded" not in events
    assert "message.delivered" not in events
    # the hotline sees on its case that the platform waits for its hub
    token = f.hotline.token(audience=HUB_A, now=f.a.clock.ts())
    view = await (
        await f.a.client.get(f"/v1/cases/{sent['case_id']}", headers={"Authorization": f"Bearer {token}"})
    ).json()
    (recipient,) = view["recipients"]
    assert (recipient["state"], recipient["home_hub"], recipient["waiting_for_hub"]) == (
        "queued",
        HUB_B,
        HUB_B,
    )


async def test_the_operator_syncs_a_peer_with_hub_peers_sync(
    unsynced_federation: Federation, database_url: str, tmp_path: Path
) -> None:
    """`hub peers sync PEER` fetches the peer's feed from its endpoint, verifies it with the peer's
    registered key and mirrors it; then a takedown to the peer's platform is forwarded."""
    f = unsynced_federation
    env = hub_env(tmp_path, database_url)

    run = await hub("peers", "sync", HUB_B, env=env)

    assert_ok(run)
    assert json.loads(run.out) == {"peer": HUB_B, "participants": [f"ie-platform@{HUB_B}"]}
    row = await f.a.db.fetchrow(
        "SELECT home_hub, adapter FROM participants WHERE id = $1", f.remote_platform.id
    )
    assert dict(row) == {"home_hub": HUB_B, "adapter": "hub"}
    await sync(f.b, f.a)  # and B takes A's feed, so that A's hotline may send
    sent = await f.send()
    await f.forward_all()
    assert (
        await f.a.db.fetchval(
            "SELECT state FROM deliveries WHERE message_id = $1", uuid.UUID(sent["message_id"])
        )
        == "delivered"
    )


async def test_hub_peers_sync_fails_in_one_line_and_changes_nothing(
    unsynced_federation: Federation, database_url: str, tmp_path: Path
) -> None:
    f = unsynced_federation
    env = hub_env(tmp_path, database_url)
    assert_refused(await hub("peers", "sync", "hub-x.example.org", env=env), "not a registered peer")
    assert_refused(await hub("peers", "sync", "de-hotline", env=env), "not a registered peer")
    # a feed signed by a key that is not the peer's registered one
    await f.a.db.execute(
        "UPDATE participant_keys SET jwk = $2 WHERE participant_id = $1",
        HUB_B,
        PrivateSigningJwk.generate(f.b.identity.key.kid).public().to_dict(),
    )
    assert_refused(await hub("peers", "sync", HUB_B, env=env), "is refused")
    # the peer down
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{bound.getsockname()[1]}"
        await f.a.db.execute("UPDATE participants SET endpoint = $2 WHERE id = $1", HUB_B, down)
        assert_refused(await hub("peers", "sync", HUB_B, env=env), "cannot reach")
    assert await f.a.db.fetchval("SELECT count(*) FROM participants WHERE home_hub IS NOT NULL") == 0


async def test_an_acknowledgement_travels_back_from_hub_b_to_the_hotline_on_hub_a(
    federation: Federation,
) -> None:
    """docs/federation.md, section 5: B's platform answers the hotline by its global id on B; B forwards
    the answer to A with B's receipt, A takes it with its own, and each records the other's receipt. Both
    hubs name the case alike (B opened it under the case id of A's receipt)."""
    f = federation
    sent = await f.send()
    await f.forward_all()
    assert await b_case_of(f, sent["message_id"]) == sent["case_id"]
    remote_hotline = Member(f"de-hotline@{HUB_A}", "hotline", "DE", f.hotline.key, f.hotline.enc)
    ack = acknowledgement(f.platform, remote_hotline, sent["case_id"], sent["message_id"])
    signed = f.platform.sign(ack)
    response = await f.b.client.post("/v1/messages", **jose(signed))
    on_b = await response.json()
    assert response.status == 202, on_b

    await f.forward_all(f.b)

    # the hotline on A pulls the platform's answer, its signature checked with the keys A mirrored from B
    token = f.hotline.token(audience=HUB_A, now=f.a.clock.ts())
    inbox = await f.a.client.get("/v1/inbox", headers={"Authorization": f"Bearer {token}"})
    (item,) = (await inbox.json())["messages"]
    assert item["message"] == signed
    sender = await (await f.a.client.get(f"/v1/participants/ie-platform@{HUB_B}")).json()
    a_jwks = await (await f.a.client.get("/.well-known/jwks.json")).json()
    verified = verify_inbox_item(item, sender["jwks"], a_jwks, recipient="de-hotline")
    assert verified.receipt["from"] == f"ie-platform@{HUB_B}"
    # A's timeline: received from B with B's receipt; the platform's state moved on A too
    ack_id, digest = uuid.UUID(ack["id"]), on_b["payload_sha256"]
    a_view = await (
        await f.a.client.get(
            f"/v1/cases/{sent['case_id']}",
            headers={"Authorization": f"Bearer {f.hotline.token(audience=HUB_A, now=f.a.clock.ts())}"},
        )
    ).json()
    (received,) = [
        e
        for e in a_view["timeline"]
        if e["event"] == "message.received_from_hub" and e["message_id"] == str(ack_id)
    ]
    assert (received["actor"], received["receipt"]) == (HUB_B, on_b["receipt"])
    (state,) = [r for r in a_view["recipients"] if r["participant_id"] == f.remote_platform.id]
    assert state["state"] == "acknowledged"
    # B's timeline, as its operator reads it (the hotline's deliveries are not the platform's part):
    # forwarded to A, with A's receipt for the answer
    forwarded = await f.b.db.fetchrow(
        "SELECT actor, detail FROM case_events WHERE case_id = $1 AND event = 'message.forwarded'",
        uuid.UUID(sent["case_id"]),
    )
    assert forwarded["actor"] == HUB_A
    a_receipt = verify_receipt(
        forwarded["detail"]["receipt"],
        issuer=HUB_A,
        keys=[hub_key(f.a)],
        message_id=ack_id,
        payload_sha256=digest,
    )
    assert a_receipt["to"] == ["de-hotline"]


async def test_a_forwarded_referral_under_a_case_id_this_hub_holds_is_refused(federation: Federation) -> None:
    """A peer never joins one of B's cases by opening one under its id."""
    f = federation
    sent = await f.send()
    await f.forward_all()
    second = f.hotline.sign(takedown(f.hotline, f.remote_platform))
    payload = parse_jws(second.encode()).payload
    receipt = sign_receipt(
        f.a.identity.key,
        hub_id=HUB_A,
        message_id=uuid.UUID(json.loads(payload)["id"]),
        message_type="takedown-request",
        sender="de-hotline",
        recipients=[f.remote_platform.id],
        case_id=uuid.UUID(sent["case_id"]),  # the case B already holds
        payload_sha256=sha256_hex(payload),
        accepted_at=f.a.clock(),
    )
    token = issue_token(f.a.identity.key, issuer=HUB_A, audience=HUB_B, now=f.b.clock.ts())
    response = await f.b.client.post(
        "/v1/federation/messages",
        json={"message": second, "receipt": receipt},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (response.status, (await response.json())["type"]) == (409, PROBLEM + "case-conflict")
    assert await f.b.db.fetchval("SELECT count(*) FROM messages") == 1


async def test_a_withdrawal_and_its_deletion_confirmation_cross_the_two_hubs(federation: Federation) -> None:
    """The hotline withdraws its request (the person asked, delete the data): the withdrawal is a message
    to the platform's global id on the shared case, forwarded as any; the platform's deletion
    confirmation comes back the same way. Each hub moves the platform to `withdrawn` on its own case."""
    f = federation
    sent = await f.send()
    await f.forward_all()
    remote_hotline = Member(f"de-hotline@{HUB_A}", "hotline", "DE", f.hotline.key, f.hotline.enc)
    pulled = await f.b.client.get(
        "/v1/inbox",
        headers={"Authorization": f"Bearer {f.platform.token(audience=HUB_B, now=f.b.clock.ts())}"},
    )
    assert len((await pulled.json())["messages"]) == 1

    withdrawn = withdrawal(f.hotline, [f.remote_platform], sent["case_id"], sent["message_id"])
    response = await f.a.client.post("/v1/messages", **jose(f.hotline.sign(withdrawn)))
    assert response.status == 202, await response.json()
    await f.forward_all()

    b_view = await f.b.timeline(f.platform, sent["case_id"])
    assert [e["to_state"] for e in b_view if e["event"] == "recipient.state_changed"][-1] == "withdrawn"
    confirmation = deletion_confirmation(f.platform, remote_hotline, sent["case_id"], withdrawn["id"])
    response = await f.b.client.post("/v1/messages", **jose(f.platform.sign(confirmation)))
    assert response.status == 202, await response.json()
    await f.forward_all(f.b)

    a_view = await f.a.timeline(f.hotline, sent["case_id"])
    moves = [(e["subject"], e["to_state"]) for e in a_view if e["event"] == "recipient.state_changed"]
    assert (f.remote_platform.id, "withdrawn") in moves
    accepted = [e.get("message_type") for e in a_view if e["event"] == "message.accepted"]
    assert accepted == ["takedown-request", "withdrawal", "deletion-confirmation"]
    hops = [e for e in a_view if e["event"] == "message.received_from_hub"]
    assert [h["message_id"] for h in hops] == [confirmation["id"]]


async def test_the_sending_hubs_evidence_bundle_verifies_offline_with_the_next_hops_receipt(
    federation: Federation,
) -> None:
    """Hub A's evidence bundle of a forwarded case verifies offline with A's key alone, and carries B's
    receipt for the hop, which verifies offline with B's key. (B's bundle of the same case verifies too,
    the hotline's key proven through A's log: tests/test_federation_keys.py.)"""
    f = federation
    sent = await f.send()
    await f.forward_all()
    app = f.a.app
    await sequence_and_checkpoint(app[POOL], app[HUB_KEY], HUB_A, f.a.clock())
    async with app[POOL].acquire() as conn:
        bundle = await export_bundle(
            conn, uuid.UUID(sent["case_id"]), hub_id=HUB_A, now=f.a.clock(), keyring=app[KEYRING]
        )

    report = verify_bundle(bundle, trust_from_keys([hub_key(f.a)], "hub A's key"))

    assert report.ok, report.faults
    with zipfile.ZipFile(io.BytesIO(bundle)) as files:
        timeline = json.loads(files.read("timeline.json"))
    events = timeline if isinstance(timeline, list) else timeline.get("events", timeline.get("timeline", []))
    (hop,) = [e for e in events if e["event"] == "message.forwarded"]
    verify_receipt(
        hop.get("detail", hop)["receipt"],
        issuer=HUB_B,
        keys=[hub_key(f.b)],
        message_id=uuid.UUID(sent["message_id"]),
        payload_sha256=sent["payload_sha256"],
    )


async def test_a_routing_selector_never_picks_a_peer_hubs_participant(federation: Federation) -> None:
    """Routing by kind and country finds this hub's own participants only: the mirrored platform of B in
    the same country neither makes the route ambiguous nor is routed to (it is named by its global id)."""
    f = federation
    local = await Directory(f.a.db).add("ie-local-platform", "platform", "IE")
    envelope = routed(takedown(f.hotline, local), {"kind": "platform", "country": "IE"})
    response = await f.a.client.post("/v1/messages", **jose(f.hotline.sign(envelope)))
    body = await response.json()
    assert response.status == 202, body
    recipients = await f.a.db.fetchval(
        "SELECT recipients FROM messages WHERE id = $1", uuid.UUID(body["message_id"])
    )
    assert recipients == ["ie-local-platform"]
