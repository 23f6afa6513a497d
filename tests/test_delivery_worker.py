"""The delivery worker with the webhook adapter against a real local receiver and a real PostgreSQL.

Time in the hub is a fake clock the tests move: backoff, Retry-After and leases are exercised without
sleeping. The receiver is a local aiohttp app whose answers each test scripts; it dedups by
`Idempotency-Key`, as the design asks of recipients.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import random
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
from aiohttp import web
from jwcrypto import jwk, jws, jwt

from adapters.base import Adapter, AdapterContext, Destination, OutboundMessage
from adapters.registry import build_adapters
from adapters.webhook import WebhookAdapter
from hub.api.app import create_app
from hub.core.clock import utc_now
from hub.core.delivery_outcome import DeliveryOutcome
from hub.core.hub_identity import HubIdentity
from hub.core.jose import sha256_hex
from hub.core.retry import RetryPolicy
from hub.core.templates import TemplateCatalog
from hub.delivery.worker import DeliveryWorker, WorkerConfig
from hub.keyfile import load_or_create_signing_key
from hub.services.intake import Intake, submit_message
from hub.settings import Settings
from hub.store import deliveries
from hub.store import directory as directory_store
from hub.store.database import create_pool
from hub.store.deliveries import ClaimedDelivery
from tests.factories import (
    Directory,
    Member,
    acknowledgement,
    add_with_endpoint,
    delivery_worker,
    keyring_of,
    takedown,
    withdrawal,
)
from tests.statement_count import Counted

GUARD = 15.0  # seconds: a bound on waits that should end much sooner; never a timing assertion


class FakeClock:
    """The hub's clock, moved by the test."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> datetime:
        self.moment += timedelta(seconds=seconds)
        return self.moment


# -- the receiver -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Post:
    key: str
    authorization: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


Answer = Callable[[Post], Awaitable[Reply]]


async def accept(_: Post) -> Reply:
    return Reply(200)


