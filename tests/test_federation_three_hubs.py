"""Issue 20, "how to show it": three hubs on one machine (tests/hub_mesh.py: each its own database, key
and server), a hotline on hub A, a platform on hub B and one on hub C. One takedown request fanned out
across the hubs (one case, one signed part per platform, each platform sees only its own part); the
lifecycle (delivery, acknowledgement, decision) crossing back; each hop proven on A's timeline; A's
evidence bundle verified offline; forged cross-hub senders refused."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_asyncio

from hub.api.keys import HUB_KEY, KEYRING, POOL
from hub.client.verify import verify_inbox_item
from hub.core.jose import issue_token, parse_jws, sha256_hex
from hub.core.receipt import sign_receipt, verify_receipt
from hub.evidence.export import export_bundle
from hub.evidence.verify import trust_from_keys, verify_bundle
from hub.store.audit import sequence_and_checkpoint
from tests.factories import (
    Directory,
    Member,
    acknowledgement,
    case_closure,
    declined,
    deletion_confirmation,
    fan_out_url,
    removal,
    takedown,
    takedown_parts,
    withdrawal,
)
from tests.hub_mesh import Mesh, MeshHub, as_seen_on, mesh_of

HUB_A, HUB_B, HUB_C = "hub-a.example.de", "hub-b.example.eu", "hub-c.example.au"
PROBLEM = "urn:referral-hub:problem:"


@dataclass
class Three:
    mesh: Mesh
    hotline: Member  # on A
    b_platform: Member  # on B, by its local id
    c_platform: Member  # on C, by its local id

    @property
    def a(self) -> MeshHub:
        return self.mesh[HUB_A]

    @property
    def b(self) -> MeshHub:
        return self.mesh[HUB_B]

    @property
    def c(self) -> MeshHub:
        return self.mesh[HUB_C]

    def remote(self, member: Member) -> Member:
        """A participant as the other hubs name it."""
        home = {self.hotline.id: HUB_A, self.b_platform.id: HUB_B, self.c_platform.id: HUB_C}[member.id]
        return as_seen_on(member, home)

    async def refer(self) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
        """The hotline's takedown request to both platforms, split by platform (issue 16) and sent to A
        part by part, the further part naming the case the first opened: (case id, parts, receipts)."""
        parts = takedown_parts(self.hotline, self.remote(self.b_platform), self.remote(self.c_platform))
        assert len(parts) == 2
        first = await self.mesh.submit(self.a, self.hotline, parts[0])
        parts[1]["case"] = first["case_id"]
        second = await self.mesh.submit(self.a, self.hotline, parts[1])
        assert second["case_id"] == first["case_id"]
        return first["case_id"], parts, [first, second]


@pytest_asyncio.fixture
async def three(server_dsn: str, template_dsn: str, tmp_path: Path) -> AsyncIterator[Three]:
    async with mesh_of(server_dsn, template_dsn, [HUB_A, HUB_B, HUB_C], tmp_path) as mesh:
        hotline = await Directory(mesh[HUB_A].db).add("de-hotline", "hotline", "DE")
        b_platform = await Directory(mesh[HUB_B].db).add("ie-platform", "platform", "IE")
        c_platform = await Directory(mesh[HUB_C].db).add("au-platform", "platform", "AU")
        await mesh.sync_all()
        yield Three(mesh, hotline, b_platform, c_platform)


def hub_keys(hub: MeshHub) -> list[Any]:
    return [hub.identity.key.public()]


async def test_a_takedown_fans_out_across_three_hubs_and_its_answers_come_back(three: Three) -> None:
    t, mesh = three, three.mesh
    case_id, parts, receipts = await t.refer()

    assert await mesh.settle() == 2  # A forwards one part to B, the other to C

    # each platform pulls only its own part: the hotline's exact signed bytes, its own URL alone
    for hub, platform, part, receipt in (
        (t.b, t.b_platform, parts[0], receipts[0]),
        (t.c, t.c_platform, parts[1], receipts[1]),
    ):
        (item,) = await mesh.inbox(hub, platform)
        assert item["message"] == receipt["signed"]
        sender = await mesh.get(hub, platform, f"/v1/participants/de-hotline@{HUB_A}")
        jwks = await mesh.get(hub, platform, "/.well-known/jwks.json")
        verified = verify_inbox_item(item, sender["jwks"], jwks, recipient=platform.id)
        assert [c["url"] for c in verified.envelope["body"]["content"]] == [fan_out_url(t.remote(platform))]
        assert verified.envelope["id"] == part["id"]
        # the other part never reached this hub, and the case has the same id here
        stored = {str(r["id"]) for r in await hub.db.fetch("SELECT id FROM messages")}
        assert stored == {part["id"]}
        assert str(await hub.db.fetchval("SELECT case_id FROM messages")) == case_id

    # A's case: one case, two recipients on two hubs, each hop with its hub's receipt
    view = await mesh.case(t.a, t.hotline, case_id)
    assert {(r["participant_id"], r["home_hub"], r["state"]) for r in view["recipients"]} == {
        (t.remote(t.b_platform).id, HUB_B, "retrieved"),
        (t.remote(t.c_platform).id, HUB_C, "retrieved"),
    }
    hops = {e["actor"]: e for e in view["timeline"] if e["event"] == "message.forwarded"}
    assert sorted(hops) == [HUB_B, HUB_C]
    for hub, receipt in ((t.b, receipts[0]), (t.c, receipts[1])):
        verify_receipt(
            hops[hub.hub_id]["receipt"],
            issuer=hub.hub_id,
            keys=hub_keys(hub),
            message_id=uuid.UUID(receipt["message_id"]),
            payload_sha256=receipt["payload_sha256"],
        )

    # the platforms answer on their own hubs; the answers cross back to A
    remote_hotline = t.remote(t.hotline)
    for hub, platform, receipt, decision in (
        (t.b, t.b_platform, receipts[0], removal),
        (t.c, t.c_platform, receipts[1], declined),
    ):
        await mesh.submit(
            hub, platform, acknowledgement(platform, remote_hotline, case_id, receipt["message_id"])
        )
        await mesh.submit(hub, platform, decision(platform, remote_hotline, case_id, receipt["message_id"]))
    assert await mesh.settle() == 4

    view = await mesh.case(t.a, t.hotline, case_id)
    states = {r["participant_id"]: r["state"] for r in view["recipients"]}
    for hub, platform in ((t.b, t.b_platform), (t.c, t.c_platform)):
        own = await mesh.case(hub, platform, case_id)
        (there,) = [r for r in own["recipients"] if r["participant_id"] == platform.id]
        assert states[t.remote(platform).id] == there["state"]  # the same state on both hubs
    assert states == {t.remote(t.b_platform).id: "actioned", t.remote(t.c_platform).id: "declined"}
    received = [e for e in view["timeline"] if e["event"] == "message.received_from_hub"]
    assert sorted(e["actor"] for e in received) == [HUB_B, HUB_B, HUB_C, HUB_C]
    hotline_inbox = await mesh.inbox(t.a, t.hotline)
    assert len(hotline_inbox) == 4
    # nothing doubled anywhere: every message once on each hub that holds it
    assert await t.a.db.fetchval("SELECT count(*) FROM messages") == 6
    for hub in (t.b, t.c):
        assert await hub.db.fetchval("SELECT count(*) FROM messages") == 3
        assert (
            await hub.db.fetchval(
                "SELECT count(*) FROM messages WHERE id::text = ANY($1)", [p["id"] for p in parts]
            )
            == 1
        )


async def test_hub_as_evidence_bundle_of_the_fanned_out_case_verifies_offline(three: Three) -> None:
    """A's bundle verifies with A's key alone, and carries B's and C's receipts for their hops, each
    verifying with that hub's key."""
    t, mesh = three, three.mesh
    case_id, _, receipts = await t.refer()
    await mesh.settle()
    app = t.a.app
    await sequence_and_checkpoint(app[POOL], app[HUB_KEY], HUB_A, t.a.clock())
    async with app[POOL].acquire() as conn:
        bundle = await export_bundle(
            conn, uuid.UUID(case_id), hub_id=HUB_A, now=t.a.clock(), keyring=app[KEYRING]
        )

    report = verify_bundle(bundle, trust_from_keys(hub_keys(t.a), "hub A's key"))

    assert report.ok, report.faults
    with zipfile.ZipFile(io.BytesIO(bundle)) as files:
        timeline = json.loads(files.read("timeline.json"))
    events = timeline if isinstance(timeline, list) else timeline.get("events", timeline.get("timeline", []))
    hops = {e["actor"]: e for e in events if e["event"] == "message.forwarded"}
    assert sorted(hops) == [HUB_B, HUB_C]
    for hub, receipt in ((t.b, receipts[0]), (t.c, receipts[1])):
        verify_receipt(
            hops[hub.hub_id].get("detail", hops[hub.hub_id])["receipt"],
            issuer=hub.hub_id,
            keys=hub_keys(hub),
            message_id=uuid.UUID(receipt["message_id"]),
            payload_sha256=receipt["payload_sha256"],
        )


