"""Forward-only migrations with a version table, under an advisory lock; a newer database is refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from hub.core.jose import PrivateSigningJwk
from hub.store.database import connect
from hub.store.directory import ensure_hub_participant
from hub.store.migrate import DatabaseTooNewError, current_version, latest_version, load_migrations, migrate
from tests.conftest import with_database


@pytest_asyncio.fixture
async def empty_database(server_dsn: str) -> AsyncIterator[str]:
    name = f"hub_empty_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_dsn, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def test_migrations_are_numbered_from_one() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert latest_version() == len(versions) >= 1


async def test_migrate_applies_everything_once(empty_database: str) -> None:
    async with connect(empty_database) as conn:
        assert await current_version(conn) == 0
        assert await migrate(conn) == list(range(1, latest_version() + 1))
        assert await migrate(conn) == []
        rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in load_migrations()]
        assert await conn.fetchval("SELECT to_regclass('public.messages') IS NOT NULL")


async def test_concurrent_migrations_serialise_on_the_lock(empty_database: str) -> None:
    async def run() -> list[int]:
        async with connect(empty_database) as conn:
            return await migrate(conn)

    results = await asyncio.gather(*(run() for _ in range(4)))
    assert sorted(results, key=len) == [[], [], [], list(range(1, latest_version() + 1))]


async def test_hub_processes_starting_together_register_the_hub_once(empty_database: str) -> None:
    """Two replicas starting at once on a new database: both migrate and register the hub (as `hub
    serve` does at start), and neither fails on the other's insert."""
    key = PrivateSigningJwk.generate("hub-sig").public().to_dict()

    async def start() -> None:
        async with connect(empty_database) as conn:
            await migrate(conn)
            await ensure_hub_participant(conn, "replicated-hub", key)

    await asyncio.gather(*(start() for _ in range(4)))
    async with connect(empty_database) as conn:
        assert await conn.fetchval("SELECT count(*) FROM participants WHERE kind = 'hub'") == 1
        assert await conn.fetchval("SELECT count(*) FROM participant_keys WHERE kid = 'hub-sig'") == 1


async def test_a_database_newer_than_the_code_is_refused(db: asyncpg.Connection) -> None:
    await db.execute(
        "INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_the_future')", latest_version() + 1
    )
    with pytest.raises(DatabaseTooNewError, match="upgrade the hub"):
        await migrate(db)
    assert await db.fetchval("SELECT count(*) FROM schema_migrations") == latest_version() + 1


async def test_template_clone_is_migrated(db: asyncpg.Connection) -> None:
    assert await current_version(db) == latest_version()
