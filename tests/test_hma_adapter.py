"""The `hma` adapter against a local server that speaks HMA's curation API and checks what it gets.

The server does what HMA's `POST /c/bank/<bank_name>/signal` does (facebook/ThreatExchange at baefb4ed,
`hasher-matcher-actioner/src/OpenMediaMatch/blueprints/curation.py`: `bank_add_as_signals`,
`_validate_note`, `_bank_add_signals`): 404 for a bank it does not have, the `note` at most 255
characters, 400 for no signals, a signal type it has not enabled or an invalid value, and
`{"id": <content id>, "signals": {...}}` for what it banked; errors are `{"message": ...}`.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest_asyncio
from aiohttp import web

from adapters.base import AdapterContext, BankedContent, Destination, OutboundMessage
from adapters.hma import HmaAdapter
from adapters.registry import build_adapters, validate_config
from hub.api.app import adapter_context, create_app
from hub.api.keys import DSN, INTAKE, POOL
from hub.core.clock import utc_now
from hub.core.delivery_outcome import Verdict
from hub.delivery.worker import DeliveryWorker, WorkerConfig
from hub.policies import load_retention_policy
from hub.services.bank_sweep import sweep_banks
from hub.settings import Settings
from hub.store import directory as directory_store
from hub.store.purge import purge_due_cases
from tests.factories import Member, delivery_worker, jose, register_keys, removal, takedown, withdrawal
from tests.test_adapter_contract import MD5, PDQ, context, fictitious_member, outbound_message

__all__ = ["context"]  # the fixture, shared with the contract suite

SHA256 = "ab" * 32
PDQ_2 = "0f" * 32
VALID = {  # the value forms of python-threatexchange's signal types, as HMA validates them
    "pdq": re.compile(r"[0-9a-f]{64}"),
    "video_md5": re.compile(r"[0-9a-f]{32}"),
    "video_sha256": re.compile(r"[0-9a-f]{64}"),
}


@dataclass
class Hma:
    url: str
    enabled: set[str] = field(default_factory=lambda: {"pdq", "video_md5"})
    banked: list[dict[str, Any]] = field(default_factory=list)
    fail_after: int | None = None  # answer 503 once this many contents are banked (or one deleted)
    deleted: set[int] = field(default_factory=set)


def message_error(text: str, status: int) -> web.Response:
    return web.json_response({"message": text}, status=status)


@pytest_asyncio.fixture
async def hma() -> AsyncIterator[Hma]:
    server: Hma

    async def add_signals(request: web.Request) -> web.Response:
        if request.match_info["bank_name"] != "NCII_HUB":
            return message_error(f"bank '{request.match_info['bank_name']}' not found", 404)
        if server.fail_after is not None and len(server.banked) >= server.fail_after:
            return message_error("database unavailable", 503)
        data = await request.json()
        note = data.pop("note", None)
        if note is not None and (not isinstance(note, str) or len(note) > 255):
            return message_error("note must be at most 255 characters", 400)
        if not data:
            return message_error("No signals given", 400)
        for name, value in data.items():
            if name not in server.enabled:
                return message_error(f"No such signal type {name}", 400)
            if not isinstance(value, str) or not VALID[name].fullmatch(value):
                return message_error(f"Invalid {name} signal", 400)
        server.banked.append({"signals": data, "note": note})
        return web.json_response({"id": len(server.banked), "signals": data})

    async def delete_content(request: web.Request) -> web.Response:
        if request.match_info["bank_name"] != "NCII_HUB":
            return message_error(f"bank '{request.match_info['bank_name']}' not found", 404)
        if server.fail_after is not None and server.deleted:
            return message_error("database unavailable", 503)
        content_id = int(request.match_info["content_id"])
        present = 0 < content_id <= len(server.banked) and content_id not in server.deleted
        server.deleted.add(content_id)
        return web.json_response({"deleted": int(present)})

    app = web.Application()
    app.router.add_post("/c/bank/{bank_name}/signal", add_signals)
    app.router.add_delete("/c/bank/{bank_name}/content/{content_id:[0-9]+}", delete_content)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    server = Hma(f"http://127.0.0.1:{runner.addresses[0][1]}")
    try:
        yield server
    finally:
        await runner.cleanup()


def destination(hma: Hma, **changes: Any) -> Destination:
    return Destination("ie-platform-test", None, {"url": hma.url, "bank": "NCII_HUB", **changes})


def two_item_referral(context: AdapterContext) -> OutboundMessage:
    """The contract's message, re-signed with two content items: one with three hashes, one with PDQ."""
    hotline = fictitious_member("de-hotline-test", "hotline", "DE")
    platform = fictitious_member("ie-platform-test", "platform", "IE")
    content = [
        {
            "url": "https://photos.example.com/p/test-0001",
            "hashes": [
                {"alg": "pdq", "value": PDQ},
                {"alg": "md5", "value": MD5},
                {"alg": "sha256", "value": SHA256},
            ],
        },
        {"url": "https://photos.example.com/p/test-0002", "hashes": [{"alg": "pdq", "value": PDQ_2}]},
    ]
    envelope = takedown(hotline, platform, content=content)
    return replace(
        outbound_message(context), message_id=uuid.UUID(envelope["id"]), signed_form=hotline.sign(envelope)
    )


