"""Issue 20 (federation), first slice: a peer hub is a participant of kind `hub` (docs/federation.md,
section 1), registered by the operator with its hub key, after the fingerprint check, and its endpoint."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from hub.api.app import create_app
from hub.core.binding import fingerprint
from hub.core.hub_identity import HubIdentity
from hub.core.jose import PrivateSigningJwk, PublicJwk, sign_compact
from hub.core.refusal import Refusal
from hub.core.vouching_feed import ENTRY_MEMBERS, FEED_TYPE, FeedError, sign_feed, verify_feed
from hub.services import vouching
from hub.settings import Settings
from hub.store import directory
from hub.store.database import connect
from tests.conftest import with_database
from tests.factories import Directory, Member, takedown
from tests.test_cli import assert_ok, assert_refused, generate_public, hub, hub_env


async def test_the_operator_registers_a_peer_hub_with_its_key_and_endpoint(
    database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    pub, public = await generate_public(tmp_path, "hub-b", "--kid", "hub-b-key-1")
    run = await hub(
        *f"participants add hub-b.example.eu --name HubB --kind hub --country IE --jwk {pub}".split(),
        "--endpoint=https://hub-b.example.eu",
        f"--fingerprint={fingerprint(PublicJwk.from_dict(public))}",
        env=hub_env(tmp_path, database_url),
    )
    assert_ok(run)
    row = await db.fetchrow(
        "SELECT kind, endpoint, adapter, accepts FROM participants WHERE id = 'hub-b.example.eu'"
    )
    assert dict(row) == {
        "kind": "hub",
        "endpoint": "https://hub-b.example.eu",
        "adapter": "pull",  # forwarding goes to the peer's participants, not to the peer itself
        "accepts": [],
    }
    key = await db.fetchrow(
        "SELECT kid, use, origin FROM participant_keys WHERE participant_id = 'hub-b.example.eu'"
    )
    assert dict(key) == {"kid": "hub-b-key-1", "use": "sig", "origin": "registration"}


async def test_a_peer_hub_without_an_endpoint_or_with_an_adapter_is_refused(
    database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    pub, public = await generate_public(tmp_path, "hub-c")
    base = f"participants add hub-c.example.au --name HubC --kind hub --country AU --jwk {pub}".split()
    checked = f"--fingerprint={fingerprint(PublicJwk.from_dict(public))}"
    env = hub_env(tmp_path, database_url)
    assert_refused(await hub(*base, checked, env=env), "endpoint")
    assert_refused(
        await hub(*base, checked, "--endpoint=https://hub-c.example.au", "--adapter=webhook", env=env),
        "no --adapter",
    )
    assert await db.fetchval("SELECT count(*) FROM participants WHERE id = 'hub-c.example.au'") == 0


# --- The vouching feed (docs/federation.md, section 3), between two hubs with a database each ----------


@pytest_asyncio.fixture
async def peer_db(server_dsn: str, template_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """The second hub's own database: another clone of the migrated template."""
    name = f"hub_peer_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_dsn}"')
        async with connect(with_database(server_dsn, name)) as conn:
            yield conn
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


HUB_A = "hub-a.example.de"


async def register_peer(conn: asyncpg.Connection, peer: HubIdentity) -> None:
    await directory.add_participant(
        conn,
        participant_id=peer.hub_id,
        name="Peer hub",
        kind="hub",
        country="DE",
        endpoint=f"https://{peer.hub_id}",
        accepts=[],
        adapter="pull",
    )
    await directory.add_key(conn, participant_id=peer.hub_id, jwk=peer.public_jwk())


