"""A participant's further destinations (issue 19): a platform reads referrals by webhook and has their
hashes banked into its HMA, each destination with its own delivery, retries and evidence.

Across the features: the destination is bound by the platform's own signature and published by the
operator's command line (`hub participants add-destination`), the referral reaches the webhook and its
hashes a local server that speaks HMA's curation API (`tests.test_hma_adapter`), the legal clock starts
on the webhook's delivery and never on the banking, a withdrawal reaches both (the webhook's notice, the
bank's removal), and the case's evidence bundle carries both deliveries, each signed by the hub.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest_asyncio

from adapters.registry import build_adapters
from hub.api.app import adapter_context, create_app
from hub.api.keys import DSN, HUB_KEY, INTAKE, KEYRING, POOL
from hub.core.binding import (
    bind_delivery,
    bind_destination,
    bind_destination_removal,
    delivery_document,
    destination_document,
)
from hub.core.clock import utc_now
from hub.core.jose import PrivateSigningJwk, parse_jws
from hub.core.own_entry import entry_problems
from hub.core.retry import RetryPolicy
from hub.delivery.worker import DeliveryWorker, WorkerConfig
from hub.evidence.export import export_bundle
from hub.evidence.verify import trust_from_keys, verify_bundle
from hub.keyfile import write_private_jwk
from hub.services.bank_sweep import sweep_banks
from hub.settings import Settings
from hub.store import directory as directory_store
from tests.factories import Member, add_with_endpoint, delivery_worker, jose, run_cli, takedown, withdrawal
from tests.test_adapter_contract import MD5, PDQ
from tests.test_delivery_worker import Receiver
from tests.test_hma_adapter import Hma, hma

__all__ = ["hma"]  # the fixture, shared with the HMA adapter's tests

PLATFORM = "ie-platform-test"
HMA_CONFIG = {"bank": "NCII_HUB", "signal_types": ["pdq", "md5"]}
GUARD_ROUNDS = 200


@pytest_asyncio.fixture
async def receiver(aiohttp_server: Any) -> Receiver:
    receiver = Receiver()
    server = await aiohttp_server(receiver.app())
    receiver.url = str(server.make_url("/hook"))
    return receiver


def operator_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {
        "HUB_DATA_DIR": str(tmp_path / "hub-data"),
        "HUB_DATABASE_URL": str(settings.database_url),
        "HUB_ID": settings.hub_id,
    }
    return env


async def operator(settings: Settings, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """`hub participants ARGS` as the operator runs it (on a thread: the command runs its own loop)."""
    return await asyncio.to_thread(run_cli, ["participants", *args], operator_env(settings, tmp_path))


def hma_destination(hma: Hma) -> dict[str, Any]:
    return destination_document("hma", None, "hma", {"url": hma.url, **HMA_CONFIG})


def signed_destination(
    signer: PrivateSigningJwk, settings: Settings, document: dict[str, Any], tmp_path: Path
) -> Path:
    """The platform's `hub keys bind --add-destination`, handed to the operator as a file."""
    text = bind_destination(
        signer,
        participant_id=PLATFORM,
        hub_id=settings.hub_id,
        destination=document,
        issued_at=int(utc_now().timestamp()),
    )
    path = tmp_path / f"destination-{uuid.uuid4().hex[:6]}.binding"
    path.write_text(text + "\n", "utf-8")
    return path


def worker_of(app: Any, session: aiohttp.ClientSession) -> DeliveryWorker:
    policy = RetryPolicy(base=timedelta(milliseconds=1), cap=timedelta(milliseconds=2))
    return delivery_worker(
        app[POOL],
        app[DSN],
        build_adapters(adapter_context(app, session)),
        app[INTAKE],
        utc_now,
        WorkerConfig(poll_interval=0.05, grace=5.0, policy=policy),
    )


async def deliver_until(worker: DeliveryWorker, done: Any) -> None:
    """Delivery rounds until `done()` holds (a bounded number: a retry's back-off here is milliseconds)."""
    for _ in range(GUARD_ROUNDS):
        await worker.run_once()
        await asyncio.wait_for(worker.wait_idle(), 15.0)
        if await done():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the deliveries did not finish")


async def submit(client: Any, sender: Member, envelope: dict[str, Any]) -> str:
    response = await client.post("/v1/messages", **jose(sender.sign(envelope)))
    assert response.status == 202, await response.text()
    case_id: str = (await response.json())["case_id"]
    return case_id


