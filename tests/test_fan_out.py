"""Issue 16.7: a fan-out to three platforms, each reached its own way (a webhook, a pull inbox, an abuse
mailbox), all the way to what each recipient gets: each sees only the locators on its own service, and the
case groups all three for the sender. The referral is one document split by the client library
(`hub.client.fanout`) into one signed message per platform; the hub, the delivery worker, the webhook and
e-mail adapters and the inbox are the real ones (fixtures of tests/test_email_adapter.py and
tests/test_delivery_worker.py)."""

from __future__ import annotations

import json
from email.message import EmailMessage
from typing import Any

import asyncpg

from adapters.base import AdapterContext
from adapters.email import EmailAdapter
from adapters.registry import BUILT_IN, build_adapters
from hub.api.app import create_app
from hub.api.keys import DSN, INTAKE, POOL
from hub.client import HubClient
from hub.client.fanout import send_referral, split_referral
from hub.client.sealing import open_sealed
from hub.client.verify import verify_inbox_item
from hub.core.clock import utc_now
from hub.delivery.worker import DeliveryWorker, WorkerConfig
from tests import test_delivery_worker, test_email_adapter
from tests.factories import (
    Directory,
    add_with_endpoint,
    delivery_worker,
    jose,
    payload_of,
    refer,
    split_takedown,
    takedown,
)
from tests.test_email_adapter import EmailHub, mail_settings, step

hub = test_email_adapter.hub
sink = test_email_adapter.sink
receiver = test_delivery_worker.receiver

CONTACT = {"name": "Fictitious Person", "email": "person@example.org"}
URLS = {
    "ie-platform-test": "https://mail-only.example.com/p/fan-0001",  # the e-mail platform (the fixture's)
    "nl-platform-hook": "https://hooked.example.net/v/fan-0002",
    "fr-platform-pull": "https://pulled.example.org/i/fan-0003",
}


def decoded_text(message: EmailMessage) -> str:
    """Every part of the mail, decoded (the notice, and the signed message attached to it)."""
    found = []
    for part in message.walk():
        if not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                found.append(payload.decode("utf-8", "replace"))
    return "\n".join(found)


async def test_a_fan_out_to_a_webhook_a_pull_inbox_and_an_abuse_mailbox_shows_each_only_its_own_part(
    hub: EmailHub, db: asyncpg.Connection, directory: Directory, receiver: Any
) -> None:
    hooked = await add_with_endpoint(db, "nl-platform-hook", country="NL", endpoint=receiver.url)
    pulled = await directory.add("fr-platform-pull", "platform", "FR")
    for platform, url in URLS.items():
        domain = url.split("/")[2]
        await db.execute("UPDATE participants SET domains = $2 WHERE id = $1", platform, [domain])
    request = takedown(hub.hotline, hub.platform, hooked, pulled, jurisdictions=["EU"])
    request["body"]["content"] = [{"url": url} for url in URLS.values()]
    request["body"]["contact"] = {"seal": CONTACT}
    del request["id"]

    base = str(hub.client.make_url("")).rstrip("/")
    client = HubClient(hub.session, base, hub.hotline.id, hub.hotline.key)
    parts = split_referral(request, await client.participants(), "test-file-sha256")
    receipts = await send_referral(client, parts)

    assert [payload_of(r["receipt"])["to"] for r in receipts] == [[p] for p in URLS]
    case_id = receipts[0]["case_id"]
    assert {r["case_id"] for r in receipts} == {case_id}
    assert await db.fetchval("SELECT count(*) FROM cases") == 1
    assert await step(webhook_and_email_worker(hub)) == 2  # the webhook POST and the e-mail notice

    def own_only(text: str, platform: str) -> None:
        assert URLS[platform] in text
        for other, url in URLS.items():
            if other != platform:
                assert url not in text
                assert url.split("/")[2] not in text  # not even the other platform's domain

    # The webhook body: its own part, verifiable with the sender's key, its contact sealed to it alone.
    [post] = receiver.posts
    own_only(str(payload_of(post.body["message"])), hooked.id)
    hub_jwks = await client.hub_jwks()
    hotline_jwks = (await client.participant(hub.hotline.id))["jwks"]
    verified = verify_inbox_item(post.body, hotline_jwks, hub_jwks, recipient=hooked.id)
    assert open_sealed(verified.envelope["body"], hooked.id, hooked.enc).opened == {"/body/contact": CONTACT}
    assert [c["to"] for c in verified.envelope["body"]["contact"]["sealed"]] == [hooked.id]
    # The pull inbox item.
    status, page = await hub_get(hub, pulled, "/v1/inbox")
    [item] = page["messages"]
    own_only(str(payload_of(item["message"])), pulled.id)
    assert item["case_id"] == case_id
    verify_inbox_item(item, hotline_jwks, hub_jwks, recipient=pulled.id)
    # The e-mail notice, with the signed message it carries.
    [mail] = hub.sink.received
    own_only(decoded_text(mail.message()), hub.platform.id)

    # The sender's case groups all three; each platform's case view names only itself.
    status, view = await hub_get(hub, hub.hotline, f"/v1/cases/{case_id}")
    assert status == 200
    assert sorted(r["participant_id"] for r in view["recipients"]) == sorted(URLS)
    for platform in (hooked, pulled):
        status, theirs = await hub_get(hub, platform, f"/v1/cases/{case_id}")
        assert status == 200
        assert [r["participant_id"] for r in theirs["recipients"]] == [platform.id]
        assert not [url for other, url in URLS.items() if other != platform.id and url in str(theirs)]