class Receiver:
    """A recipient's webhook: records every POST, answers as scripted, applies each key once."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.applied: list[str] = []  # Idempotency-Keys applied, each once (after dedup)
        self.duplicates = 0  # 2xx answers for a key already applied: dropped by the dedup
        self.answer: Answer = accept
        self.concurrent = 0
        self.peak = 0
        self.url = ""

    def script(self, *statuses: int | Reply) -> None:
        """Answer with these, in order, then 200."""
        queue = [s if isinstance(s, Reply) else Reply(s) for s in statuses]

        async def answer(_: Post) -> Reply:
            return queue.pop(0) if queue else Reply(200)

        self.answer = answer

    def hold_until(self, release: asyncio.Event, then: Answer = accept) -> None:
        async def answer(post: Post) -> Reply:
            await release.wait()
            return await then(post)

        self.answer = answer

    def keys(self) -> list[str]:
        return [p.key for p in self.posts]

    async def handle(self, request: web.Request) -> web.Response:
        post = Post(
            request.headers.get("Idempotency-Key", ""),
            request.headers.get("Authorization", ""),
            await request.json(),
        )
        self.posts.append(post)
        self.concurrent += 1
        self.peak = max(self.peak, self.concurrent)
        try:
            reply = await self.answer(post)
        finally:
            self.concurrent -= 1
        if 200 <= reply.status < 300:
            if post.key in self.applied:
                self.duplicates += 1
            else:
                self.applied.append(post.key)
        return web.Response(status=reply.status, headers=reply.headers, body=reply.body)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        return app


# -- the hub, driven by hand ------------------------------------------------------------------------------
@dataclass
class Hub:
    settings: Settings
    pool: asyncpg.Pool
    intake: Intake
    clock: FakeClock
    session: aiohttp.ClientSession
    db: asyncpg.Connection
    hotline: Member
    platform: Member
    receiver: Receiver
    workers: list[DeliveryWorker] = field(default_factory=list)

    def context(self) -> AdapterContext:
        return AdapterContext(self.session, self.intake.hub, self.clock)

    def worker(self, adapters: dict[str, Adapter] | None = None, **changes: Any) -> DeliveryWorker:
        config = WorkerConfig(**{"poll_interval": 0.05, "grace": 5.0, **changes})
        worker = delivery_worker(
            self.pool,
            str(self.settings.database_url),
            adapters if adapters is not None else build_adapters(self.context()),
            self.intake,
            self.clock,
            config,
            rng=random.Random(42),
        )
        self.workers.append(worker)
        return worker

    async def submit(self, recipient: Member | None = None) -> tuple[str, str, str]:
        """A takedown request from the hotline: (message id, exact signed form, receipt)."""
        envelope = takedown(self.hotline, recipient or self.platform)
        signed = self.hotline.sign(envelope)
        accepted = await submit_message(self.intake, signed.encode(), self.clock())
        return envelope["id"], signed, accepted.receipt

    async def delivery(self, message_id: str) -> asyncpg.Record:
        row = await self.db.fetchrow(
            "SELECT * FROM deliveries WHERE message_id = $1 AND recipient_id = $2",
            uuid.UUID(message_id),
            self.platform.id,
        )
        assert row is not None
        return row

    async def states(self) -> dict[str, int]:
        rows = await self.db.fetch("SELECT state, count(*) AS n FROM deliveries GROUP BY state")
        return {r["state"]: r["n"] for r in rows}

    async def destination(self) -> asyncpg.Record:
        row = await self.db.fetchrow("SELECT * FROM destinations WHERE participant_id = $1", self.platform.id)
        assert row is not None
        return row

    async def attempts(self, message_id: str) -> list[asyncpg.Record]:
        seq = (await self.delivery(message_id))["seq"]
        return list(
            await self.db.fetch("SELECT * FROM delivery_attempts WHERE delivery_seq = $1 ORDER BY id", seq)
        )


async def step(*workers: DeliveryWorker) -> int:
    """One round of each worker, concurrently, and wait until what they started has finished."""
    claimed = await asyncio.gather(*(w.run_once() for w in workers))
    await asyncio.gather(*(w.wait_idle() for w in workers))
    return sum(claimed)


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    async def poll() -> None:
        while not await condition():  # noqa: ASYNC110  (polls the database: no event to await)
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(poll(), GUARD)
    except TimeoutError:
        pytest.fail(f"gave up waiting: {what}")


@pytest_asyncio.fixture
async def receiver(aiohttp_server: Any) -> Receiver:
    receiver = Receiver()
    server = await aiohttp_server(receiver.app())
    receiver.url = str(server.make_url("/hook"))
    return receiver


@pytest_asyncio.fixture
async def hub(
    settings: Settings,
    db: asyncpg.Connection,
    directory: Directory,
    catalog: TemplateCatalog,
    receiver: Receiver,
) -> AsyncIterator[Hub]:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await add_with_endpoint(db, "ie-platform-test", "platform", "IE", receiver.url)
    pool = await create_pool(str(settings.database_url))
    hub_key = load_or_create_signing_key(settings.signing_key_file)  # the key create_app(settings) uses
    intake = Intake(
        pool=pool, catalog=catalog, hub=HubIdentity(settings.hub_id, hub_key), keyring=keyring_of(settings)
    )
    session = aiohttp.ClientSession()
    # The clock runs ahead of real time, so keys a test registers later (valid from `now()`) are valid.
    hub = Hub(
        settings,
        pool,
        intake,
        FakeClock(utc_now() + timedelta(minutes=10)),
        session,
        db,
        hotline,
        platform,
        receiver,
    )
    try:
        yield hub
    finally:
        for worker in hub.workers:
            await asyncio.wait_for(worker.stop(), GUARD)
        await session.close()
        await pool.close()


def jwcrypto_key(public: dict[str, Any]) -> jwk.JWK:
    return jwk.JWK(**{k: public[k] for k in ("kty", "crv", "x", "kid")})


def jwcrypto_claims(compact: str, key: jwk.JWK) -> dict[str, Any]:
    token = jws.JWS()
    token.deserialize(compact)
    token.verify(key, alg="EdDSA")
    claims: dict[str, Any] = json.loads(token.payload)
    return claims


async def case_view(aiohttp_client: Any, hub: Hub, case_id: str, viewer: Member) -> dict[str, Any]:
    client = await aiohttp_client(create_app(hub.settings, background=False))
    response = await client.get(f"/v1/cases/{case_id}", headers=viewer.auth())
    assert response.status == 200, await response.text()
    view: dict[str, Any] = await response.json()
    return view


def moves(view: dict[str, Any], participant: str) -> list[tuple[str | None, str]]:
    return [
        (e.get("from_state"), e["to_state"])
        for e in view["timeline"]
        if e["event"] == "recipient.state_changed" and e.get("subject") == participant
    ]


# -- delivered --------------------------------------------------------------------------------------------
async def test_a_referral_is_pushed_once_with_proof(hub: Hub, aiohttp_client: Any) -> None:
    message_id, signed, receipt = await hub.submit()
    worker = hub.worker()

    assert await step(worker) == 1

    [post] = hub.receiver.posts
    assert post.key == message_id
    assert post.body["message"] == signed  # the exact signed form, byte for byte
    assert post.body["receipt"] == receipt
    assert post.body["message_id"] == message_id
    hub_public = jwcrypto_key(hub.intake.hub.key.public().to_dict())
    scheme, _, token = post.authorization.partition(" ")
    assert scheme == "Bearer"
    bearer = jwt.JWT(
        jwt=token,
        key=hub_public,
        algs=["EdDSA"],
        check_claims={"iss": hub.settings.hub_id, "aud": hub.platform.id, "exp": None},
    )
    assert json.loads(bearer.claims)["aud"] == hub.platform.id
    with pytest.raises(jwt.JWTInvalidClaimValue):  # a token for this recipient is no good for another
        jwt.JWT(jwt=token, key=hub_public, algs=["EdDSA"], check_claims={"aud": "other-platform"})

    row = await hub.delivery(message_id)
    assert (row["state"], row["attempts"], row["last_status"], row["lease_token"]) == (
        "delivered",
        1,
        200,
        None,
    )
    client = await aiohttp_client(create_app(hub.settings, background=False))
    hub_jwks = await (await client.get("/.well-known/jwks.json")).json()
    [published] = [k for k in hub_jwks["keys"] if k["kid"] == hub.intake.hub.key.kid]
    evidence = jwcrypto_claims(row["evidence"], jwcrypto_key(published))
    assert evidence["message_id"] == message_id
    assert evidence["payload_sha256"] == sha256_hex(jws_payload(signed))
    assert evidence["recipient"] == hub.platform.id
    assert evidence["http_status"] == 200
    assert evidence["channel"] == "push"

    case_id = json.loads(jws_payload(receipt))["case_id"]
    view = await case_view(aiohttp_client, hub, case_id, hub.hotline)
    [delivered] = [e for e in view["timeline"] if e["event"] == "message.delivered"]
    assert delivered["message_id"] == message_id
    assert delivered["evidence"] == row["evidence"]
    assert moves(view, hub.platform.id) == [(None, "queued"), ("queued", "retrieved")]
    assert view["recipients"][0]["state"] == "retrieved"

    [attempt] = await hub.attempts(message_id)
    assert (attempt["attempt"], attempt["verdict"], attempt["http_status"]) == (1, "delivered", 200)
    assert await step(worker) == 0  # nothing more to do
    assert len(hub.receiver.posts) == 1


async def test_a_referral_withdrawn_before_its_push_is_never_pushed(hub: Hub, aiohttp_client: Any) -> None:
    message_id, _, receipt = await hub.submit()
    case_id = json.loads(jws_payload(receipt))["case_id"]
    notice = withdrawal(hub.hotline, [hub.platform], case_id)
    await submit_message(hub.intake, hub.hotline.sign(notice).encode(), hub.clock())
    while await step(hub.worker()):
        pass
    assert [post.key for post in hub.receiver.posts] == [notice["id"]]  # the withdrawal, not the referral
    assert (await hub.delivery(message_id))["state"] == "purged"
    view = await case_view(aiohttp_client, hub, case_id, hub.hotline)
    assert [e["message_id"] for e in view["timeline"] if e["event"] == "delivery.withheld"] == [message_id]


def jws_payload(compact: str) -> bytes:
    token = jws.JWS()
    token.deserialize(compact)
    return bytes(token.objects["payload"])


async def test_a_signed_acknowledgement_in_the_answer_is_taken(hub: Hub, aiohttp_client: Any) -> None:
    async def acknowledge(post: Post) -> Reply:
        body = post.body
        answer = acknowledgement(hub.platform, hub.hotline, body["case_id"], body["message_id"])
        headers = {"Content-Type": "application/jose"}
        return Reply(200, headers, hub.platform.sign(answer).encode())

    hub.receiver.answer = acknowledge
    message_id, _, receipt = await hub.submit()

    assert await step(hub.worker()) == 1

    assert (await hub.delivery(message_id))["state"] == "delivered"
    case_id = json.loads(jws_payload(receipt))["case_id"]
    view = await case_view(aiohttp_client, hub, case_id, hub.hotline)
    assert moves(view, hub.platform.id) == [
        (None, "queued"),
        ("queued", "retrieved"),
        ("retrieved", "acknowledged"),
    ]
    types = await hub.db.fetch("SELECT message_type FROM messages WHERE case_id = $1", uuid.UUID(case_id))
    assert sorted(r["message_type"] for r in types) == ["acknowledgement", "takedown-request"]


async def test_a_garbage_jose_answer_is_ignored(hub: Hub) -> None:
    hub.receiver.script(Reply(200, {"Content-Type": "application/jose"}, b"not.a.jws"))
    message_id, _, _ = await hub.submit()

    assert await step(hub.worker()) == 1

    assert (await hub.delivery(message_id))["state"] == "delivered"
    assert await hub.db.fetchval("SELECT count(*) FROM messages") == 1
    assert await hub.db.fetchval("SELECT state FROM case_parties WHERE role = 'recipient'") == "retrieved"


# -- retry ------------------------------------------------------------------------------------------------
async def test_server_errors_are_retried_after_backoff_until_delivered(hub: Hub) -> None:
    hub.receiver.script(500, 500)
    message_id, _, _ = await hub.submit()
    worker = hub.worker(policy=RetryPolicy(base=timedelta(seconds=2), cap=timedelta(minutes=10)))
    t0 = hub.clock()

    assert await step(worker) == 1
    row, dest = await hub.delivery(message_id), await hub.destination()
    assert (row["state"], row["last_status"]) == ("pending", 500)
    assert t0 + timedelta(seconds=1) <= row["due_at"] <= t0 + timedelta(seconds=2)
    assert dest["consecutive_failures"] == 1
    assert dest["next_attempt_at"] == row["due_at"]
    assert await step(worker) == 0  # backing off
    hub.clock.advance(0.999)
    assert await step(worker) == 0  # not before half the backoff

    hub.clock.advance(1.001)
    assert await step(worker) == 1
    row, dest = await hub.delivery(message_id), await hub.destination()
    assert (row["state"], dest["consecutive_failures"]) == ("pending", 2)
    assert hub.clock() + timedelta(seconds=2) <= row["due_at"] <= hub.clock() + timedelta(seconds=4)

    hub.clock.advance(4)
    assert await step(worker) == 1
    row, dest = await hub.delivery(message_id), await hub.destination()
    assert (row["state"], row["attempts"]) == ("delivered", 3)
    assert (dest["consecutive_failures"], dest["next_attempt_at"]) == (0, None)
    assert dest["last_success_at"] == hub.clock()
    assert hub.receiver.keys() == [message_id] * 3
    assert hub.receiver.applied == [message_id]
    assert hub.receiver.duplicates == 0
    assert [a["verdict"] for a in await hub.attempts(message_id)] == ["retry", "retry", "delivered"]


async def test_retry_after_is_honoured(hub: Hub) -> None:
    hub.receiver.script(Reply(429, {"Retry-After": "120"}))
    message_id, _, _ = await hub.submit()
    worker = hub.worker()
    t0 = hub.clock()

    assert await step(worker) == 1
    row = await hub.delivery(message_id)
    assert (row["state"], row["last_status"], row["due_at"]) == ("pending", 429, t0 + timedelta(seconds=120))
    assert (await hub.destination())["next_attempt_at"] == t0 + timedelta(seconds=120)
    hub.clock.advance(119.9)
    assert await step(worker) == 0
    hub.clock.advance(0.1)
    assert await step(worker) == 1
    assert (await hub.delivery(message_id))["state"] == "delivered"
    assert len(hub.receiver.posts) == 2


async def test_retry_after_as_an_http_date_is_honoured(hub: Hub) -> None:
    resume = hub.clock().replace(microsecond=0) + timedelta(minutes=5)
    hub.receiver.script(Reply(503, {"Retry-After": email.utils.format_datetime(resume, usegmt=True)}))
    message_id, _, _ = await hub.submit()
    worker = hub.worker()

    assert await step(worker) == 1
    assert (await hub.delivery(message_id))["due_at"] == resume
    hub.clock.moment = resume - timedelta(microseconds=1)
    assert await step(worker) == 0
    hub.clock.moment = resume
    assert await step(worker) == 1
    assert (await hub.delivery(message_id))["state"] == "delivered"


def with_timeout(adapter: Adapter, seconds: float) -> dict[str, Adapter]:
    """The real webhook adapter, with a destination configured for a short timeout (the worker passes
    no per-destination configuration, so the 10 s default cannot be shortened otherwise)."""

    class ShortTimeout:
        name: ClassVar[str] = "webhook"

        async def deliver(self, message: OutboundMessage, destination: Destination) -> DeliveryOutcome:
            configured = Destination(
                destination.participant_id, destination.endpoint, {"timeout_seconds": seconds}
            )
            return await adapter.deliver(message, configured)

    return {"webhook": ShortTimeout()}


async def test_a_timeout_is_retried(hub: Hub) -> None:
    release = asyncio.Event()
    hub.receiver.hold_until(release)
    message_id, _, _ = await hub.submit()
    worker = hub.worker(adapters=with_timeout(WebhookAdapter(hub.context()), 0.2))

    assert await step(worker) == 1
    row = await hub.delivery(message_id)
    assert (row["state"], row["last_status"], row["last_error"]) == ("pending", None, "timed out")
    assert (await hub.destination())["consecutive_failures"] == 1

    release.set()
    hub.receiver.answer = accept
    hub.clock.advance(600)
    assert await step(worker) == 1
    assert (await hub.delivery(message_id))["state"] == "delivered"
    assert hub.receiver.keys() == [message_id, message_id]
    assert hub.receiver.applied == [message_id]  # the late answer to the first POST or the second


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_refused_connection_is_retried(hub: Hub) -> None:
    await hub.db.execute(
        "UPDATE participants SET endpoint = $2 WHERE id = $1",
        hub.platform.id,
        f"http://127.0.0.1:{closed_port()}/hook",
    )
    message_id, _, _ = await hub.submit()
    worker = hub.worker()

    assert await step(worker) == 1
    row = await hub.delivery(message_id)
    assert row["state"] == "pending"
    assert row["last_error"].startswith("connection failed")
    assert (await hub.destination())["consecutive_failures"] == 1

    await hub.db.execute(
        "UPDATE participants SET endpoint = $2 WHERE id = $1", hub.platform.id, hub.receiver.url
    )
    hub.clock.advance(600)
    assert await step(worker) == 1
    assert (await hub.delivery(message_id))["state"] == "delivered"


async def test_an_adapter_that_raises_counts_as_a_failure(hub: Hub) -> None:
    class Broken:
        name: ClassVar[str] = "webhook"

        async def deliver(self, message: OutboundMessage, destination: Destination) -> DeliveryOutcome:
            raise RuntimeError("bug")

    message_id, _, _ = await hub.submit()
    assert await step(hub.worker(adapters={"webhook": Broken()})) == 1
    row = await hub.delivery(message_id)
    assert (row["state"], row["last_error"]) == ("pending", "adapter error: RuntimeError")
    hub.clock.advance(600)
    assert await step(hub.worker()) == 1
    assert (await hub.delivery(message_id))["state"] == "delivered"


# -- attention: parked -----------------------------------------------------------------------------------
async def events(hub: Hub, name: str) -> list[asyncpg.Record]:
    return list(
        await hub.db.fetch(
            "SELECT case_id, message_id, actor, subject, detail FROM case_events"
            " WHERE event = $1 ORDER BY seq",
            name,
        )
    )


async def test_one_refusal_while_the_receiver_restarts_is_retried_not_parked(hub: Hub) -> None:
    """Issue 16.9: a receiver that answers 401 once (restarting, rotating its keys) gets the referral on
    the retry, after the backoff; the destination is never parked and its refusal count is reset."""
    hub.receiver.script(401)
    message_id, _, _ = await hub.submit()
    worker = hub.worker(policy=RetryPolicy(base=timedelta(seconds=2), park_after=3))

    assert await step(worker) == 1
    row, dest = await hub.delivery(message_id), await hub.destination()
    assert (row["state"], row["last_status"]) == ("pending", 401)
    assert dest["parked_at"] is None
    assert (dest["consecutive_failures"], dest["consecutive_refusals"]) == (1, 1)
    assert hub.clock() + timedelta(seconds=1) <= row["due_at"] <= hub.clock() + timedelta(seconds=2)
    assert await step(worker) == 0  # backing off, like a server error

    hub.clock.advance(2)
    assert await step(worker) == 1
    row, dest = await hub.delivery(message_id), await hub.destination()
    assert row["state"] == "delivered"
    assert (dest["parked_at"], dest["consecutive_refusals"], dest["consecutive_failures"]) == (None, 0, 0)
    assert [a["verdict"] for a in await hub.attempts(message_id)] == ["attention", "delivered"]
    assert await events(hub, "delivery.parked") == []
    assert hub.receiver.applied == [message_id]


async def test_a_destination_that_keeps_refusing_is_parked_and_every_held_case_shows_it(
    hub: Hub, aiohttp_client: Any
) -> None:
    """Issue 16.9: persistent 401s park the destination at the policy's `park_after`-th refusal, not
    the first; each referral it holds (also one sent after it was parked) shows `delivery.parked` on
    its case's timeline, to the sender and to the recipient, and `delivery.unparked` when resumed."""
    hub.receiver.script(*[401] * 4)  # three for the first referral, one for the second
    first, _, _ = await hub.submit()
    worker = hub.worker(policy=RetryPolicy(base=timedelta(seconds=2), park_after=3))

    for refusal in (1, 2):
        assert await step(worker) == 1
        assert (await hub.destination())["parked_at"] is None, f"parked at refusal {refusal}"
        hub.clock.advance(600)
    second, _, _ = await hub.submit()
    assert await step(worker) == 2  # the third refusal (and the second referral's first) parks it
    dest = await hub.destination()
    assert dest["parked_at"] is not None
    assert "401" in dest["parked_reason"]
    assert dest["consecutive_refusals"] >= 3
    assert [a["verdict"] for a in await hub.attempts(first)] == ["attention"] * 3

    parked = await events(hub, "delivery.parked")
    assert sorted(str(e["message_id"]) for e in parked) == sorted([first, second])
    assert {(e["actor"], e["subject"], e["detail"]["reason"]) for e in parked} == {
        ("hub", hub.platform.id, "HTTP 401")
    }

    third, _, _ = await hub.submit()  # queued while parked: held, and shown so on the next round
    hub.clock.advance(24 * 3600)
    assert await step(worker) == 0
    assert len(hub.receiver.posts) == 4
    held = {str(e["message_id"]) for e in await events(hub, "delivery.parked")}
    assert held == {first, second, third}
    assert await step(worker) == 0
    assert len(await events(hub, "delivery.parked")) == 3  # each told once

    case_id = str(await hub.db.fetchval("SELECT case_id FROM messages WHERE id = $1", uuid.UUID(third)))
    for viewer in (hub.hotline, hub.platform):
        timeline = (await case_view(aiohttp_client, hub, case_id, viewer))["timeline"]
        shown = [e for e in timeline if e["event"] == "delivery.parked"]
        assert [(e["subject"], e["reason"]) for e in shown] == [(hub.platform.id, "HTTP 401")], viewer.id

    assert await deliveries.unpark(hub.db, hub.platform.id, hub.clock()) == 3
    unparked = await events(hub, "delivery.unparked")
    assert sorted(str(e["message_id"]) for e in unparked) == sorted([first, second, third])
    assert {e["actor"] for e in unparked} == {"operator"}
    assert await step(worker) == 3
    assert {(await hub.delivery(m))["state"] for m in (first, second, third)} == {"delivered"}
    assert (await hub.destination())["consecutive_refusals"] == 0


