"""Issue 16.9, the seam of parking and the e-mail notice path: a webhook that keeps answering 401 is
parked, its recipient is told once at its directory contact over real SMTP (aiosmtpd), and the case
timeline shows `delivery.parked`. The hub and receiver fixtures are test_delivery_worker's, the mail
server test_email_adapter's."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest_asyncio
from structlog.testing import capture_logs

from adapters.registry import build_adapters
from hub.core.retry import RetryPolicy
from hub.delivery.worker import DeliveryWorker, WorkerConfig
from hub.services.park_notices import ParkNotices
from hub.store import deliveries, directory
from tests import test_delivery_worker
from tests.factories import delivery_worker
from tests.test_delivery_worker import Hub, case_view, events, step
from tests.test_email_adapter import MailSink, mail_settings, start_smtp

CONTACT = "abuse-desk@ie-platform-test.example"
hub = test_delivery_worker.hub  # the fixtures, as test_delivery_worker defines them
receiver = test_delivery_worker.receiver


@pytest_asyncio.fixture
async def sink() -> AsyncIterator[tuple[MailSink, int]]:
    handler = MailSink()
    server, port = await start_smtp(handler)
    yield handler, port
    server.close()


def telling_worker(hub: Hub, port: int) -> DeliveryWorker:
    worker = delivery_worker(
        hub.pool,
        str(hub.settings.database_url),
        build_adapters(hub.context()),
        hub.intake,
        hub.clock,
        WorkerConfig(
            poll_interval=0.05, grace=5.0, policy=RetryPolicy(base=timedelta(seconds=2), park_after=2)
        ),
        park_notices=ParkNotices(hub.pool, mail_settings(port), hub.clock),
    )
    hub.workers.append(worker)
    return worker


async def test_a_parked_webhook_is_told_once_at_its_contact_and_the_case_shows_it(
    hub: Hub, sink: tuple[MailSink, int], aiohttp_client: Any
) -> None:
    mails, port = sink
    await directory.update_participant(hub.db, hub.platform.id, contact_email=CONTACT)
    hub.receiver.script(*[401] * 10)
    first, _, _ = await hub.submit()
    second, _, _ = await hub.submit()
    worker = telling_worker(hub, port)

    with capture_logs() as logs:
        assert await step(worker) == 2  # two refusals: parked
        assert (await hub.destination())["parked_at"] is not None
        for _ in range(3):  # later rounds, and a referral held while parked: no second mail
            hub.clock.advance(600)
            await step(worker)
        await hub.submit()
        await step(worker)

    assert len(mails.received) == 1
    received = mails.received[0]
    assert received.rcpt_tos == [CONTACT]
    message = received.message()
    assert message["To"] == CONTACT
    assert hub.platform.id in message["Subject"]
    text = message.get_content()
    assert "401" in text
    assert "hub deliveries unpark " + hub.platform.id in text
    assert "3 deliveries are held" in text or "2 deliveries are held" in text
    assert hub.receiver.url not in text  # the endpoint is the recipient's, not said in mail
    assert CONTACT not in repr(logs)  # never logged
    assert [e["event"] for e in logs if e["event"].startswith("delivery.park_notice")] == [
        "delivery.park_notice_sent"
    ]

    case_id = str(await hub.db.fetchval("SELECT case_id FROM messages WHERE id = $1", uuid.UUID(first)))
    timeline = (await case_view(aiohttp_client, hub, case_id, hub.hotline))["timeline"]
    assert [(e["subject"], e["reason"]) for e in timeline if e["event"] == "delivery.parked"] == [
        (hub.platform.id, "HTTP 401")
    ]
    assert {str(e["message_id"]) for e in await events(hub, "delivery.parked")} >= {first, second}

    # resumed, and parked again: a new parking, a new notice
    await deliveries.unpark(hub.db, hub.platform.id, hub.clock())
    hub.clock.advance(1)
    for _ in range(3):
        await step(worker)
        hub.clock.advance(600)
    assert (await hub.destination())["parked_at"] is not None
    await asyncio.sleep(0)
    assert len(mails.received) == 2


async def test_without_a_contact_the_parking_is_logged_and_no_mail_goes(
    hub: Hub, sink: tuple[MailSink, int]
) -> None:
    mails, port = sink
    hub.receiver.script(*[401] * 10)
    await hub.submit()
    worker = telling_worker(hub, port)
    with capture_logs() as logs:
        for _ in range(3):
            await step(worker)
            hub.clock.advance(600)
    assert (await hub.destination())["parked_at"] is not None
    assert mails.received == []
    assert [e["event"] for e in logs if e["event"].startswith("delivery.park_notice")] == [
        "delivery.park_notice_skipped"
    ]