async def test_each_content_item_is_one_bank_content_in_hmas_shape(hma: Hma, context: AdapterContext) -> None:
    message = two_item_referral(context)
    outcome = await HmaAdapter(context).deliver(message, destination(hma, signal_types=["pdq", "md5"]))

    assert outcome.verdict is Verdict.DELIVERED, outcome
    assert outcome.detail == "banked 2 items in HMA (content ids 1, 2)"
    assert hma.banked == [
        {"signals": {"pdq": PDQ, "video_md5": MD5}, "note": f"referral-hub {message.message_id} item 0"},
        {"signals": {"pdq": PDQ_2}, "note": f"referral-hub {message.message_id} item 1"},
    ]
    assert "photos.example.com" not in json.dumps(hma.banked)  # hashes only, never a URL


async def test_a_signal_type_the_hma_has_not_enabled_is_refused_for_good(
    hma: Hma, context: AdapterContext
) -> None:
    hma.enabled = {"pdq"}
    outcome = await HmaAdapter(context).deliver(outbound_message(context), destination(hma))
    assert (outcome.verdict, outcome.http_status) == (Verdict.PERMANENT, 400)
    assert hma.banked == []


async def test_a_failure_midway_is_retried_and_says_how_far_it_got(hma: Hma, context: AdapterContext) -> None:
    hma.fail_after = 1
    chosen = destination(hma, signal_types=["pdq", "md5"])
    outcome = await HmaAdapter(context).deliver(two_item_referral(context), chosen)
    assert (outcome.verdict, outcome.http_status) == (Verdict.RETRY, 503)
    assert outcome.detail == "HTTP 503 after banking 1 of 2 items"


async def test_what_a_bank_cannot_take_is_a_permanent_failure_and_nothing_is_sent(
    hma: Hma, context: AdapterContext
) -> None:
    hotline = fictitious_member("de-hotline-test", "hotline", "DE")
    platform = fictitious_member("ie-platform-test", "platform", "IE")
    base = outbound_message(context)
    unhashed = takedown(hotline, platform)  # content without hashes
    retraction = withdrawal(hotline, [platform], str(base.case_id), str(base.message_id))
    adapter = HmaAdapter(context)
    for message, why in [
        (replace(base, signed_form=hotline.sign(unhashed)), "a takedown request without a hash"),
        (replace(base, message_type="withdrawal", signed_form=hotline.sign(retraction)), "a withdrawal"),
    ]:
        outcome = await adapter.deliver(message, destination(hma))
        assert outcome.verdict is Verdict.PERMANENT, why
        assert outcome.detail.startswith("an HMA bank takes hashes only"), outcome.detail
    hma.enabled.add("video_sha256")
    only_sha = await adapter.deliver(two_item_referral(context), destination(hma, signal_types=["sha256"]))
    assert only_sha.verdict is Verdict.DELIVERED  # the first item's SHA-256; the second has none
    assert hma.banked == [{"signals": {"video_sha256": SHA256}, "note": hma.banked[0]["note"]}]