def webhook_and_email_worker(hub: EmailHub) -> DeliveryWorker:
    """`EmailHub.worker`, with the built-in webhook adapter beside the e-mail one."""

    def email(context: AdapterContext) -> EmailAdapter:
        return EmailAdapter.with_settings(context, mail_settings(hub.smtp_port))

    adapters = build_adapters(hub.context(), {"webhook": BUILT_IN["webhook"], "email": email})
    config = WorkerConfig(poll_interval=0.05, grace=5.0)
    worker = delivery_worker(hub.app[POOL], hub.app[DSN], adapters, hub.app[INTAKE], utc_now, config)
    hub.workers.append(worker)
    return worker


async def hub_get(hub: EmailHub, member: Any, path: str) -> tuple[int, Any]:
    response = await hub.client.get(path, headers=member.auth())
    return response.status, await response.json()


# -- a hand-written takedown request to several platforms ----------------------------------------------------
STORED = ("cases", "messages", "case_parties", "deliveries", "deadlines", "case_events", "audit_entries")


async def stored(db: asyncpg.Connection) -> dict[str, int]:
    return {table: await db.fetchval(f"SELECT count(*) FROM {table}") for table in STORED}


async def test_a_hand_written_takedown_to_two_platforms_is_refused_and_stores_nothing_split_it_is_taken(
    aiohttp_client: Any, settings: Any, directory: Directory, db: asyncpg.Connection
) -> None:
    hotline = await directory.add("de-hotline-hand", "hotline", "DE")
    photos = await directory.add("ie-platform-photos", "platform", "IE")
    video = await directory.add("us-platform-video", "platform", "US")
    regulator = await directory.add("ie-regulator-copy", "regulator", "IE", accepts=["takedown-request"])
    client = await aiohttp_client(create_app(settings, background=False))
    own = {
        photos.id: "https://photos.example.com/p/hand-0001",
        video.id: "https://video.example.org/v/hand-0002",
    }
    locators = [{"url": url, "for": platform} for platform, url in own.items()]

    async def submitted(envelope: dict[str, Any]) -> Any:
        return await client.post("/v1/messages", **jose(hotline.sign(envelope)))

    async def accepted(envelope: dict[str, Any]) -> dict[str, Any]:
        response = await submitted(envelope)
        assert response.status == 202, await response.text()
        receipt: dict[str, Any] = await response.json()
        return receipt

    # Written by hand, as one message to both platforms (and a regulator): each would read the other's URL.
    whole = takedown(hotline, photos, video, regulator, content=[{"url": u} for u in own.values()])
    before = await stored(db)
    response = await submitted(whole)

    assert response.status == 422
    problem = await response.json()
    assert problem["type"] == "urn:referral-hub:problem:split-per-recipient"
    assert problem["platforms"] == sorted(own)
    assert [url for url in own.values() if url in json.dumps(problem)] == []
    assert await stored(db) == before  # no case, no message, no delivery, no clock, no audit entry
    for platform in (photos, video, regulator):
        inbox = await (await client.get("/v1/inbox", headers=platform.auth())).json()
        assert inbox["messages"] == []

    # Split as the client library splits it: one part per platform (the regulator's copy with the first).
    split = takedown(hotline, photos, video, regulator, content=locators)
    referral = await refer(accepted, split_takedown(split, hotline, photos, video, regulator))
    assert [part["to"] for part in referral.parts] == [[photos.id, regulator.id], [video.id]]
    assert {r["case_id"] for r in referral.receipts} == {referral.case_id}
    for platform, other in ((photos, video), (video, photos)):
        [item] = (await (await client.get("/v1/inbox", headers=platform.auth())).json())["messages"]
        assert own[other.id] not in json.dumps(payload_of(item["message"]))
