"""The reference platform against a real hub: the API on a real port, the delivery worker driven by hand
(as in test_delivery_worker), a real PostgreSQL, and the simulator on a port of its own.

It is reached by webhook (the hub's worker POSTs to it) or pulls its inbox; either way the case ends
acknowledged and decided, and what should be refused is refused.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio

from adapters.base import AdapterContext, Destination, OutboundMessage
from adapters.registry import build_adapters
from adapters.webhook import WebhookAdapter, webhook_body
from hub.api.app import create_app
from hub.client import HubClient, verify_inbox_item
from hub.core.clock import utc_now
from hub.core.delivery_outcome import Verdict
from hub.core.hub_identity import HubIdentity
from hub.core.jose import PrivateEncryptionJwk, PrivateSigningJwk, issue_token, sign_compact
from hub.core.templates import TemplateCatalog
from hub.delivery.worker import DeliveryWorker, WorkerConfig
from hub.keyfile import load_or_create_signing_key, write_private_jwk
from hub.platform_sim import Decision, PlatformSimulator, SimulatorConfig
from hub.services.intake import Intake
from hub.settings import Settings
from hub.store import directory as directory_store
from hub.store.database import create_pool
from tests.factories import (
    Directory,
    Member,
    delivery_worker,
    keyring_of,
    payload_of,
    register_keys,
    run_cli,
    stored_form,
    takedown,
)

GUARD = 15.0  # seconds: a bound on waits that should end much sooner; never a timing assertion
PLATFORM = "ie-platform-sim"


@dataclass
class World:
    settings: Settings
    db: asyncpg.Connection
    pool: asyncpg.Pool
    intake: Intake
    session: aiohttp.ClientSession
    hub_url: str
    hotline: Member
    simulators: list[PlatformSimulator] = field(default_factory=list)
    workers: list[DeliveryWorker] = field(default_factory=list)

    def client(self, member: Member) -> HubClient:
        return HubClient(self.session, self.hub_url, member.id, member.key)

    def context(self) -> AdapterContext:
        return AdapterContext(self.session, self.intake.hub, utc_now)

    async def platform(
        self, decision: Decision = Decision.REMOVE, *, pull: bool = False
    ) -> tuple[Member, PlatformSimulator]:
        """A platform run by the simulator: by webhook (registered with its /webhook endpoint) or pull."""
        key = PrivateSigningJwk.generate(f"{PLATFORM}-sig-{uuid.uuid4().hex[:6]}")
        enc = PrivateEncryptionJwk.generate(f"{PLATFORM}-enc-{uuid.uuid4().hex[:6]}")
        member = Member(PLATFORM, "platform", "IE", key, enc)
        config = SimulatorConfig(PLATFORM, key, self.hub_url, decision, port=0, pull=pull, pull_wait=1)
        simulator = PlatformSimulator(config)
        if not pull:
            await simulator.start()  # its port names its endpoint
            self.simulators.append(simulator)
        await directory_store.add_participant(
            self.db,
            participant_id=PLATFORM,
            name="Fictitious simulated platform",
            kind="platform",
            country="IE",
            endpoint=None if pull else simulator.webhook_url,
            accepts=["takedown-request"],
            adapter="pull" if pull else "webhook",
        )
        await register_keys(self.db, PLATFORM, key, enc)
        if pull:
            await simulator.start()  # registered first, so its first poll is already welcome
            self.simulators.append(simulator)
        return member, simulator

    async def send_takedown(self, platform: Member) -> tuple[str, str]:
        """The hotline sends a takedown request over the API: (message id, case id)."""
        envelope = takedown(self.hotline, platform)
        receipt = await self.client(self.hotline).send(envelope)
        return envelope["id"], str(receipt["case_id"])

    async def deliver(self) -> int:
        """One round of a delivery worker, and wait until what it started has finished."""
        worker = delivery_worker(
            self.pool,
            str(self.settings.database_url),
            build_adapters(self.context()),
            self.intake,
            utc_now,
            WorkerConfig(poll_interval=0.05, grace=5.0),
        )
        self.workers.append(worker)
        claimed = await worker.run_once()
        await worker.wait_idle()
        return claimed

    async def case(self, case_id: str) -> dict[str, Any]:
        return await self.client(self.hotline).case(case_id)

    async def outbound(self, message_id: str, platform: Member) -> OutboundMessage:
        """The message as the hub stored it, to deliver again by hand."""
        row = await self.db.fetchrow("SELECT * FROM messages WHERE id = $1", uuid.UUID(message_id))
        assert row is not None
        return OutboundMessage(
            message_id=row["id"],
            case_id=row["case_id"],
            sender=row["sender_id"],
            recipient=platform.id,
            message_type=row["message_type"],
            version=row["version"],
            accepted_at=row["accepted_at"],
            payload_sha256=row["payload_sha256"],
            signed_form=(await stored_form(self.db, row["id"], keyring_of(self.settings))).decode(),
            receipt=row["receipt"],
            attempt=2,
        )

    def hub_token(self, audience: str = PLATFORM, **changes: Any) -> str:
        arguments = {
            "issuer": self.intake.hub.hub_id,
            "audience": audience,
            "now": int(time.time()),
            **changes,
        }
        key = arguments.pop("key", self.intake.hub.key)
        return issue_token(key, **arguments)


@pytest_asyncio.fixture
async def world(
    settings: Settings,
    db: asyncpg.Connection,
    directory: Directory,
    catalog: TemplateCatalog,
    aiohttp_server: Any,
) -> AsyncIterator[World]:
    server = await aiohttp_server(create_app(settings, background=False))
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    pool = await create_pool(str(settings.database_url))
    hub_key = load_or_create_signing_key(settings.signing_key_file)  # the key the app above signs with
    intake = Intake(
        pool=pool, catalog=catalog, hub=HubIdentity(settings.hub_id, hub_key), keyring=keyring_of(settings)
    )
    session = aiohttp.ClientSession()
    hub_url = str(server.make_url("/")).rstrip("/")
    world = World(settings, db, pool, intake, session, hub_url, hotline)
    try:
        yield world
    finally:
        for simulator in world.simulators:
            await asyncio.wait_for(simulator.stop(), GUARD)
        for worker in world.workers:
            await asyncio.wait_for(worker.stop(), GUARD)
        await session.close()
        await pool.close()


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    async def poll() -> None:
        while not await condition():  # noqa: ASYNC110  (polls over HTTP: no event to await)
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), GUARD)
    except TimeoutError:
        pytest.fail(f"gave up waiting: {what}")


async def stats(world: World, simulator: PlatformSimulator) -> dict[str, Any]:
    async with world.session.get(f"{simulator.url}/stats") as response:
        assert response.status == 200
        counts: dict[str, Any] = await response.json()
        return counts


def counts(**values: int) -> dict[str, Any]:
    base: dict[str, Any] = dict.fromkeys(("received", "duplicates", "refused", "acknowledged", "decided"), 0)
    refusals = {k: values.pop(k) for k in ("unauthorised", "unverified") if k in values}
    return {**base, **values, "refusals": refusals}


def moves(view: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [
        (e.get("from_state"), e["to_state"])
        for e in view["timeline"]
        if e["event"] == "recipient.state_changed" and e.get("subject") == PLATFORM
    ]


async def message_types(world: World, case_id: str) -> list[tuple[str, str]]:
    rows = await world.db.fetch(
        "SELECT sender_id, message_type FROM messages WHERE case_id = $1 ORDER BY accepted_at",
        uuid.UUID(case_id),
    )
    return [(r["sender_id"], r["message_type"]) for r in rows]


async def post(world: World, simulator: PlatformSimulator, body: bytes, headers: dict[str, str]) -> int:
    async with world.session.post(simulator.webhook_url, data=body, headers=headers) as response:
        await response.read()
        return response.status


def webhook_headers(message_id: str, token: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Idempotency-Key": message_id}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


# -- webhook ----------------------------------------------------------------------------------------------
async def test_the_acknowledgement_comes_back_in_the_webhook_response(world: World) -> None:
    platform, simulator = await world.platform(Decision.NONE)  # nothing submitted: only the response
    _, case_id = await world.send_takedown(platform)

    assert await world.deliver() == 1

    view = await world.case(case_id)
    assert view["recipients"][0]["state"] == "acknowledged"
    assert moves(view) == [(None, "queued"), ("queued", "retrieved"), ("retrieved", "acknowledged")]
    assert await message_types(world, case_id) == [
        (world.hotline.id, "takedown-request"),
        (PLATFORM, "acknowledgement"),
    ]
    assert await stats(world, simulator) == counts(received=1, acknowledged=1)


@pytest.mark.parametrize(
    ("decision", "outcome"), [(Decision.REMOVE, "actioned"), (Decision.DECLINE, "declined")]
)
async def test_the_platform_decides_after_acknowledging(
    world: World, decision: Decision, outcome: str
) -> None:
    platform, simulator = await world.platform(decision)
    message_id, case_id = await world.send_takedown(platform)

    assert await world.deliver() == 1
    await asyncio.wait_for(simulator.wait_idle(), GUARD)

    view = await world.case(case_id)
    assert (view["status"], view["recipients"][0]["state"]) == (outcome, outcome)
    reached = [to for _, to in moves(view) if to in ("acknowledged", outcome)]
    assert reached == ["acknowledged", outcome]
    assert await stats(world, simulator) == counts(received=1, acknowledged=1, decided=1)
    # The hotline gets both answers, signed by the platform, and they verify like any message.
    hotline = world.client(world.hotline)
    answers = (await hotline.inbox())["messages"]
    sender_keys = (await hotline.participant(PLATFORM))["jwks"]
    hub_keys = await hotline.hub_jwks()
    verified = [verify_inbox_item(item, sender_keys, hub_keys).envelope for item in answers]
    assert [v["type"] for v in verified] == ["acknowledgement", "status-update"]
    assert all(v["in_reply_to"] == message_id and v["case"] == case_id for v in verified)
    assert verified[1]["body"]["status"] == outcome


async def test_a_resent_delivery_is_dropped_as_a_duplicate(world: World) -> None:
    platform, simulator = await world.platform(Decision.NONE)
    message_id, case_id = await world.send_takedown(platform)
    assert await world.deliver() == 1

    # The same message again, as after a worker crash: a fresh token, the same Idempotency-Key.
    outcome = await WebhookAdapter(world.context()).deliver(
        await world.outbound(message_id, platform), Destination(PLATFORM, simulator.webhook_url)
    )

    assert outcome.verdict is Verdict.DELIVERED
    assert json.loads(outcome.response_body or b"") == {"status": "duplicate"}
    assert await stats(world, simulator) == counts(received=2, duplicates=1, acknowledged=1)
    assert await message_types(world, case_id) == [
        (world.hotline.id, "takedown-request"),
        (PLATFORM, "acknowledgement"),
    ]


FORGED_TOKENS: dict[str, Callable[[World], str | None]] = {
    "no token": lambda w: None,
    "signed by another key under the hub's kid": lambda w: w.hub_token(
        key=PrivateSigningJwk.generate(w.intake.hub.key.kid)
    ),
    "signed by a key the hub does not publish": lambda w: w.hub_token(
        key=PrivateSigningJwk.generate("not-the-hubs-key")
    ),
    "meant for another platform": lambda w: w.hub_token(audience="other-platform"),
    "expired": lambda w: w.hub_token(now=int(time.time()) - 1000),
    "issued by someone else with the hub's key": lambda w: w.hub_token(issuer="someone-else"),
    "not a JWT": lambda w: "not-a-token",
}


@pytest.mark.parametrize("forgery", FORGED_TOKENS)
async def test_a_call_without_the_hubs_token_is_refused(world: World, forgery: str) -> None:
    platform, simulator = await world.platform(Decision.NONE)
    message_id, case_id = await world.send_takedown(platform)
    body = webhook_body(await world.outbound(message_id, platform))

    status = await post(world, simulator, body, webhook_headers(message_id, FORGED_TOKENS[forgery](world)))

    assert status == 401
    assert await stats(world, simulator) == counts(received=1, refused=1, unauthorised=1)
    # Refused before anything was taken: the genuine delivery still goes through.
    assert await world.deliver() == 1
    assert (await world.case(case_id))["recipients"][0]["state"] == "acknowledged"


async def test_a_token_is_good_for_one_call(world: World) -> None:
    platform, simulator = await world.platform(Decision.NONE)
    message_id, _ = await world.send_takedown(platform)
    body = webhook_body(await world.outbound(message_id, platform))
    headers = webhook_headers(message_id, world.hub_token())

    assert await post(world, simulator, body, headers) == 200
    assert await post(world, simulator, body, headers) == 401  # a replayed call, not a retry
    assert await stats(world, simulator) == counts(received=2, acknowledged=1, refused=1, unauthorised=1)


def impostor_signature(world: World, item: dict[str, Any]) -> None:
    """The message re-signed by someone holding another key under the hotline's kid."""
    impostor = PrivateSigningJwk.generate(world.hotline.key.kid)
    envelope = payload_of(item["message"])
    item["message"] = sign_compact(json.dumps(envelope).encode(), impostor)


