"""Issue 20, faults: a hub stopped and started again mid-flow (its server, pool and workers closed, then a
new app on the same database, key and port: tests/hub_mesh.py), with three hubs. Nothing is lost or
doubled on any hub: every message is held once by each hub it concerns, each hop recorded once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from tests.factories import acknowledgement, takedown
from tests.hub_mesh import Mesh, MeshHub
from tests.test_federation_three_hubs import HUB_A, HUB_B, HUB_C, Three, three  # noqa: F401


async def count(hub: MeshHub, sql: str, *args: Any) -> int:
    return int(await hub.db.fetchval(sql, *args))


async def held_once(*hubs: tuple[MeshHub, set[str]]) -> None:
    """Each hub holds exactly these messages, each once, each forwarded hop recorded once, and has no
    forwarding left to make."""
    for hub, ids in hubs:
        rows = await hub.db.fetch("SELECT id FROM messages")
        assert sorted(str(r["id"]) for r in rows) == sorted(ids), hub.hub_id
        for event in ("message.received_from_hub", "message.forwarded"):
            doubled = await hub.db.fetchval(
                "SELECT count(*) FROM (SELECT message_id FROM case_events WHERE event = $1"
                " GROUP BY message_id, subject HAVING count(*) > 1) d",
                event,
            )
            assert doubled == 0, (hub.hub_id, event)
        undelivered = await hub.db.fetchval(
            "SELECT count(*) FROM deliveries WHERE channel = 'push' AND state <> 'delivered'"
        )
        assert undelivered == 0, hub.hub_id


async def test_hubs_stopped_and_started_again_mid_flow_lose_and_double_nothing(three: Three) -> None:  # noqa: F811
    t, mesh = three, three.mesh
    case_id, parts, receipts = await t.refer()
    remote_b = t.remote(t.b_platform).id

    # B is stopped before A forwards: C gets its part, B's waits for B (its peer backs off)
    await t.b.stop()
    assert await mesh.settle() == 2
    view = await mesh.case(t.a, t.hotline, case_id)
    waiting = {r["participant_id"]: r.get("waiting_for_hub") for r in view["recipients"]}
    assert waiting == {remote_b: HUB_B, t.remote(t.c_platform).id: None}
    assert (
        await count(t.a, "SELECT consecutive_failures FROM destinations WHERE participant_id = $1", HUB_B)
        == 1
    )

    # B starts again on its database: A's retry delivers the part
    await t.b.start()
    mesh.advance(minutes=15)
    assert await mesh.settle() == 1
    (item,) = await mesh.inbox(t.b, t.b_platform)
    assert item["message"] == receipts[0]["signed"]

    # both platforms acknowledge; A is stopped before B and C forward the answers
    acks = []
    for hub, platform, receipt in ((t.b, t.b_platform, receipts[0]), (t.c, t.c_platform, receipts[1])):
        ack = acknowledgement(platform, t.remote(t.hotline), case_id, receipt["message_id"])
        await mesh.submit(hub, platform, ack)
        acks.append(ack["id"])
    await t.a.stop()
    assert await mesh.settle() == 2  # each tries A once, and backs A off
    for hub in (t.b, t.c):
        failures = "SELECT consecutive_failures FROM destinations WHERE participant_id = $1"
        assert await count(hub, failures, HUB_A) == 1

    await t.a.start()
    mesh.advance(minutes=15)
    assert await mesh.settle() == 2

    view = await mesh.case(t.a, t.hotline, case_id)
    assert {r["state"] for r in view["recipients"]} == {"acknowledged"}
    assert len(await mesh.inbox(t.a, t.hotline)) == 2
    part_ids = [p["id"] for p in parts]
    await held_once((t.a, {*part_ids, *acks}), (t.b, {part_ids[0], acks[0]}), (t.c, {part_ids[1], acks[1]}))


class GateProxy:
    """Stands between A and B and holds each forwarding until `release` is set; then passes it on to B
    (even if A has gone meanwhile) and sets `answered` once B has answered."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.held, self.release, self.answered = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self.gated = True
        self.passed = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k in ("Authorization", "Idempotency-Key")}
        if self.gated:
            self.held.set()
            await self.release.wait()
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.target + request.path, data=body, headers={**headers, "Content-Type": "application/json"}
            ) as answer,
        ):
            text = await answer.text()
            self.passed += 1
            self.answered.set()
            return web.Response(status=answer.status, text=text, content_type=answer.content_type)


async def gate(mesh: Mesh, a: MeshHub, b: MeshHub) -> AsyncIterator[GateProxy]:
    proxy = GateProxy(b.url)
    app = web.Application()
    app.router.add_post("/v1/federation/messages", proxy.handle)
    runner = web.AppRunner(app, handler_cancellation=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    await a.db.execute(
        "UPDATE participants SET endpoint = $2 WHERE id = $1",
        b.hub_id,
        f"http://127.0.0.1:{runner.addresses[0][1]}",
    )
    try:
        yield proxy
    finally:
        proxy.release.set()
        await runner.cleanup()


async def test_a_hub_killed_with_a_forwarding_in_flight_redoes_it_once(three: Three) -> None:  # noqa: F811
    """A's worker is forwarding to B when A is stopped (the forwarding cancelled, its lease left held);
    the forwarding still reaches B, which takes it. A starts again; once the lease has expired its worker
    forwards again and B answers with its first receipt: one message on B, one hop on each side."""
    t, mesh = three, three.mesh
    async for proxy in gate(mesh, t.a, t.b):
        sent = await mesh.submit(t.a, t.hotline, _takedown_to_b(t))
        worker = mesh.worker(t.a, grace=0.1)
        assert await worker.run_once() == 1
        await proxy.held.wait()
        await worker.stop()  # the in-flight forwarding is cancelled: A has no answer
        await t.a.stop()
        proxy.release.set()
        await proxy.answered.wait()  # B took it meanwhile
        assert await count(t.b, "SELECT count(*) FROM messages") == 1

        await t.a.start()
        row = await t.a.db.fetchrow("SELECT state, attempts FROM deliveries")
        assert (row["state"], row["attempts"]) == ("in_flight", 1)
        assert await mesh.settle() == 0  # the dead worker's lease still holds
        mesh.advance(minutes=2)  # past the lease (60 s)
        proxy.gated = False
        assert await mesh.settle() == 1

        assert proxy.passed == 2
        row = await t.a.db.fetchrow("SELECT state, attempts FROM deliveries")
        assert (row["state"], row["attempts"]) == ("delivered", 2)
        forwarded = await t.a.db.fetchrow("SELECT detail FROM case_events WHERE event = 'message.forwarded'")
        on_b = await t.b.db.fetchrow(
            "SELECT receipt FROM messages WHERE id = $1", uuid.UUID(sent["message_id"])
        )
        assert forwarded["detail"]["receipt"] == on_b["receipt"]  # B's first receipt, given again
    await held_once((t.a, {sent["message_id"]}), (t.b, {sent["message_id"]}), (t.c, set()))


def _takedown_to_b(t: Three) -> dict[str, Any]:
    return takedown(t.hotline, t.remote(t.b_platform))