async def deliveries_of(db: asyncpg.Connection, message_id: str) -> dict[str, str]:
    rows = await db.fetch(
        "SELECT destination, state FROM deliveries WHERE message_id = $1 AND recipient_id = $2",
        uuid.UUID(message_id),
        PLATFORM,
    )
    return {r["destination"]: r["state"] for r in rows}


async def test_webhook_and_hma_each_get_their_part_and_the_clock_starts_on_the_webhook(
    hma: Hma,
    receiver: Receiver,
    settings: Settings,
    db: asyncpg.Connection,
    directory: Any,
    aiohttp_client: Any,
    tmp_path: Path,
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await add_with_endpoint(db, PLATFORM, endpoint=receiver.url)
    # the platform signs it with its own key (`hub keys bind`) and hands the file to the operator
    key_file, binding_file = tmp_path / "platform.jwk", tmp_path / "hma.binding"
    write_private_jwk(key_file, platform.key)
    bind = [
        "keys", "bind", "--as", PLATFORM, "--key", str(key_file), "--hub-id", settings.hub_id,
        "--add-destination", "hma", "--adapter", "hma",
        "--adapter-config", json.dumps({"url": hma.url, **HMA_CONFIG}), "--out", str(binding_file),
    ]  # fmt: skip
    code, _, err = await asyncio.to_thread(run_cli, bind, operator_env(settings, tmp_path))
    assert code == 0, err
    code, out, err = await operator(
        settings, tmp_path, "add-destination", PLATFORM, "--binding", str(binding_file)
    )
    assert code == 0, err
    assert json.loads(out) == {"participant_id": PLATFORM, "operation": "add-destination", "subject": "hma"}
    code, out, err = await operator(settings, tmp_path, "show", PLATFORM)
    assert code == 0, err
    [shown] = json.loads(out)["destinations"]
    assert (shown["name"], shown["adapter"], shown["carries"]) == (
        "hma",
        "hma",
        ["takedown-request", "withdrawal"],
    )

    client = await aiohttp_client(create_app(settings, background=False))
    hashes = [{"alg": "pdq", "value": PDQ}, {"alg": "md5", "value": MD5}]
    request = takedown(
        hotline, platform, content=[{"url": "https://photos.example.com/p/1", "hashes": hashes}]
    )
    case_id = await submit(client, hotline, request)
    assert await deliveries_of(db, request["id"]) == {"": "pending", "hma": "pending"}

    receiver.script(503)  # the webhook fails once: the bank is served meanwhile, on its own
    async with aiohttp.ClientSession() as session:
        worker = worker_of(client.app, session)
        try:
            await deliver_until(worker, lambda: _delivered(db, request["id"], "hma"))
            # banked, but the platform is not told yet: no clock runs, its state has not moved
            assert [b["signals"] for b in hma.banked] == [{"pdq": PDQ, "video_md5": MD5}]
            if (await deliveries_of(db, request["id"]))[""] != "delivered":
                assert (
                    await db.fetchval("SELECT count(*) FROM deadlines WHERE recipient_id = $1", PLATFORM) == 0
                )
            await deliver_until(worker, lambda: _delivered(db, request["id"], ""))
            told_at = await db.fetchval(
                "SELECT delivered_at FROM deliveries WHERE message_id = $1 AND destination = ''",
                uuid.UUID(request["id"]),
            )
            started = await db.fetch("SELECT started_at FROM deadlines WHERE recipient_id = $1", PLATFORM)
            assert started
            assert {r["started_at"] for r in started} == {told_at}
            referral_posts = [p for p in receiver.posts if p.key == request["id"]]
            assert len(referral_posts) == 2
            assert referral_posts[-1].body["message_id"] == request["id"]
            assert (
                await db.fetchval("SELECT state FROM case_parties WHERE participant_id = $1", PLATFORM)
                == "retrieved"
            )

            # the withdrawal reaches both: a notice at the webhook, the bank's content removed
            retraction = withdrawal(hotline, [platform], case_id, request["id"])
            await submit(client, hotline, retraction)
            await deliver_until(
                worker,
                lambda: _all_delivered(db, retraction["id"]),
            )
        finally:
            await worker.stop()
    assert [p.body["type"] for p in receiver.posts if p.key == retraction["id"]] == ["withdrawal"]
    assert hma.deleted == {1}
    detail = await db.fetchval(
        "SELECT a.detail FROM delivery_attempts a JOIN deliveries d ON d.seq = a.delivery_seq "
        "WHERE d.message_id = $1 AND d.destination = 'hma'",
        uuid.UUID(retraction["id"]),
    )
    assert detail == "removed 1 contents from HMA (content ids 1)"

    # the evidence bundle: both deliveries of each message, each signed by the hub, naming its destination
    bundle = await export_bundle(
        db, uuid.UUID(case_id), hub_id=settings.hub_id, now=utc_now(), keyring=client.app[KEYRING]
    )
    report = verify_bundle(bundle, trust_from_keys([client.app[HUB_KEY].public()], "the hub's key"))
    assert report.ok, report.faults
    assert report.checked.get("delivery evidences") == 4
    files = zipfile.ZipFile(io.BytesIO(bundle))
    names = {n for n in files.namelist() if n.startswith("deliveries/")}
    for message_id in (request["id"], retraction["id"]):
        assert f"deliveries/{message_id}-{PLATFORM}.evidence.jws" in names
        banked = json.loads(
            parse_jws(files.read(f"deliveries/{message_id}-{PLATFORM}+hma.evidence.jws").decode()).payload
        )
        assert (banked["recipient"], banked["destination"]) == (PLATFORM, "hma")
        told = json.loads(
            parse_jws(files.read(f"deliveries/{message_id}-{PLATFORM}.evidence.jws").decode()).payload
        )
        assert "destination" not in told


async def _delivered(db: asyncpg.Connection, message_id: str, destination: str) -> bool:
    return (await deliveries_of(db, message_id)).get(destination) == "delivered"


async def _all_delivered(db: asyncpg.Connection, message_id: str) -> bool:
    states = await deliveries_of(db, message_id)
    return states == {"": "delivered", "hma": "delivered"}


async def test_the_operator_cannot_add_a_destination_unseen(
    hma: Hma,
    receiver: Receiver,
    settings: Settings,
    db: asyncpg.Connection,
    aiohttp_client: Any,
    tmp_path: Path,
) -> None:
    """A destination signed by any key but the platform's own is refused by the command line, and one
    written straight into the database is what the platform's monitor reports."""
    platform = await add_with_endpoint(db, PLATFORM, endpoint=receiver.url)
    operators_key = PrivateSigningJwk.generate("operator-key")
    code, out, err = await operator(
        settings,
        tmp_path,
        "add-destination",
        PLATFORM,
        "--binding",
        str(signed_destination(operators_key, settings, hma_destination(hma), tmp_path)),
    )
    assert code == 1
    assert out == ""
    assert err.strip().startswith("hub: error: binding refused:")
    assert len(err.strip().splitlines()) == 1
    assert await db.fetchval("SELECT count(*) FROM participant_destinations") == 0

    client = await aiohttp_client(create_app(settings, background=False))

    async def problems() -> list[str]:
        response = await client.get("/v1/directory/self", headers=platform.auth())
        assert response.status == 200, await response.text()
        return entry_problems(PLATFORM, settings.hub_id, await response.json(), {})

    assert await problems() == []
    # the operator, holding the database, binds a copy of a genuine binding to another HMA
    genuine = signed_destination(platform.key, settings, hma_destination(hma), tmp_path)
    await db.execute(
        "INSERT INTO participant_destinations (participant_id, name, adapter, endpoint, adapter_config, "
        "binding, bound_at, added_at) VALUES ($1, 'hma', 'hma', NULL, $2, $3, now(), now())",
        PLATFORM,
        {"url": "http://127.0.0.1:9", **HMA_CONFIG},
        genuine.read_text("utf-8").strip(),
    )
    assert await problems() == ["destination hma is not the one you signed"]
    await db.execute("UPDATE participant_destinations SET binding = 'x.y.z'")
    [problem] = await problems()
    assert problem.startswith("destination hma is listed but you did not sign it")


async def test_a_destination_removed_takes_no_more_and_its_rules(
    hma: Hma,
    receiver: Receiver,
    settings: Settings,
    db: asyncpg.Connection,
    directory: Any,
    aiohttp_client: Any,
    tmp_path: Path,
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await add_with_endpoint(db, PLATFORM, endpoint=receiver.url)
    binding = signed_destination(platform.key, settings, hma_destination(hma), tmp_path)
    assert (await operator(settings, tmp_path, "add-destination", PLATFORM, "--binding", str(binding)))[
        0
    ] == 0
    # a second destination of the same adapter, or one that does not push, is refused
    for document, why in (
        (
            destination_document("bank2", None, "hma", {"url": hma.url, **HMA_CONFIG}),
            "already has a destination",
        ),
        (destination_document("inbox", None, "pull", {}), "cannot be a further destination"),
    ):
        path = signed_destination(platform.key, settings, document, tmp_path)
        code, _, err = await operator(settings, tmp_path, "add-destination", PLATFORM, "--binding", str(path))
        assert code == 1, err
        assert why in err, err

    client = await aiohttp_client(create_app(settings, background=False))
    request = takedown(
        hotline,
        platform,
        content=[{"url": "https://photos.example.com/p/1", "hashes": [{"alg": "pdq", "value": PDQ}]}],
    )
    await submit(client, hotline, request)
    code, out, err = await operator(settings, tmp_path, "remove-destination", PLATFORM, "hma")
    assert code == 1
    assert "--reason" in err
    code, out, err = await operator(
        settings, tmp_path, "remove-destination", PLATFORM, "hma", "--reason", "platform asked by phone"
    )
    assert code == 0, err
    assert json.loads(out)["stopped_deliveries"] == 1
    assert await deliveries_of(db, request["id"]) == {"": "pending", "hma": "dead"}
    entry = await db.fetchrow(
        "SELECT actor, detail FROM audit_entries WHERE event = 'destination.removed' AND subject = $1",
        PLATFORM,
    )
    assert entry["actor"] == "operator"
    assert entry["detail"]["reason"] == "platform asked by phone"
    # later referrals go to the webhook alone; an old binding cannot bring the bank back
    later = takedown(
        hotline,
        platform,
        content=[{"url": "https://photos.example.com/p/2", "hashes": [{"alg": "pdq", "value": PDQ}]}],
    )
    await submit(client, hotline, later)
    assert await deliveries_of(db, later["id"]) == {"": "pending"}
    code, _, err = await operator(settings, tmp_path, "add-destination", PLATFORM, "--binding", str(binding))
    assert code == 1, err
    assert "since this binding was signed" in err, err
    # the platform's own removal, signed, is refused once there is nothing to remove
    removal = bind_destination_removal(
        platform.key,
        participant_id=PLATFORM,
        hub_id=settings.hub_id,
        name="hma",
        issued_at=int(utc_now().timestamp()) + 1,
    )
    path = tmp_path / "removal.binding"
    path.write_text(removal, "utf-8")
    code, _, err = await operator(
        settings, tmp_path, "remove-destination", PLATFORM, "hma", "--binding", str(path)
    )
    assert code == 1, err
    assert "no destination 'hma'" in err, err


async def test_a_reset_removes_the_destinations_the_old_identity_bound(
    hma: Hma, receiver: Receiver, settings: Settings, db: asyncpg.Connection, tmp_path: Path
) -> None:
    platform = await add_with_endpoint(db, PLATFORM, endpoint=receiver.url)
    binding = signed_destination(platform.key, settings, hma_destination(hma), tmp_path)
    assert (await operator(settings, tmp_path, "add-destination", PLATFORM, "--binding", str(binding)))[
        0
    ] == 0
    new_key = PrivateSigningJwk.generate("ie-platform-test-after-reset")
    await directory_store.reset_participant(
        db, participant_id=PLATFORM, jwk=new_key.public().to_dict(), reason="keys lost", at=utc_now()
    )
    assert await db.fetchval("SELECT count(*) FROM participant_destinations WHERE removed_at IS NULL") == 0
    detail = await db.fetchval("SELECT detail FROM audit_entries WHERE event = 'participant.reset'")
    assert detail["destinations_removed"] == ["hma"]


async def test_a_further_hma_gets_the_opted_in_hashes_through_the_sweep_and_no_url(
    hma: Hma,
    receiver: Receiver,
    settings: Settings,
    db: asyncpg.Connection,
    directory: Any,
    aiohttp_client: Any,
    tmp_path: Path,
) -> None:
    """A platform on a webhook that opted in to others' hashes: the bank sweep banks them into its
    further HMA destination (the note naming no request, no URL anywhere) and removes them on withdrawal;
    its webhook gets nothing of a request not addressed to it."""
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    addressed = await directory.add("fr-platform-test", "platform", "FR")
    opted = await add_with_endpoint(db, PLATFORM, endpoint=receiver.url)
    binding = signed_destination(opted.key, settings, hma_destination(hma), tmp_path)
    assert (await operator(settings, tmp_path, "add-destination", PLATFORM, "--binding", str(binding)))[
        0
    ] == 0
    await db.execute("UPDATE participants SET hash_signals = true WHERE id = $1", PLATFORM)
    client = await aiohttp_client(create_app(settings, background=False))
    url = "https://photos.example.com/p/opted-in-marker"
    content = [{"url": url, "hashes": [{"alg": "pdq", "value": PDQ}, {"alg": "md5", "value": MD5}]}]
    request = takedown(hotline, addressed, content=content, hash_sharing_consent=True)
    case_id = await submit(client, hotline, request)
    assert await db.fetchval("SELECT count(*) FROM deliveries WHERE recipient_id = $1", PLATFORM) == 0
    async with aiohttp.ClientSession() as session:
        context = adapter_context(client.app, session)
        assert await sweep_banks(client.app[POOL], context) == (1, 0)
        assert hma.banked == [
            {"signals": {"pdq": PDQ, "video_md5": MD5}, "note": "referral-hub: opted-in hash signal"}
        ]
        assert url not in json.dumps(hma.banked)
        await submit(client, hotline, withdrawal(hotline, [addressed], case_id, request["id"]))
        assert await sweep_banks(client.app[POOL], context) == (0, 1)
    assert hma.deleted == {1}
    assert receiver.posts == []


def test_the_monitor_reports_a_destination_added_changed_or_gone_since_the_last_check() -> None:
    """`hub keys monitor --state` and the console's "Your keys" remember the destinations they saw."""
    from hub.core.own_entry import seen_state

    key = PrivateSigningJwk.generate("ie-platform-test-sig")
    jwk = key.public().to_dict() | {"origin": "registration", "epoch": 0, "binding": None, "status": "active"}
    document = destination_document("hma", None, "hma", {"url": "http://hma.internal:5000", **HMA_CONFIG})
    signed = bind_destination(
        key, participant_id=PLATFORM, hub_id="test-hub", destination=document, issued_at=1
    )
    bare = {"jwks": {"keys": [jwk]}, "delivery": {}, "destinations": []}
    with_bank = bare | {"destinations": [document | {"binding": signed}]}
    before = seen_state(PLATFORM, "test-hub", bare)
    assert entry_problems(PLATFORM, "test-hub", bare, before) == []
    assert entry_problems(PLATFORM, "test-hub", with_bank, {}) == []  # signed by its own key
    assert entry_problems(PLATFORM, "test-hub", with_bank, before) == [
        "destination hma changed since the last check"
    ]
    after = seen_state(PLATFORM, "test-hub", with_bank)
    assert entry_problems(PLATFORM, "test-hub", with_bank, after) == []
    assert entry_problems(PLATFORM, "test-hub", bare, after) == [
        "destination hma changed since the last check"
    ]


async def test_the_platform_publishes_its_destination_itself_and_no_one_else_can(
    hma: Hma,
    receiver: Receiver,
    settings: Settings,
    db: asyncpg.Connection,
    directory: Any,
    aiohttp_client: Any,
) -> None:
    """`POST /v1/directory/bindings` (what `hub keys bind --hub URL` calls) with the platform's own token;
    another participant passing it on is refused, and so is moving the own delivery onto a destination's
    adapter."""
    platform = await add_with_endpoint(db, PLATFORM, endpoint=receiver.url)
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    client = await aiohttp_client(create_app(settings, background=False))
    now = int(utc_now().timestamp())
    text = bind_destination(
        platform.key,
        participant_id=PLATFORM,
        hub_id=settings.hub_id,
        destination=hma_destination(hma),
        issued_at=now,
    )
    refused = await client.post("/v1/directory/bindings", json={"binding": text}, headers=hotline.auth())
    assert refused.status == 403, await refused.text()
    assert (await refused.json())["type"].endswith("binding-not-yours")
    published = await client.post("/v1/directory/bindings", json={"binding": text}, headers=platform.auth())
    assert published.status == 201, await published.text()
    assert (await published.json())["operation"] == "add-destination"
    entry = await (await client.get("/v1/directory/self", headers=platform.auth())).json()
    assert [(d["name"], d["adapter"], d["binding"]) for d in entry["destinations"]] == [("hma", "hma", text)]
    move = bind_delivery(
        platform.key,
        participant_id=PLATFORM,
        hub_id=settings.hub_id,
        delivery=delivery_document(None, "hma", {"url": hma.url, **HMA_CONFIG}),
        issued_at=now,
    )
    conflict = await client.post("/v1/directory/bindings", json={"binding": move}, headers=platform.auth())
    assert conflict.status == 409, await conflict.text()
    assert "one destination per adapter" in (await conflict.json())["detail"]