async def test_a_missing_adapter_parks_the_destination_after_the_retries(hub: Hub) -> None:
    message_id, _, _ = await hub.submit()
    worker = hub.worker(adapters={}, policy=RetryPolicy(park_after=2))
    assert await step(worker) == 1
    assert (await hub.destination())["parked_at"] is None
    hub.clock.advance(600)
    assert await step(worker) == 1
    assert (await hub.destination())["parked_at"] is not None
    assert (await hub.delivery(message_id))["state"] == "pending"
    assert hub.receiver.posts == []


# -- dead letters ---------------------------------------------------------------------------------------
async def test_not_found_is_dead_at_once_and_can_be_requeued(hub: Hub, aiohttp_client: Any) -> None:
    hub.receiver.script(404)
    message_id, _, receipt = await hub.submit()
    worker = hub.worker()

    assert await step(worker) == 1
    row = await hub.delivery(message_id)
    assert (row["state"], row["last_status"], row["due_at"]) == ("dead", 404, None)
    assert "404" in row["dead_reason"]
    assert await deliveries.dead_deliveries(hub.db) == [row["seq"]]
    case_id = json.loads(jws_payload(receipt))["case_id"]
    view = await case_view(aiohttp_client, hub, case_id, hub.hotline)
    [dead] = [e for e in view["timeline"] if e["event"] == "delivery.dead"]
    assert (dead["subject"], dead["message_id"], dead["attempts"]) == (hub.platform.id, message_id, 1)
    hub.clock.advance(3600)
    assert await step(worker) == 0

    assert await deliveries.requeue(hub.db, [row["seq"]], hub.clock()) == [row["seq"]]
    assert await step(worker) == 1
    row = await hub.delivery(message_id)
    assert (row["state"], row["attempts"]) == ("delivered", 1)
    view = await case_view(aiohttp_client, hub, case_id, hub.hotline)
    events = [e["event"] for e in view["timeline"]]
    assert (
        events.index("delivery.dead") < events.index("delivery.requeued") < events.index("message.delivered")
    )
    assert hub.receiver.applied == [message_id]


