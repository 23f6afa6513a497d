"""The hub's identity and its one way of issuing messages (issue 15): escalations and hub-attested answers
pass `admit()` like any message; the inbox item and the webhook body are one object; the delivery worker
hands an inline answer to the callback it was given, and signs its evidence with the identity it was given.

Against a real PostgreSQL, with the webhook receiver of `test_delivery_worker` (a local aiohttp app)."""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime
from typing import Any

import pytest
import pytest_asyncio

from adapters.registry import build_adapters
from hub.client.envelope import new_envelope
from hub.core.clock import rfc3339
from hub.core.jose import PublicJwk, parse_jws, verify_signature
from hub.core.receipt import receipt_claims
from hub.core.refusal import Refusal
from hub.delivery.worker import DeliveryWorker, WorkerConfig
from hub.services.inbox import read_inbox
from hub.services.intake import Accepted, submit_message
from hub.services.issuer import NotTheHubsMessage, issue
from hub.store.directory import ensure_hub_participant
from tests import test_delivery_worker
from tests.factories import Directory, acknowledgement, takedown
from tests.test_delivery_worker import Hub, Post, Reply, step

receiver = test_delivery_worker.receiver  # the webhook receiver and the hub driven by hand, as fixtures
hub = test_delivery_worker.hub


@pytest_asyncio.fixture
async def world(hub: Hub) -> Hub:
    return hub


async def registered(world: Hub) -> None:
    """The hub in its own directory, as `create_app` puts it there (it sends messages of its own)."""
    await ensure_hub_participant(world.db, world.intake.hub.hub_id, world.intake.hub.public_jwk())


async def referral(world: Hub) -> tuple[str, str]:
    """A takedown request from the hotline to the webhook platform: (message id, case id)."""
    message_id, _, receipt = await world.submit()
    return message_id, str(receipt_claims(receipt)["case_id"])


def escalation(world: Hub, case_id: str, in_reply_to: str, to: list[str]) -> dict[str, Any]:
    now = rfc3339(world.clock())
    body = {
        "kind": "reminder",
        "deadline": "acknowledge",
        "recipient": world.platform.id,
        "jurisdiction": "IE",
        "rule": "test-rule",
        "legal_basis": "A test clock: confirmation of receipt within a day",
        "told_at": now,
        "due_at": now,
        "issued_at": now,
    }
    payload = new_envelope(
        "escalation", sender=world.intake.hub.hub_id, to=to, body=body, case=case_id, in_reply_to=in_reply_to
    )
    payload["created_at"] = now
    return payload


async def test_an_escalation_is_signed_by_the_hub_and_admitted_to_its_case(world: Hub) -> None:
    await registered(world)
    message_id, case_id = await referral(world)

    accepted = await issue(
        world.intake, escalation(world, case_id, message_id, [world.platform.id]), world.clock()
    )

    claims = receipt_claims(accepted.receipt)
    assert (claims["from"], claims["to"], claims["case_id"]) == (
        world.intake.hub.hub_id,
        [world.platform.id],
        case_id,
    )
    stored = await world.db.fetchrow("SELECT * FROM messages WHERE id = $1", uuid.UUID(claims["message_id"]))
    assert (stored["message_type"], stored["kid"]) == ("escalation", world.intake.hub.kid)
    receipt = parse_jws(accepted.receipt)
    verify_signature(receipt, receipt.signatures[0], PublicJwk.from_dict(world.intake.hub.public_jwk()))
    # Delivered like any message: a push delivery to the platform.
    assert (
        await world.db.fetchval(
            "SELECT count(*) FROM deliveries WHERE message_id = $1", uuid.UUID(claims["message_id"])
        )
        == 1
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("to-a-stranger", "unknown-recipient"),
        ("answers-no-message-of-the-case", "invalid-reply"),
        ("unknown-case", "unknown-case"),
    ],
)
async def test_an_escalation_the_admission_rules_refuse_is_not_recorded(
    world: Hub, directory: Directory, change: str, code: str
) -> None:
    """Before, an escalation built its `Admission` by hand: nothing checked its recipients or its case."""
    await registered(world)
    stranger = await directory.add("fr-platform-test", "platform", "FR")
    message_id, case_id = await referral(world)
    payload = escalation(world, case_id, message_id, [world.platform.id])
    if change == "to-a-stranger":
        payload["to"] = [stranger.id]
    elif change == "answers-no-message-of-the-case":
        payload["in_reply_to"] = str(uuid.uuid4())
    else:
        payload["case"] = str(uuid.uuid4())

    with pytest.raises(Refusal) as refused:
        await issue(world.intake, payload, world.clock())

    assert refused.value.code == code
    assert await world.db.fetchval("SELECT count(*) FROM messages WHERE message_type = 'escalation'") == 0


