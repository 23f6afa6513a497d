"""Issue 20, faults: a peer hub that is down. Forwarding backs off per peer hub, not per message or per
recipient (migration 0028, docs/federation.md section 4 "Retries and backoff"): once hub B is known down,
messages to any of its participants wait for B's next retry, which is one forwarding (the probe); when B
answers again its queue drains, each message taken once. The hotline's case shows "waiting for hub B"
meanwhile."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from hub.store import deliveries
from tests.factories import Directory, Member, jose, takedown
from tests.test_federation_forwarding import hub_b_url, hub_settings  # noqa: F401  (fixtures)
from tests.test_federation_two_hubs import HUB_A, HUB_B, Federation, federation, sync  # noqa: F401


class SwitchProxy:
    """Stands between A and B: answers 503 while `down` (B unreachable), else passes the forwarding on.
    Counts what reaches it (`hits`) and what it passed to B (`passed`)."""

    def __init__(self, target: str) -> None:
        self.target, self.down, self.hits, self.passed = target, True, 0, 0
        self.status = 503  # what it answers while down (403: B refuses A)

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.down:
            return web.Response(status=self.status, text="down")
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k in ("Authorization", "Idempotency-Key")}
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.target + request.path, data=body, headers={**headers, "Content-Type": "application/json"}
            ) as answer,
        ):
            self.passed += 1
            text = await answer.text()
            return web.Response(status=answer.status, text=text, content_type=answer.content_type)


async def switch_proxy(f: Federation) -> AsyncIterator[SwitchProxy]:
    """A's endpoint for B pointed at a proxy that can take B down."""
    proxy = SwitchProxy(f.b.url)
    app = web.Application()
    app.router.add_post("/v1/federation/messages", proxy.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    endpoint = f"http://127.0.0.1:{runner.addresses[0][1]}"
    await f.a.db.execute("UPDATE participants SET endpoint = $2 WHERE id = $1", HUB_B, endpoint)
    try:
        yield proxy
    finally:
        await runner.cleanup()


async def drain(f: Federation) -> None:
    """Hub A's worker rounds until one claims nothing (what its loop does)."""
    worker = f.worker()
    while await worker.run_once():
        await worker.wait_idle()
    await worker.wait_idle()


async def send(f: Federation, to: Member) -> dict[str, Any]:
    response = await f.a.client.post("/v1/messages", **jose(f.hotline.sign(takedown(f.hotline, to))))
    body = await response.json()
    assert response.status == 202, body
    return dict(body)


async def recipient_view(f: Federation, case_id: str) -> dict[str, Any]:
    token = f.hotline.token(audience=HUB_A, now=f.a.clock.ts())
    response = await f.a.client.get(f"/v1/cases/{case_id}", headers={"Authorization": f"Bearer {token}"})
    (recipient,) = (await response.json())["recipients"]
    return dict(recipient)


def advance(f: Federation, minutes: float) -> None:
    f.a.clock.advance(minutes=minutes)
    f.b.clock.advance(minutes=minutes)


async def test_a_peer_hub_down_backs_off_once_for_all_its_participants_then_drains(
    federation: Federation,  # noqa: F811
) -> None:
    f = federation
    fr = await Directory(f.b.db).add("fr-platform", "platform", "FR")
    assert sorted(await sync(f.a, f.b)) == [f"fr-platform@{HUB_B}", f"ie-platform@{HUB_B}"]
    other = Member(f"fr-platform@{HUB_B}", "platform", "FR", fr.key, fr.enc)
    async for proxy in switch_proxy(f):
        first = await send(f, f.remote_platform)
        await drain(f)
        assert proxy.hits == 1
        peer = await f.a.db.fetchrow(
            "SELECT consecutive_failures, next_attempt_at FROM destinations WHERE participant_id = $1", HUB_B
        )
        assert peer["consecutive_failures"] == 1
        assert peer["next_attempt_at"] > f.a.clock()
        own = "SELECT consecutive_failures FROM destinations WHERE participant_id = $1"
        assert await f.a.db.fetchval(own, f.remote_platform.id) == 0  # counted against the peer

        # B is known down: messages to another of its participants, and to the same, wait for B's retry
        later = [await send(f, other), await send(f, f.remote_platform)]
        await drain(f)
        assert proxy.hits == 1
        assert (await recipient_view(f, later[0]["case_id"]))["waiting_for_hub"] == HUB_B

        # B's next retry is one forwarding (the probe), not one per message or per recipient
        advance(f, 15)
        await drain(f)
        assert proxy.hits == 2
        assert (
            await f.a.db.fetchval(
                "SELECT consecutive_failures FROM destinations WHERE participant_id = $1", HUB_B
            )
            == 2
        )

        # B answers again: its probe succeeds, the peer is reset, and the queue drains
        proxy.down = False
        advance(f, 15)
        await drain(f)
        assert (proxy.hits, proxy.passed) == (5, 3)
        peer = await f.a.db.fetchrow(
            "SELECT consecutive_failures, next_attempt_at FROM destinations WHERE participant_id = $1", HUB_B
        )
        assert (peer["consecutive_failures"], peer["next_attempt_at"]) == (0, None)
    sent = [first, *later]
    states = await f.a.db.fetch("SELECT message_id, state FROM deliveries ORDER BY seq")
    assert [(str(r["message_id"]), r["state"]) for r in states] == [
        (s["message_id"], "delivered") for s in sent
    ]
    # nothing lost, nothing taken twice: each message once on B, each hop once on A
    on_b = await f.b.db.fetch("SELECT id FROM messages ORDER BY accepted_at")
    assert sorted(str(r["id"]) for r in on_b) == sorted(s["message_id"] for s in sent)
    hops = "SELECT count(*) FROM case_events WHERE event = $1"
    assert await f.b.db.fetchval(hops, "message.received_from_hub") == 3
    assert await f.a.db.fetchval(hops, "message.forwarded") == 3
    for s in sent:
        assert "waiting_for_hub" not in await recipient_view(f, s["case_id"])
    attempts = await f.a.db.fetchval("SELECT sum(attempts) FROM deliveries")
    assert attempts == 5
    assert uuid.UUID(first["message_id"])


async def test_a_peer_hub_that_refuses_this_hub_is_parked_for_all_its_participants(
    federation: Federation,  # noqa: F811
) -> None:
    """B answers 403 (A's token or key is refused, whoever the recipient): the refusals count against B,
    and at the policy's limit B is parked; every delivery to any of its participants is shown held on its
    case, also one queued after. The operator unparks B: they resume, and drain once B takes them."""
    f = federation
    fr = await Directory(f.b.db).add("fr-platform", "platform", "FR")
    await sync(f.a, f.b)
    other = Member(f"fr-platform@{HUB_B}", "platform", "FR", fr.key, fr.enc)
    async for proxy in switch_proxy(f):
        proxy.status = 403
        first = await send(f, f.remote_platform)
        refusals = "SELECT consecutive_refusals, parked_at FROM destinations WHERE participant_id = $1"
        for n in range(1, 7):
            await drain(f)
            row = await f.a.db.fetchrow(refusals, HUB_B)
            assert row["consecutive_refusals"] == n
            advance(f, 15)
        assert row["parked_at"] is not None  # the 6th refusal parked B
        assert (await f.a.db.fetchrow(refusals, f.remote_platform.id))["consecutive_refusals"] == 0
        hits = proxy.hits
        later = await send(f, other)
        await drain(f)
        assert proxy.hits == hits  # nothing more is tried while B is parked
        for sent, to in ((first, f.remote_platform), (later, other)):
            held = await f.a.db.fetch(
                "SELECT subject FROM case_events WHERE case_id = $1 AND event = 'delivery.parked'",
                uuid.UUID(sent["case_id"]),
            )
            assert [r["subject"] for r in held] == [to.id]

        # the operator's list shows B parked, holding both (`hub deliveries destinations`)
        (peer,) = [d for d in await deliveries.list_destinations(f.a.db) if d["participant_id"] == HUB_B]
        assert (peer["pending"], peer["parked_at"] is not None) == (2, True)

        proxy.down = False
        assert await deliveries.unpark(f.a.db, HUB_B, f.a.clock()) == 2
        await drain(f)
    states = await f.a.db.fetch("SELECT state FROM deliveries ORDER BY seq")
    assert [r["state"] for r in states] == ["delivered", "delivered"]
    assert await f.b.db.fetchval("SELECT count(*) FROM messages") == 2
    unparked = "SELECT count(*) FROM case_events WHERE event = 'delivery.unparked'"
    assert await f.a.db.fetchval(unparked) == 2