async def test_the_retry_budget_in_attempts(hub: Hub) -> None:
    hub.receiver.script(*[503] * 100)
    message_id, _, _ = await hub.submit()
    worker = hub.worker(policy=RetryPolicy(max_attempts=3))

    for _ in range(10):
        await step(worker)
        hub.clock.advance(600)

    row = await hub.delivery(message_id)
    assert (row["state"], row["attempts"]) == ("dead", 3)
    assert "3 attempts" in row["dead_reason"]
    assert len(hub.receiver.posts) == 3
    assert [a["verdict"] for a in await hub.attempts(message_id)] == ["retry"] * 3
    [event] = await hub.db.fetch("SELECT * FROM case_events WHERE event = 'delivery.dead'")
    assert event["subject"] == hub.platform.id


async def test_the_retry_budget_in_time(hub: Hub) -> None:
    hub.receiver.script(*[503] * 100)
    message_id, _, _ = await hub.submit()
    worker = hub.worker(policy=RetryPolicy(max_age=timedelta(seconds=30)))

    assert await step(worker) == 1
    assert (await hub.delivery(message_id))["state"] == "pending"
    hub.clock.advance(60)
    assert await step(worker) == 1
    row = await hub.delivery(message_id)
    assert (row["state"], row["attempts"]) == ("dead", 2)