def altered_payload(world: World, item: dict[str, Any]) -> None:
    """The payload changed after signing (the signature no longer covers it)."""
    protected, _, signature = item["message"].split(".")
    envelope = payload_of(item["message"])
    envelope["body"]["jurisdictions"] = ["US"]
    altered = sign_compact(json.dumps(envelope).encode(), world.hotline.key).split(".")[1]
    item["message"] = f"{protected}.{altered}.{signature}"


def receipt_of_another_message(world: World, item: dict[str, Any]) -> None:
    """A genuine message with a receipt the hub never signed for it."""
    claims = payload_of(item["receipt"])
    claims["payload_sha256"] = "0" * 64
    item["receipt"] = sign_compact(json.dumps(claims).encode(), world.intake.hub.key)


def addressed_to_another_platform(world: World, item: dict[str, Any]) -> None:
    """A receipt, signed by the hub, for the message as sent to someone else."""
    claims = payload_of(item["receipt"])
    claims["to"] = ["other-platform"]
    item["receipt"] = sign_compact(json.dumps(claims).encode(), world.intake.hub.key)


def receipt_naming_another_issuer(world: World, item: dict[str, Any]) -> None:
    claims = payload_of(item["receipt"])
    claims["iss"] = "another-hub"
    item["receipt"] = sign_compact(json.dumps(claims).encode(), world.intake.hub.key)