async def forward(
    mesh: Mesh, caller: MeshHub, to: MeshHub, signed: str, *, sender: str, case_id: uuid.UUID
) -> tuple[int, dict[str, Any]]:
    """`caller` posts a forwarding to `to` with a receipt of its own for it, as any peer could."""
    payload = parse_jws(signed.encode()).payload
    envelope = json.loads(payload)
    receipt = sign_receipt(
        caller.identity.key,
        hub_id=caller.hub_id,
        message_id=uuid.UUID(envelope["id"]),
        message_type=envelope["type"],
        sender=sender,
        recipients=envelope["to"],
        case_id=case_id,
        payload_sha256=sha256_hex(payload),
        accepted_at=caller.clock(),
    )
    token = issue_token(caller.identity.key, issuer=caller.hub_id, audience=to.hub_id, now=to.clock.ts())
    async with mesh.session.post(
        to.url + "/v1/federation/messages",
        json={"message": signed, "receipt": receipt},
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        return response.status, await response.json()


async def test_a_hub_speaks_only_for_its_own_participants(three: Three) -> None:
    """B refuses a message A forwards in the name of a participant A does not vouch for (C's platform,
    under its local id, or its global one, which no envelope's `from` may be), and A refuses an answer
    C forwards for B's platform, even signed with that platform's own key. Nothing is stored on either."""
    t, mesh = three, three.mesh
    case_id, _, receipts = await t.refer()
    await mesh.settle()
    before = {hub.hub_id: await hub.db.fetchval("SELECT count(*) FROM messages") for hub in (t.a, t.b)}

    # A claims C's platform as its own sender towards B
    # (under its global id the envelope is refused first: `from` is always a local id, check 2)
    for claimed, refused in (
        (t.c_platform, "sender-not-vouched"),
        (t.remote(t.c_platform), "schema-invalid"),
    ):
        forged = Member(claimed.id, "platform", "AU", t.c_platform.key, t.c_platform.enc)
        signed = forged.sign(takedown(forged, t.remote(t.b_platform)))
        status, problem = await forward(mesh, t.a, t.b, signed, sender=claimed.id, case_id=uuid.uuid4())
        assert (status, problem["type"]) == (422, PROBLEM + refused), problem

    # C answers for B's platform towards A, on the case B's platform is a party to
    remote_hotline = t.remote(t.hotline)
    for claimed, refused in (
        (t.b_platform, "sender-not-vouched"),
        (t.remote(t.b_platform), "schema-invalid"),
    ):
        forged = Member(claimed.id, "platform", "IE", t.b_platform.key, t.b_platform.enc)
        ack = acknowledgement(forged, remote_hotline, case_id, receipts[0]["message_id"])
        signed = forged.sign(ack)
        status, problem = await forward(mesh, t.c, t.a, signed, sender=claimed.id, case_id=uuid.UUID(case_id))
        assert (status, problem["type"]) == (422, PROBLEM + refused), problem

    after = {hub.hub_id: await hub.db.fetchval("SELECT count(*) FROM messages") for hub in (t.a, t.b)}
    assert after == before
    view = await mesh.case(t.a, t.hotline, case_id)
    assert {r["state"] for r in view["recipients"]} == {"retrieved"}


async def test_a_further_part_opens_its_case_on_a_hub_only_under_the_case_it_names(three: Three) -> None:
    """A further part whose first part went to another hub opens its case on the receiving hub under
    the case id it names; a forwarding hub's receipt naming another case is refused, nothing stored."""
    t, mesh = three, three.mesh
    parts = takedown_parts(t.hotline, t.remote(t.b_platform), t.remote(t.c_platform))
    parts[1]["case"] = str(uuid.uuid4())
    signed = t.hotline.sign(parts[1])

    status, problem = await forward(mesh, t.a, t.c, signed, sender=t.hotline.id, case_id=uuid.uuid4())

    assert (status, problem["type"]) == (422, PROBLEM + "invalid-hop-receipt"), problem
    assert await t.c.db.fetchval("SELECT count(*) FROM cases") == 0
    status, accepted = await forward(
        mesh, t.a, t.c, signed, sender=t.hotline.id, case_id=uuid.UUID(parts[1]["case"])
    )
    assert status == 202, accepted
    assert accepted["case_id"] == parts[1]["case"]


async def test_one_withdrawal_and_one_closure_reach_platforms_on_two_hubs(three: Three) -> None:
    """A message to recipients on several hubs (docs/federation.md, check 6): A forwards it to each hub,
    which takes it for its own recipient. The hotline withdraws its request from both platforms in one
    message, each confirms the deletion on its own hub, and the hotline closes the case in one message."""
    t, mesh = three, three.mesh
    case_id, _, receipts = await t.refer()
    await mesh.settle()
    both = [t.remote(t.b_platform), t.remote(t.c_platform)]

    withdrawn = await mesh.submit(t.a, t.hotline, withdrawal(t.hotline, both, case_id))
    assert await mesh.settle() == 2
    for hub, platform in ((t.b, t.b_platform), (t.c, t.c_platform)):
        items = await mesh.inbox(hub, platform)
        assert [i["message"] for i in items][-1] == withdrawn["signed"]
        (state,) = [r for r in (await mesh.case(hub, platform, case_id))["recipients"]]
        assert state["state"] == "withdrawn"
        received = await hub.db.fetchval(
            "SELECT recipients FROM messages WHERE id = $1", uuid.UUID(withdrawn["message_id"])
        )
        assert received == [platform.id]  # taken for its own recipient only
        confirmation = deletion_confirmation(platform, t.remote(t.hotline), case_id, withdrawn["message_id"])
        await mesh.submit(hub, platform, confirmation)
    assert await mesh.settle() == 2
    view = await mesh.case(t.a, t.hotline, case_id)
    assert {r["state"] for r in view["recipients"]} == {"withdrawn"}
    assert all(r["deletion"]["confirmed"] for r in view["recipients"])

    closed = await mesh.submit(t.a, t.hotline, case_closure(t.hotline, both, case_id))
    assert await mesh.settle() == 2
    for hub in (t.a, t.b, t.c):
        status = await hub.db.fetchval(
            "SELECT closed_at IS NOT NULL FROM cases WHERE id = $1", uuid.UUID(case_id)
        )
        assert status, hub.hub_id
    assert closed["message_id"]
    assert receipts