async def test_a_peer_takes_the_feed_of_the_participants_a_hub_vouches_for(
    db: asyncpg.Connection, peer_db: asyncpg.Connection
) -> None:
    hub_a = HubIdentity(HUB_A, PrivateSigningJwk.generate("hub-a-key"))
    await directory.ensure_hub_participant(db, HUB_A, hub_a.public_jwk())
    hotline = await Directory(db).add("de-hotline", "hotline", "DE")
    # a key the operator slipped in without the hotline's binding: not vouched for
    await db.execute(
        "INSERT INTO participant_keys (kid, participant_id, use, jwk) VALUES ($1, $2, 'sig', $3)",
        "slipped-in",
        "de-hotline",
        PrivateSigningJwk.generate("slipped-in").public().to_dict(),
    )
    await register_peer(peer_db, hub_a)

    feed = await vouching.peer_feed(
        peer_db, HUB_A, await vouching.own_feed(db, hub_a, issued_at=1_796_400_000)
    )

    assert feed.issuer == HUB_A
    assert feed.issued_at == 1_796_400_000
    assert [p["id"] for p in feed.participants] == ["de-hotline"]  # not the hub itself
    (entry,) = feed.participants
    assert (entry["kind"], entry["country"]) == ("hotline", "DE")
    assert sorted(k["jwk"]["kid"] for k in entry["keys"]) == sorted([hotline.key.kid, hotline.enc.kid])
    assert {k["origin"] for k in entry["keys"]} == {"registration", "binding"}


async def test_a_feed_not_signed_by_the_registered_peer_is_refused(
    db: asyncpg.Connection, peer_db: asyncpg.Connection
) -> None:
    hub_a = HubIdentity(HUB_A, PrivateSigningJwk.generate("hub-a-key"))
    impostor = HubIdentity(HUB_A, PrivateSigningJwk.generate("impostor-key"))
    await Directory(db).add("de-hotline", "hotline", "DE")
    await register_peer(peer_db, hub_a)

    forged = await vouching.own_feed(db, impostor, issued_at=1_796_400_000)
    with pytest.raises(FeedError, match="no key of"):
        await vouching.peer_feed(peer_db, HUB_A, forged)
    genuine = await vouching.own_feed(db, hub_a, issued_at=1_796_400_000)
    with pytest.raises(FeedError, match="not a registered peer"):
        await vouching.peer_feed(peer_db, "hub-c.example.au", genuine)
    with pytest.raises(FeedError, match="not issued by"):
        verify_feed(genuine, "hub-c.example.au", [hub_a.key.public()])
    claims = {"iss": HUB_A, "iat": 1, "participants": [{m: "x" for m in ENTRY_MEMBERS} | {"id": "p@hub-c"}]}
    third = sign_compact(json.dumps(claims).encode(), hub_a.key, {"typ": FEED_TYPE})
    with pytest.raises(FeedError, match="only for its own"):
        verify_feed(third, HUB_A, [hub_a.key.public()])


async def test_a_peer_fetches_the_feed_from_the_hub_and_checks_it(
    aiohttp_client: Any, settings: Settings, db: asyncpg.Connection, peer_db: asyncpg.Connection
) -> None:
    client = await aiohttp_client(create_app(settings, background=False))
    await Directory(db).add("de-hotline", "hotline", "DE")
    (hub_key,) = (await (await client.get("/.well-known/jwks.json")).json())["keys"]
    await directory.add_participant(
        peer_db,
        participant_id=settings.hub_id,
        name="Peer hub",
        kind="hub",
        country="DE",
        endpoint="https://hub-a.example.de",
        accepts=[],
    )
    await directory.add_key(peer_db, participant_id=settings.hub_id, jwk=hub_key)

    response = await client.get("/v1/federation/participants")
    assert response.status == 200
    assert response.content_type == "application/jose"
    feed = await vouching.peer_feed(peer_db, settings.hub_id, await response.text())
    assert [p["id"] for p in feed.participants] == ["de-hotline"]