class MemoryLedger:
    """A `BankLedger` in memory, as the hub's (hub/services/bank_ledger.py) keeps it in PostgreSQL."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, uuid.UUID, int], tuple[BankedContent, bool]] = {}

    async def banked(self, recipient: str, case_id: uuid.UUID) -> list[BankedContent]:
        return [
            c
            for (r, _, _), (c, gone) in self.rows.items()
            if r == recipient and c.case_id == case_id and not gone
        ]

    async def record(self, recipient: str, content: BankedContent, at: datetime) -> None:
        self.rows.setdefault((recipient, content.message_id, content.item), (content, False))

    async def removed(self, recipient: str, content: BankedContent, at: datetime) -> None:
        self.rows[(recipient, content.message_id, content.item)] = (content, True)


async def test_a_retry_banks_only_what_was_not_banked_and_a_withdrawal_removes_it(
    hma: Hma, context: AdapterContext
) -> None:
    ledger = MemoryLedger()
    adapter = HmaAdapter(replace(context, bank_ledger=ledger))
    chosen = destination(hma, signal_types=["pdq", "md5"])
    message = two_item_referral(context)
    hma.fail_after = 1
    first = await adapter.deliver(message, chosen)
    assert (first.verdict, first.detail) == (Verdict.RETRY, "HTTP 503 after banking 1 of 2 items")
    hma.fail_after = None
    second = await adapter.deliver(replace(message, attempt=2), chosen)
    assert (second.verdict, second.detail) == (Verdict.DELIVERED, "banked 2 items in HMA (content ids 1, 2)")
    assert len(hma.banked) == 2  # the first item once, not again on the retry

    hotline = fictitious_member("de-hotline-test", "hotline", "DE")
    platform = fictitious_member("ie-platform-test", "platform", "IE")
    retraction = withdrawal(hotline, [platform], str(message.case_id), str(message.message_id))
    withdrawn = replace(message, message_type="withdrawal", signed_form=hotline.sign(retraction))
    outcome = await adapter.deliver(withdrawn, chosen)
    assert (outcome.verdict, outcome.detail) == (
        Verdict.DELIVERED,
        "removed 2 contents from HMA (content ids 1, 2)",
    )
    assert hma.deleted == {1, 2}
    assert await ledger.banked("ie-platform-test", message.case_id) == []
    again = await adapter.deliver(withdrawn, chosen)  # delivered again: nothing left to remove
    assert (again.verdict, again.detail) == (
        Verdict.DELIVERED,
        "nothing of this case is banked in HMA",
    )


async def hma_platform(hma: Hma, db: asyncpg.Connection) -> Member:
    config = {"url": hma.url, "bank": "NCII_HUB", "signal_types": ["pdq", "md5"]}
    validate_config("hma", config, None)  # as `hub participants add --adapter hma` does
    await directory_store.add_participant(
        db,
        participant_id="ie-platform-hma",
        name="Fictitious platform banking in HMA",
        kind="platform",
        country="IE",
        endpoint=None,
        accepts=["takedown-request"],
        adapter="hma",
        adapter_config=config,
    )
    platform = fictitious_member("ie-platform-hma", "platform", "IE")
    await register_keys(db, platform.id, platform.key, platform.enc)
    return platform


async def submit(client: Any, sender: Member, envelope: dict[str, Any]) -> str:
    response = await client.post("/v1/messages", **jose(sender.sign(envelope)))
    assert response.status == 202, await response.text()
    case_id: str = (await response.json())["case_id"]
    return case_id


def hub_worker(app: Any, session: aiohttp.ClientSession) -> DeliveryWorker:
    return delivery_worker(
        app[POOL],
        app[DSN],
        build_adapters(adapter_context(app, session), {"hma": HmaAdapter}),
        app[INTAKE],
        utc_now,
        WorkerConfig(poll_interval=0.05, grace=5.0),
    )


async def step(worker: DeliveryWorker) -> None:
    assert await worker.run_once() == 1
    await asyncio.wait_for(worker.wait_idle(), 15.0)


def hashed_referral(hotline: Member, platform: Member) -> dict[str, Any]:
    hashes = [{"alg": "pdq", "value": PDQ}, {"alg": "md5", "value": MD5}]
    return takedown(hotline, platform, content=[{"url": "https://photos.example.com/p/1", "hashes": hashes}])


async def test_through_the_hub_a_referral_is_banked_and_its_withdrawal_removes_it(
    hma: Hma, settings: Settings, db: asyncpg.Connection, directory: Any, aiohttp_client: Any
) -> None:
    """The hub's delivery worker and its ledger (`bank_contents`): banked once, removed on withdrawal."""
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await hma_platform(hma, db)
    client = await aiohttp_client(create_app(settings, background=False))
    request = hashed_referral(hotline, platform)
    case_id = await submit(client, hotline, request)
    async with aiohttp.ClientSession() as session:
        worker = hub_worker(client.app, session)
        try:
            await step(worker)
            assert [b["signals"] for b in hma.banked] == [{"pdq": PDQ, "video_md5": MD5}]
            rows = await db.fetch("SELECT content_id, removed_at FROM bank_contents")
            assert [(r["content_id"], r["removed_at"]) for r in rows] == [("1", None)]
            retraction = withdrawal(hotline, [platform], case_id, request["id"])
            await submit(client, hotline, retraction)
            await step(worker)
        finally:
            await worker.stop()
    assert hma.deleted == {1}
    assert await db.fetchval("SELECT removed_at IS NOT NULL FROM bank_contents") is True
    detail = await db.fetchval(
        "SELECT a.detail FROM delivery_attempts a JOIN deliveries d ON d.seq = a.delivery_seq "
        "WHERE d.message_id = $1",
        uuid.UUID(retraction["id"]),
    )
    assert detail == "removed 1 contents from HMA (content ids 1)"