async def test_a_long_backoff_after_many_failures_is_recorded(hub: Hub) -> None:
    hub.receiver.script(503)
    message_id, _, _ = await hub.submit()
    await hub.db.execute(
        "UPDATE destinations SET consecutive_failures = 35 WHERE participant_id = $1", hub.platform.id
    )
    policy = RetryPolicy(base=timedelta(hours=1), cap=timedelta(hours=2))
    assert await step(hub.worker(policy=policy)) == 1
    row = await hub.delivery(message_id)
    assert row["state"] == "pending"
    assert hub.clock() + timedelta(hours=1) <= row["due_at"] <= hub.clock() + timedelta(hours=2)
    assert len(await hub.attempts(message_id)) == 1


# -- the in-flight cap, across two workers ------------------------------------------------------------------
async def test_two_workers_never_exceed_the_in_flight_cap(hub: Hub) -> None:
    release = asyncio.Event()
    hub.receiver.hold_until(release)
    ids = [(await hub.submit())[0] for _ in range(10)]
    workers = [hub.worker(max_in_flight_per_destination=3, poll_interval=0.02) for _ in range(2)]
    for worker in workers:
        await worker.start()

    async def three_held() -> bool:
        return hub.receiver.concurrent == 3

    await until(three_held, "three requests in flight")
    await asyncio.sleep(0.3)  # let both loops run more rounds while the slots are taken
    assert hub.receiver.peak == 3
    assert len(hub.receiver.posts) == 3
    release.set()

    async def all_delivered() -> bool:
        return await hub.states() == {"delivered": 10}

    await until(all_delivered, "all ten delivered")
    for worker in workers:
        await worker.stop()
    assert hub.receiver.peak == 3
    assert sorted(hub.receiver.keys()) == sorted(ids)  # each POSTed once
    assert sorted(hub.receiver.applied) == sorted(ids)