def unknown_sender(world: World, item: dict[str, Any]) -> None:
    item["from"] = "nobody-registered"


@pytest.mark.parametrize(
    "tamper",
    [
        impostor_signature,
        altered_payload,
        receipt_of_another_message,
        addressed_to_another_platform,
        receipt_naming_another_issuer,
        unknown_sender,
    ],
)
async def test_a_message_that_does_not_verify_is_refused(
    world: World, tamper: Callable[[World, dict[str, Any]], None]
) -> None:
    platform, simulator = await world.platform(Decision.NONE)
    message_id, case_id = await world.send_takedown(platform)
    item = json.loads(webhook_body(await world.outbound(message_id, platform)))
    tamper(world, item)

    status = await post(
        world, simulator, json.dumps(item).encode(), webhook_headers(message_id, world.hub_token())
    )

    assert status == 422
    assert await stats(world, simulator) == counts(received=1, refused=1, unverified=1)
    assert await message_types(world, case_id) == [(world.hotline.id, "takedown-request")]
    # The refusal did not use up the Idempotency-Key: the genuine message is taken.
    assert await world.deliver() == 1
    assert (await world.case(case_id))["recipients"][0]["state"] == "acknowledged"


# -- pull -------------------------------------------------------------------------------------------------
async def test_in_pull_mode_the_platform_retrieves_acknowledges_and_decides(world: World) -> None:
    platform, simulator = await world.platform(Decision.REMOVE, pull=True)
    _, case_id = await world.send_takedown(platform)

    async def decided() -> bool:
        return bool((await stats(world, simulator))["decided"] == 1)

    await until(decided, "the simulator to decide")
    await asyncio.wait_for(simulator.wait_idle(), GUARD)

    view = await world.case(case_id)
    assert view["status"] == "actioned"
    assert moves(view) == [
        (None, "queued"),
        ("queued", "retrieved"),
        ("retrieved", "acknowledged"),
        ("acknowledged", "actioned"),
    ]
    assert [e["event"] for e in view["timeline"]].count("message.retrieved") == 1
    assert await stats(world, simulator) == counts(received=1, acknowledged=1, decided=1)
    assert await world.db.fetchval("SELECT count(*) FROM deliveries WHERE channel = 'push'") == 0