async def test_a_peer_mirrors_the_feed_and_revokes_what_it_no_longer_lists(
    db: asyncpg.Connection, peer_db: asyncpg.Connection
) -> None:
    hub_a = HubIdentity(HUB_A, PrivateSigningJwk.generate("hub-a-key"))
    hotline = await Directory(db).add("de-hotline", "hotline", "DE")
    await register_peer(peer_db, hub_a)
    feed = await vouching.peer_feed(
        peer_db, HUB_A, await vouching.own_feed(db, hub_a, issued_at=1_796_400_000)
    )

    assert await vouching.mirror_feed(peer_db, feed, datetime.now(UTC)) == ["de-hotline@hub-a.example.de"]
    mirrored = await directory.get_participant(peer_db, "de-hotline@hub-a.example.de")
    assert mirrored is not None
    assert (mirrored.kind, mirrored.country) == ("hotline", "DE")
    home = await peer_db.fetchval(
        "SELECT home_hub FROM participants WHERE id = 'de-hotline@hub-a.example.de'"
    )
    assert home == HUB_A
    keys = await directory.keys_of(peer_db, "de-hotline@hub-a.example.de")
    assert sorted(k.kid for k in keys) == sorted([hotline.key.kid, hotline.enc.kid])
    assert {k.origin for k in keys} == {"feed"}
    # mirroring again changes nothing; a feed that no longer lists it revokes every key
    await vouching.mirror_feed(peer_db, feed, datetime.now(UTC))
    assert len(await directory.keys_of(peer_db, "de-hotline@hub-a.example.de")) == 2
    empty = await vouching.peer_feed(
        peer_db, HUB_A, sign_feed(hub_a.key, hub_id=HUB_A, issued_at=2, participants=[])
    )
    assert await vouching.mirror_feed(peer_db, empty, datetime.now(UTC)) == []
    keys = await directory.keys_of(peer_db, "de-hotline@hub-a.example.de")
    assert all(k.revocation_reason == "no longer in its home hub's feed" for k in keys)
    # the peer's feed never vouches for a participant it only mirrors
    hub_b = HubIdentity("hub-b.example.eu", PrivateSigningJwk.generate("hub-b-key"))
    own = verify_feed(await vouching.own_feed(peer_db, hub_b, 3), hub_b.hub_id, [hub_b.key.public()])
    assert own.participants == ()


async def test_a_forwarded_message_from_a_sender_the_peer_does_not_vouch_for_is_refused(
    db: asyncpg.Connection, peer_db: asyncpg.Connection
) -> None:
    """docs/federation.md section 4, checks 3 and 4: B takes a sender only as its peer A vouches for it."""
    hub_a = HubIdentity(HUB_A, PrivateSigningJwk.generate("hub-a-key"))
    members = Directory(db)
    hotline = await members.add("de-hotline", "hotline", "DE")
    platform = await members.add("ie-platform", "platform", "IE")  # stands in for the recipient on B
    await register_peer(peer_db, hub_a)
    feed = await vouching.peer_feed(
        peer_db, HUB_A, await vouching.own_feed(db, hub_a, issued_at=1_796_400_000)
    )
    await vouching.mirror_feed(peer_db, feed, datetime.now(UTC))
    now = datetime.now(UTC)

    genuine = hotline.sign(takedown(hotline, platform)).encode()
    assert await vouching.vouched_sender(peer_db, HUB_A, genuine, now) == "de-hotline@hub-a.example.de"

    impostor = PrivateSigningJwk.generate("impostor")
    unknown = Member("fr-hotline", "hotline", "FR", impostor, hotline.enc)
    third_hub = Member("de-hotline@hub-c.example.au", "hotline", "AU", hotline.key, hotline.enc)
    forged = {
        "a key the peer never vouched for": hotline.sign(takedown(hotline, platform), impostor),
        "a sender the peer does not list": unknown.sign(takedown(unknown, platform)),
        "a participant of a third hub": third_hub.sign(takedown(third_hub, platform)),
    }
    for case, signed in forged.items():
        with pytest.raises(Refusal) as refused:
            await vouching.vouched_sender(peer_db, HUB_A, signed.encode(), now)
        assert refused.value.code == "sender-not-vouched", case