async def saturate(hub: Hub, count: int) -> None:
    """`count` busy destinations, sorting before the test's platform: each has one delivery in flight
    under a live lease (its whole in-flight cap of 1) and one more due."""
    pull_platform = await Directory(hub.db).add("fr-platform-test", "platform", "FR")
    busy_msg, due_msg = [uuid.UUID((await hub.submit(pull_platform))[0]) for _ in range(2)]
    for i in range(count):
        pid = f"a-busy-platform-{i:03d}"
        await directory_store.add_participant(
            hub.db,
            participant_id=pid,
            name=f"Fictitious platform {pid}",
            kind="platform",
            country="IE",
            endpoint="http://127.0.0.1:9/hook",
            accepts=[],
        )
        await hub.db.execute("INSERT INTO destinations (participant_id) VALUES ($1)", pid)
        await hub.db.execute(
            "INSERT INTO deliveries (message_id, recipient_id, channel, adapter, state, lease_token,"
            " lease_expires_at, attempts) VALUES ($1, $2, 'push', 'webhook', 'in_flight', $3, $4, 1)",
            busy_msg,
            pid,
            uuid.uuid4(),
            hub.clock() + timedelta(minutes=1),
        )
        await hub.db.execute(
            "INSERT INTO deliveries (message_id, recipient_id, channel, adapter, state, due_at)"
            " VALUES ($1, $2, 'push', 'webhook', 'pending', $3)",
            due_msg,
            pid,
            hub.clock(),
        )


async def test_busy_destinations_do_not_starve_one_with_free_slots(hub: Hub) -> None:
    await saturate(hub, 120)
    message_id, _, _ = await hub.submit()
    worker = hub.worker(max_in_flight_per_destination=1)

    assert await step(worker) == 1
    assert (await hub.delivery(message_id))["state"] == "delivered"


async def test_a_notification_wakes_a_waiting_worker(hub: Hub) -> None:
    worker = hub.worker(poll_interval=60.0)  # polling alone would not deliver within the guard
    await worker.start()
    await asyncio.sleep(0.1)
    message_id, _, _ = await hub.submit()

    async def delivered() -> bool:
        return bool((await hub.delivery(message_id))["state"] == "delivered")

    await until(delivered, "a notified worker to deliver")
    await worker.stop()


# -- lease recovery -----------------------------------------------------------------------------------------
async def crash_claim(hub: Hub) -> ClaimedDelivery:
    """A worker claims and then dies (its outcome is never recorded)."""
    [claimed] = await deliveries.claim(
        hub.pool,
        hub.platform.id,
        now=hub.clock(),
        worker="crashed",
        lease=timedelta(seconds=60),
        max_in_flight=4,
        token=uuid.uuid4(),
        keyring=hub.intake.keyring,
    )
    return claimed


def outbound(claimed: ClaimedDelivery) -> OutboundMessage:
    return OutboundMessage(
        message_id=claimed.message_id,
        case_id=claimed.case_id,
        sender=claimed.sender_id,
        recipient=claimed.recipient_id,
        message_type=claimed.message_type,
        version=claimed.version,
        accepted_at=claimed.accepted_at,
        payload_sha256=claimed.payload_sha256,
        signed_form=claimed.signed_form.decode(),
        receipt=claimed.receipt,
        attempt=claimed.attempt,
    )