async def test_the_hub_issues_only_its_own_messages_and_answers_it_attests(world: Hub) -> None:
    await registered(world)
    message_id, case_id = await referral(world)
    answer = acknowledgement(world.platform, world.hotline, case_id, message_id)
    with pytest.raises(NotTheHubsMessage):  # a participant's message, not attested: it must sign it itself
        await issue(world.intake, answer, world.clock())
    answer["attestation"] = {"by": "another-world", "channel": "email"}
    with pytest.raises(NotTheHubsMessage):  # attested by some other world
        await issue(world.intake, answer, world.clock())
    own = escalation(world, case_id, message_id, [world.platform.id])
    own["attestation"] = {"by": world.intake.hub.hub_id, "channel": "email"}
    with pytest.raises(NotTheHubsMessage):  # the world does not attest its own messages
        await issue(world.intake, own, world.clock())
    assert await world.db.fetchval("SELECT count(*) FROM messages") == 1


async def test_the_webhook_body_is_the_inbox_item_of_the_same_message(
    world: Hub, directory: Directory
) -> None:
    """One function makes both: a takedown request to a webhook platform, with a copy to a hotline that
    pulls its inbox (a platform gets a request of its own), gives each the same object for the one
    message."""
    puller = await directory.add("nl-hotline-test", "hotline", "NL")
    envelope = takedown(world.hotline, world.platform, puller)
    await submit_message(world.intake, world.hotline.sign(envelope).encode(), world.clock())

    assert await step(world.worker()) == 1
    [post] = world.receiver.posts
    page = await read_inbox(world.pool, puller.id, 0, 10, world.intake.keyring)
    [item] = page.items
    assert post.body == item
    assert list(item) == [
        "message_id",
        "case_id",
        "from",
        "type",
        "version",
        "accepted_at",
        "message",
        "receipt",
    ]


async def test_an_inline_answer_goes_to_the_callback_the_worker_was_given(world: Hub) -> None:
    """The worker does not take answers itself: what it was given for them does (in the world, intake)."""
    handed: list[tuple[bytes, datetime]] = []
    signed_answer = b""

    async def answer_inline(post: Post) -> Reply:
        nonlocal signed_answer
        answer = acknowledgement(world.platform, world.hotline, post.body["case_id"], post.body["message_id"])
        signed_answer = world.platform.sign(answer).encode()
        return Reply(200, {"Content-Type": "application/jose"}, signed_answer)

    async def on_answer(raw: bytes, at: datetime) -> Accepted:
        handed.append((raw, at))
        return Accepted(receipt="", replayed=False)

    world.receiver.answer = answer_inline
    message_id, _ = await referral(world)
    worker = DeliveryWorker(
        world.pool,
        str(world.settings.database_url),
        build_adapters(world.context()),
        world.intake.hub,
        world.clock,
        WorkerConfig(poll_interval=0.05, grace=5.0),
        keyring=world.intake.keyring,
        on_answer=on_answer,
        rng=random.Random(7),
    )
    world.workers.append(worker)

    assert await step(worker) == 1

    assert handed == [(signed_answer, world.clock())]
    assert await world.db.fetchval("SELECT count(*) FROM messages") == 1  # the callback recorded nothing
    evidence = parse_jws((await world.delivery(message_id))["evidence"])
    assert evidence.signatures[0].kid == world.intake.hub.kid
    verify_signature(evidence, evidence.signatures[0], PublicJwk.from_dict(world.intake.hub.public_jwk()))
    assert json.loads(evidence.payload)["recipient"] == world.platform.id
