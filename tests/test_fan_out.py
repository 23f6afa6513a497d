"""Issue 16.7: a fan-out to three platforms, each reached its own way (a webhook, a pull inbox, an abuse
mailbox), all the way to what each recipient gets: each sees only the locators on its own service, and the
case groups all three for the sender. The referral is one document split by the client library
(`hub.client.fanout`) into one signed message per platform; the hub, the delivery worker, the webhook and
e-mail adapters and the inbox are the real ones (fixtures of tests/test_email_adapter.py and
tests/test_delivery_worker.py)."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import asyncpg

from adapters.base import AdapterContext
from adapters.email import EmailAdapter
from adapters.registry import BUILT_IN, build_adapters
from hub.api.keys import DSN, INTAKE, POOL
from hub.client import HubClient
from hub.client.fanout import send_referral, split_referral
from hub.client.sealing import open_sealed
from hub.client.verify import verify_inbox_item
from hub.core.clock import utc_now
from hub.delivery.worker import DeliveryWorker, WorkerConfig
from tests import test_delivery_worker, test_email_adapter
from tests.factories import Directory, add_with_endpoint, delivery_worker, payload_of, takedown
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
