"""The tamper-evident audit log: every change, deletion and reordering made directly in the database is
detected, and `hub audit verify` names the first fault."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hub.api.app import create_app
from hub.api.keys import HUB_KEY, POOL
from hub.cli.audit import checkpoint_reader
from hub.core.audit_verify import AuditReport, verify_log
from hub.core.clock import utc_now
from hub.store.audit import load_log, sequence_and_checkpoint
from tests.factories import acknowledgement, jose, removal, run_hub, takedown


async def run_story(client: Any, directory: Any) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    for _ in range(3):
        request = takedown(hotline, platform)
        receipt = await (await client.post("/v1/messages", **jose(hotline.sign(request)))).json()
        for answer in (
            acknowledgement(platform, hotline, receipt["case_id"], request["id"]),
            removal(platform, hotline, receipt["case_id"], request["id"]),
        ):
            assert (await client.post("/v1/messages", **jose(platform.sign(answer)))).status == 202


async def hub_cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    return await run_hub(*args, env=env)


async def verify(db: asyncpg.Connection, app: Any) -> AuditReport:
    entries, checkpoints, pending = await load_log(db)
    key = app[HUB_KEY].public()
    return verify_log(
        [dict(e.items()) for e in entries],
        [dict(c.items()) for c in checkpoints],
        checkpoint_reader({key.kid: key}),
        pending,
    )


@pytest.fixture
async def logged(aiohttp_client: Any, settings: Any, directory: Any, db: asyncpg.Connection) -> Any:
    app = create_app(settings, background=False)
    client = await aiohttp_client(app)
    await run_story(client, directory)
    await sequence_and_checkpoint(app[POOL], app[HUB_KEY], settings.hub_id, utc_now())
    report = await verify(db, app)
    assert report.ok, report.fault
    assert report.entries >= 20
    assert report.pending == 0
    assert report.verified_tree_size == report.entries
    return app


async def test_an_untouched_log_verifies_and_grows_across_checkpoints(
    logged: Any, db: asyncpg.Connection, settings: Any
) -> None:
    before = await verify(db, logged)
    await db.execute(
        "INSERT INTO audit_entries (recorded_at, event, actor) VALUES (now(), 'test.event', 'hub')"
    )
    assert (await verify(db, logged)).pending == 1
    await sequence_and_checkpoint(logged[POOL], logged[HUB_KEY], settings.hub_id, utc_now())
    after = await verify(db, logged)
    assert after.ok
    assert after.checkpoints == before.checkpoints + 1
    assert after.entries == before.entries + 1


async def test_a_changed_field_is_detected_at_its_entry(logged: Any, db: asyncpg.Connection) -> None:
    await db.execute("UPDATE audit_entries SET actor = 'someone-else' WHERE leaf_index = 5")
    report = await verify(db, logged)
    assert (report.fault.kind, report.fault.leaf_index) == ("changed", 5)


async def test_a_changed_detail_is_detected(logged: Any, db: asyncpg.Connection) -> None:
    await db.execute(
        'UPDATE audit_entries SET detail = detail || \'{"to_state": "declined"}\' WHERE leaf_index = 7'
    )
    assert (await verify(db, logged)).fault.kind == "changed"


async def test_a_deleted_entry_is_detected_where_it_was(logged: Any, db: asyncpg.Connection) -> None:
    await db.execute("DELETE FROM audit_entries WHERE leaf_index = 3")
    report = await verify(db, logged)
    assert (report.fault.kind, report.fault.leaf_index) == ("missing", 3)


async def test_reordered_entries_are_detected(logged: Any, db: asyncpg.Connection) -> None:
    await db.execute("""
        UPDATE audit_entries SET leaf_index = -1 WHERE leaf_index = 4;
        UPDATE audit_entries SET leaf_index = 4 WHERE leaf_index = 6;
        UPDATE audit_entries SET leaf_index = 6 WHERE leaf_index = -1;
    """)
    report = await verify(db, logged)
    assert (report.fault.kind, report.fault.leaf_index) == ("changed", 4)


async def test_a_change_hidden_by_recomputed_hashes_fails_the_signed_checkpoint(
    logged: Any, db: asyncpg.Connection
) -> None:
    from hub.core.audit import entry_leaf

    row = await db.fetchrow("SELECT * FROM audit_entries WHERE leaf_index = 2")
    forged = {**dict(row.items()), "actor": "someone-else"}
    await db.execute(
        "UPDATE audit_entries SET actor = 'someone-else', leaf_hash = $1 WHERE leaf_index = 2",
        entry_leaf(2, forged),
    )
    report = await verify(db, logged)
    assert report.fault.kind == "checkpoint"


async def test_entries_deleted_at_the_end_are_detected(logged: Any, db: asyncpg.Connection) -> None:
    await db.execute(
        "DELETE FROM audit_entries WHERE leaf_index >= (SELECT max(leaf_index) - 1 FROM audit_entries)"
    )
    assert (await verify(db, logged)).fault.kind == "truncated"


async def test_a_removed_or_forged_checkpoint_is_detected(
    logged: Any, db: asyncpg.Connection, settings: Any
) -> None:
    await db.execute(
        "INSERT INTO audit_entries (recorded_at, event, actor) VALUES (now(), 'test.event', 'hub')"
    )
    await sequence_and_checkpoint(logged[POOL], logged[HUB_KEY], settings.hub_id, utc_now())
    first = await db.fetchval("SELECT min(tree_size) FROM audit_checkpoints")
    await db.execute("DELETE FROM audit_checkpoints WHERE tree_size = $1", first)
    assert (await verify(db, logged)).fault.kind == "checkpoint"


async def test_hub_audit_verify_exits_1_naming_the_first_fault(
    logged: Any, db: asyncpg.Connection, database_url: str, settings: Any
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_DATABASE_URL=database_url,
        HUB_SIGNING_KEY_FILE=str(settings.signing_key_file),
        HUB_DATA_DIR=str(Path(settings.data_dir)),
    )
    code, out, err = await hub_cli(env, "audit", "verify")
    assert code == 0, err
    assert out.startswith("audit log verifies")
    await db.execute("UPDATE audit_entries SET event = 'case.closed' WHERE leaf_index = 1")
    code, _, err = await hub_cli(env, "audit", "verify")
    assert code == 1
    assert err.count("\n") == 1
    assert "entry 1" in err
    assert "Traceback" not in err


def cli_env(database_url: str, settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_DATABASE_URL=database_url,
        HUB_SIGNING_KEY_FILE=str(settings.signing_key_file),
        HUB_DATA_DIR=str(Path(settings.data_dir)),
    )
    return env


async def test_an_idle_hub_on_a_new_database_verifies(
    aiohttp_client: Any, settings: Any, database_url: str, db: asyncpg.Connection
) -> None:
    app = create_app(settings, background=False)
    await aiohttp_client(app)
    for _ in range(3):  # idle rounds of the sequencer: nothing to commit to, so nothing is signed
        await sequence_and_checkpoint(app[POOL], app[HUB_KEY], settings.hub_id, utc_now())
    assert await db.fetchval("SELECT count(*) FROM audit_checkpoints WHERE tree_size = 0") == 0
    code, out, err = await hub_cli(cli_env(database_url, settings), "audit", "verify")
    assert code == 0, err
    assert out.startswith("audit log verifies")


async def test_a_size_0_checkpoint_signed_by_an_earlier_hub_still_verifies(
    logged: Any, db: asyncpg.Connection
) -> None:
    from hub.core.audit import sign_checkpoint
    from hub.core.merkle import EMPTY_ROOT

    signed = sign_checkpoint(
        logged[HUB_KEY], hub_id="test-hub", tree_size=0, root=EMPTY_ROOT, signed_at=utc_now(), previous=None
    )
    first = await db.fetchval("SELECT min(tree_size) FROM audit_checkpoints")
    # the earlier hub's first real checkpoint followed the empty one: rebuild that chain
    await db.execute("DELETE FROM audit_checkpoints")
    await db.execute(
        "INSERT INTO audit_checkpoints (tree_size, root_hash, signed_at, checkpoint, frontier) "
        "VALUES (0, $1, now(), $2, '[]'::jsonb)",
        EMPTY_ROOT,
        signed,
    )
    assert first > 0
    await sequence_and_checkpoint(logged[POOL], logged[HUB_KEY], "test-hub", utc_now())
    assert (await verify(db, logged)).ok


async def test_a_graceful_stop_seals_and_checkpoints_the_last_entries(
    aiohttp_client: Any, settings: Any, directory: Any, db: asyncpg.Connection
) -> None:
    app = create_app(dataclasses.replace(settings, audit_interval=3600.0))  # never a round while running
    client = await aiohttp_client(app)
    await run_story(client, directory)
    assert await db.fetchval("SELECT count(*) FROM audit_entries WHERE leaf_index IS NULL") > 0
    await client.close()
    assert await db.fetchval("SELECT count(*) FROM audit_entries WHERE leaf_index IS NULL") == 0
    report = await verify(db, app)
    assert report.ok, report.fault
    assert report.verified_tree_size == report.entries


async def test_entries_left_pending_for_many_intervals_are_a_fault(
    logged: Any, db: asyncpg.Connection, database_url: str, settings: Any
) -> None:
    await db.execute(
        "INSERT INTO audit_entries (recorded_at, event, actor) "
        "VALUES (now() - interval '1 hour', 'test.event', 'hub')"
    )
    code, _, err = await hub_cli(cli_env(database_url, settings), "audit", "verify")
    assert code == 1
    assert "FAULT (stuck)" in err
    assert "1 entries" in err