async def test_a_crashed_workers_lease_expires_and_another_delivers(hub: Hub) -> None:
    message_id, _, _ = await hub.submit()
    crashed = await crash_claim(hub)
    worker = hub.worker(lease=timedelta(seconds=60))

    assert await step(worker) == 0  # leased to the crashed worker
    hub.clock.advance(59)
    assert await step(worker) == 0
    hub.clock.advance(1)
    assert await step(worker) == 1

    row = await hub.delivery(message_id)
    assert (row["state"], row["attempts"]) == ("delivered", 2)
    assert hub.receiver.keys() == [message_id]
    assert [a["worker"] for a in await hub.attempts(message_id)] == [worker.config.worker_id]
    assert json.loads(jws_payload(row["evidence"]))["attempt"] == 2
    # The crashed worker coming back cannot record anything any more.
    late = deliveries.AttemptRecord(
        crashed, "crashed", hub.clock(), hub.clock(), "delivered", 200, "HTTP 200"
    )
    assert await deliveries.finish_delivered(hub.pool, late, "evidence") is False


async def test_a_crashed_worker_that_had_sent_is_deduplicated_by_the_receiver(hub: Hub) -> None:
    message_id, _, _ = await hub.submit()
    crashed = await crash_claim(hub)
    outcome = await WebhookAdapter(hub.context()).deliver(
        outbound(crashed), Destination(hub.platform.id, hub.receiver.url)
    )
    assert outcome.http_status == 200  # sent and answered, then the worker died before recording

    hub.clock.advance(61)
    assert await step(hub.worker(lease=timedelta(seconds=60))) == 1

    assert (await hub.delivery(message_id))["state"] == "delivered"
    assert hub.receiver.keys() == [message_id, message_id]  # the same Idempotency-Key twice
    assert hub.receiver.applied == [message_id]
    assert hub.receiver.duplicates == 1


# -- the acceptance ------------------------------------------------------------------------------
async def test_a_receiver_down_for_ten_minutes_gets_every_referral_exactly_once(hub: Hub) -> None:
    recovered_at = hub.clock() + timedelta(minutes=10)

    async def down_then_up(_: Post) -> Reply:
        return Reply(500) if hub.clock() < recovered_at else Reply(200)

    hub.receiver.answer = down_then_up
    ids = {(await hub.submit())[0] for _ in range(20)}
    workers = [hub.worker(), hub.worker()]  # two hub processes

    rounds = 0
    while await hub.states() != {"delivered": 20} and rounds < 1000:
        await step(*workers)
        hub.clock.advance(15)
        rounds += 1
        await asyncio.sleep(0)

    assert await hub.states() == {"delivered": 20}
    assert set(hub.receiver.applied) == ids
    assert len(hub.receiver.applied) == 20
    assert hub.receiver.duplicates == 0
    failed = sum(1 for p in hub.receiver.posts if p.key in ids) - 20
    attempts = await hub.db.fetchval("SELECT count(*) FROM delivery_attempts")
    assert attempts == len(hub.receiver.posts)
    assert failed > 0  # the receiver really was down
    print(f"\n20 referrals: {attempts} attempts ({failed} failed), {rounds} rounds of 15 s simulated")


# -- shutdown -----------------------------------------------------------------------------------------
async def test_stop_lets_an_in_flight_delivery_finish_within_the_grace(hub: Hub) -> None:
    release = asyncio.Event()
    hub.receiver.hold_until(release)
    message_id, _, _ = await hub.submit()
    worker = hub.worker(grace=GUARD)
    await worker.start()

    async def held() -> bool:
        return hub.receiver.concurrent == 1

    await until(held, "the request to arrive")
    stopping = asyncio.create_task(worker.stop())
    await asyncio.sleep(0.1)
    assert not stopping.done()  # it waits for the request, which is held
    release.set()
    await asyncio.wait_for(stopping, GUARD)

    assert (await hub.delivery(message_id))["state"] == "delivered"
    assert hub.receiver.keys() == [message_id]


async def test_stop_abandons_a_delivery_past_the_grace_and_it_is_redone(hub: Hub) -> None:
    release = asyncio.Event()
    hub.receiver.hold_until(release)
    message_id, _, _ = await hub.submit()
    worker = hub.worker(grace=0.1, lease=timedelta(seconds=60))
    await worker.start()

    async def held() -> bool:
        return hub.receiver.concurrent == 1

    await until(held, "the request to arrive")
    await asyncio.wait_for(worker.stop(), GUARD)

    row = await hub.delivery(message_id)
    assert row["state"] == "in_flight"  # abandoned: its lease will expire
    assert row["lease_expires_at"] == hub.clock() + timedelta(seconds=60)
    assert await hub.attempts(message_id) == []
    release.set()  # the receiver answers the abandoned request at last; nobody is listening

    successor = hub.worker(lease=timedelta(seconds=60))
    assert await step(successor) == 0  # the lease still holds
    hub.clock.advance(60)
    assert await step(successor) == 1
    row = await hub.delivery(message_id)
    assert (row["state"], row["attempts"]) == ("delivered", 2)
    assert hub.receiver.keys() == [message_id, message_id]
    assert hub.receiver.applied == [message_id]


async def test_stop_keeps_to_the_grace_when_the_worker_is_at_its_concurrency_limit(hub: Hub) -> None:
    release = asyncio.Event()
    hub.receiver.hold_until(release)
    for _ in range(2):
        await hub.submit()
    worker = hub.worker(grace=0.1, max_concurrency=1, max_in_flight_per_destination=2)
    hub.workers.remove(worker)  # stopped here, not by the fixture
    await worker.start()

    async def held() -> bool:
        return hub.receiver.concurrent == 1

    await until(held, "the request to arrive")
    stopping = asyncio.create_task(worker.stop())
    try:
        done, _ = await asyncio.wait({stopping}, timeout=3.0)  # 30 times the grace
        assert stopping in done, "stop() did not return within the grace period"
    finally:
        release.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(stopping, GUARD)


