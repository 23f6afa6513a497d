"""Issue 20 (federation), first slice: a peer hub is a participant of kind `hub` (docs/federation.md,
section 1), registered by the operator with its hub key, after the fingerprint check, and its endpoint."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from hub.core.binding import fingerprint
from hub.core.jose import PublicJwk
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