# -- the command line -------------------------------------------------------------------------------------
def test_the_command_line_help() -> None:
    code, text, _ = run_cli(["platform-sim", "--help"], dict(os.environ))  # in this process: argparse's exit
    assert code == 0
    for option in ("--key", "--as", "--hub", "--host", "--port", "--decide", "--delay", "--pull"):
        assert option in text


async def test_the_command_line_runs_a_pulling_platform(world: World, tmp_path: Path) -> None:
    member = await Directory(world.db).add(PLATFORM, "platform", "IE")
    key_file = tmp_path / "platform.jwk"
    write_private_jwk(key_file, member.key)
    _, case_id = await world.send_takedown(member)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "hub", "platform-sim", "--key", str(key_file), "--as", PLATFORM),
        *("--hub", world.hub_url, "--port", "0", "--pull", "--decide", "decline"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:

        async def declined() -> bool:
            return bool((await world.case(case_id))["status"] == "declined")

        await until(declined, "the simulator process to decline")
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), GUARD)
    assert process.returncode == 0, err.decode()
    assert "pulling its inbox" in out.decode()
    for line in err.decode().splitlines():  # identifiers only: no content, no URL
        assert "http" not in line, line
        assert "photos.example.com" not in line, line


async def test_a_hub_that_cannot_be_asked_for_its_key_gets_a_503(world: World) -> None:
    with socket.socket() as bound:  # bound, never listening: connections to it are refused
        bound.bind(("127.0.0.1", 0))
        dead_hub = f"http://127.0.0.1:{bound.getsockname()[1]}"
        key = PrivateSigningJwk.generate("ie-platform-sim-sig")
        async with PlatformSimulator(SimulatorConfig(PLATFORM, key, dead_hub, port=0)) as simulator:
            status = await post(
                world, simulator, b"{}", webhook_headers(str(uuid.uuid4()), world.hub_token())
            )
            assert status == 503  # neither taken nor refused: the hub tries again later
            assert await stats(world, simulator) == counts(received=1)