async def test_a_withdrawal_reaches_the_bank_through_the_sweep_even_undelivered(
    hma: Hma, settings: Settings, db: asyncpg.Connection, directory: Any, aiohttp_client: Any
) -> None:
    """The withdrawal withdraws the platform's signal copies: the sweep removes what they banked even if
    the withdrawal's own delivery has not happened (or failed)."""
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await hma_platform(hma, db)
    client = await aiohttp_client(create_app(settings, background=False))
    request = hashed_referral(hotline, platform)
    case_id = await submit(client, hotline, request)
    async with aiohttp.ClientSession() as session:
        worker = hub_worker(client.app, session)
        try:
            await step(worker)
        finally:
            await worker.stop()
        context = adapter_context(client.app, session)
        assert await sweep_banks(client.app[POOL], context) == (0, 0)  # active: stays banked
        await submit(client, hotline, withdrawal(hotline, [platform], case_id, request["id"]))
        assert await sweep_banks(client.app[POOL], context) == (0, 1)
        assert await sweep_banks(client.app[POOL], context) == (0, 0)  # once
    assert hma.deleted == {1}


async def test_the_purge_reaches_the_bank_through_the_sweep(
    hma: Hma, settings: Settings, db: asyncpg.Connection, directory: Any, aiohttp_client: Any
) -> None:
    """No message goes out at the purge: the sweep removes what the purged case banked."""
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await hma_platform(hma, db)
    client = await aiohttp_client(create_app(settings, background=False))
    request = hashed_referral(hotline, platform)
    case_id = await submit(client, hotline, request)
    async with aiohttp.ClientSession() as session:
        worker = hub_worker(client.app, session)
        try:
            await step(worker)
        finally:
            await worker.stop()
        # the platform removes the image and says so with its own key: the case is decided
        await submit(client, platform, removal(platform, hotline, case_id, request["id"]))
        context = adapter_context(client.app, session)
        assert await sweep_banks(client.app[POOL], context) == (0, 0)  # nothing to remove before the purge
        assert hma.deleted == set()
        later = utc_now() + timedelta(days=366 * 3)
        assert await purge_due_cases(client.app[POOL], load_retention_policy(), later) == [uuid.UUID(case_id)]
        due = await db.fetchval("SELECT remove_due_at IS NOT NULL FROM bank_contents")
        assert due is True
        assert await sweep_banks(client.app[POOL], context) == (0, 1)
        assert await sweep_banks(client.app[POOL], context) == (0, 0)  # once
    assert hma.deleted == {1}
    assert await db.fetchval("SELECT removed_at IS NOT NULL FROM bank_contents") is True


async def test_opted_in_hashes_are_banked_once_and_removed_when_withdrawn(
    hma: Hma, settings: Settings, db: asyncpg.Connection, directory: Any, aiohttp_client: Any
) -> None:
    """A request to another platform, with the person's consent to share its hashes: a platform on HMA
    that opted in gets them banked, the note naming no request; the withdrawal removes them."""
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    addressed = await directory.add("fr-platform-test", "platform", "FR")
    opted = await hma_platform(hma, db)
    await db.execute("UPDATE participants SET hash_signals = true WHERE id = $1", opted.id)
    client = await aiohttp_client(create_app(settings, background=False))
    hashes = [{"alg": "pdq", "value": PDQ}, {"alg": "md5", "value": MD5}]
    content = [{"url": "https://photos.example.com/p/1", "hashes": hashes}]
    request = takedown(hotline, addressed, content=content, hash_sharing_consent=True)
    case_id = await submit(client, hotline, request)
    async with aiohttp.ClientSession() as session:
        context = adapter_context(client.app, session)
        assert await sweep_banks(client.app[POOL], context) == (1, 0)
        assert await sweep_banks(client.app[POOL], context) == (0, 0)  # once
        assert hma.banked == [
            {"signals": {"pdq": PDQ, "video_md5": MD5}, "note": "referral-hub: opted-in hash signal"}
        ]
        await submit(client, hotline, withdrawal(hotline, [addressed], case_id, request["id"]))
        assert await sweep_banks(client.app[POOL], context) == (0, 1)
    assert hma.deleted == {1}