# -- a finished batch claims its successors in its own statement (issue 21, step 21.7) ------------------
@pytest.mark.parametrize("cap", [1, 4, 6])
async def test_finished_pushes_claim_their_successors_with_no_round_of_their_own(hub: Hub, cap: int) -> None:
    """Under load the statement recording a batch of finished pushes claims the slots it frees: after
    the loop's first two rounds (the second finds every slot taken) the worker sends no round, whatever
    the in-flight cap, and keeps to the cap."""
    counted = Counted()

    async def log(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(counted)

    pool = await create_pool(str(hub.settings.database_url), on_connect=log)
    try:
        release = asyncio.Event()
        hub.receiver.hold_until(release)
        ids = [(await hub.submit())[0] for _ in range(12)]
        config = WorkerConfig(poll_interval=60.0, grace=5.0, max_in_flight_per_destination=cap)
        adapters = build_adapters(hub.context())
        worker = delivery_worker(
            pool, str(hub.settings.database_url), adapters, hub.intake, hub.clock, config
        )
        await counted.taken()
        await worker.start()

        async def held() -> bool:
            return hub.receiver.concurrent == cap

        await until(held, "the first round's pushes to arrive")
        await asyncio.sleep(0.3)  # the loop's second round finds no free slot, then waits (60 s)
        release.set()

        async def all_delivered() -> bool:
            return await hub.states() == {"delivered": 12}

        await until(all_delivered, "all twelve delivered")
        await worker.wait_idle()
        counts = await counted.taken()
        await worker.stop()
    finally:
        await pool.close()
    assert counts["claim_due_deliveries"] == 2  # the loop's two rounds, none after a finished batch
    assert set(counts) == {"claim_due_deliveries", "finish_and_claim"}
    assert counts["finish_and_claim"] <= 12
    assert hub.receiver.peak == cap
    assert sorted(hub.receiver.keys()) == sorted(ids)  # each pushed once
    assert await hub.db.fetchval("SELECT max(attempts) FROM deliveries") == 1


async def test_finished_batches_keep_to_the_workers_concurrency(hub: Hub) -> None:
    release = asyncio.Event()
    hub.receiver.hold_until(release)
    ids = [(await hub.submit())[0] for _ in range(10)]
    worker = hub.worker(max_concurrency=3, max_in_flight_per_destination=8)
    await worker.start()

    async def held() -> bool:
        return hub.receiver.concurrent == 3

    await until(held, "three requests in flight")
    await asyncio.sleep(0.2)
    assert len(hub.receiver.posts) == 3
    release.set()

    async def all_delivered() -> bool:
        return await hub.states() == {"delivered": 10}

    await until(all_delivered, "all ten delivered")
    assert hub.receiver.peak == 3
    assert sorted(hub.receiver.keys()) == sorted(ids)


async def test_a_stopping_worker_claims_nothing_when_its_pushes_finish(hub: Hub) -> None:
    release = asyncio.Event()
    hub.receiver.hold_until(release)
    for _ in range(4):
        await hub.submit()
    worker = hub.worker(max_in_flight_per_destination=2, grace=GUARD)
    await worker.start()

    async def held() -> bool:
        return hub.receiver.concurrent == 2

    await until(held, "two requests in flight")
    stopping = asyncio.create_task(worker.stop())
    await asyncio.sleep(0.1)
    assert not stopping.done()  # waiting for the two pushes
    release.set()
    await asyncio.wait_for(stopping, GUARD)

    assert await hub.states() == {"delivered": 2, "pending": 2}
    assert len(hub.receiver.posts) == 2
    assert await hub.db.fetchval("SELECT count(*) FROM deliveries WHERE attempts > 0") == 2


async def test_a_finished_batch_that_fails_is_recorded_push_by_push_and_nothing_is_claimed_twice(
    hub: Hub,
) -> None:
    """The first batch's statement fails (a trigger refuses the first attempt recorded, once): nothing
    of it is stored, its claim included; its pushes are recorded one by one, and the loop, woken, claims
    in a round what the batch would have: every referral is pushed once and delivered."""
    await hub.db.execute(
        """
        CREATE SEQUENCE refuse_once;
        CREATE FUNCTION refuse_once() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF nextval('refuse_once') = 1 THEN RAISE EXCEPTION 'refused once by the test trigger'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_once BEFORE INSERT ON delivery_attempts
            FOR EACH ROW EXECUTE FUNCTION refuse_once();
        """
    )
    ids = [(await hub.submit())[0] for _ in range(6)]
    worker = hub.worker(max_in_flight_per_destination=2, poll_interval=60.0)  # no poll within the guard
    await worker.start()

    async def all_delivered() -> bool:
        return await hub.states() == {"delivered": 6}

    await until(all_delivered, "all six delivered")
    await worker.wait_idle()
    assert sorted(hub.receiver.keys()) == sorted(ids)  # each pushed once
    assert hub.receiver.peak <= 2
    assert await hub.db.fetchval("SELECT max(attempts) FROM deliveries") == 1
    assert await hub.db.fetchval("SELECT count(*) FROM delivery_attempts") == 6
    assert await hub.db.fetchval("SELECT last_value FROM refuse_once") == 1 + 6  # the batch's, then each
