"""Test fixtures on a real PostgreSQL.

The server is the embedded one (a throwaway data directory per run) or the one `HUB_TEST_DATABASE_URL`
names. A template database is migrated once per run; every test gets a database that holds exactly what
the template holds: a clone of it (`CREATE DATABASE ... TEMPLATE`), or the previous test's database once
checked to have the template's schema and emptied (`tests/databases.py`), so tests never see each other's
rows and never mock the database.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from hub.core.templates import TemplateCatalog
from hub.schemas import load_catalog
from hub.settings import Settings
from hub.store.database import connect
from hub.store.embedded import start_embedded_postgres
from hub.store.migrate import migrate
from tests.databases import Clones, Template, with_database
from tests.factories import Directory


@pytest.fixture(scope="session")
def server_dsn() -> Iterator[str]:
    configured = os.environ.get("HUB_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    with tempfile.TemporaryDirectory(prefix="hub-test-pg-") as tmp:
        embedded = start_embedded_postgres(Path(tmp) / "postgres", cleanup="delete")
        try:
            asyncio.run(_throwaway_settings(embedded.dsn()))
            yield embedded.dsn()
        finally:
            embedded.stop()


async def _throwaway_settings(dsn: str) -> None:
    """The tests' own embedded server is deleted after the run: it need not survive a power cut, so it
    neither syncs to disk nor waits for it (every test clones and drops a database; a server named by
    HUB_TEST_DATABASE_URL is left as it is)."""
    admin = await asyncpg.connect(dsn)
    try:
        for setting in ("fsync = off", "synchronous_commit = off", "full_page_writes = off"):
            await admin.execute(f"ALTER SYSTEM SET {setting}")
        await admin.execute("SELECT pg_reload_conf()")
    finally:
        await admin.close()


@pytest_asyncio.fixture(scope="session")
async def template_dsn(server_dsn: str) -> AsyncIterator[str]:
    name = f"hub_template_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        async with connect(with_database(server_dsn, name)) as conn:
            await migrate(conn)
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest_asyncio.fixture(scope="session")
async def clones(server_dsn: str, template_dsn: str) -> AsyncIterator[Clones]:
    async with connect(with_database(server_dsn, template_dsn)) as conn:
        template = await Template.read(template_dsn, conn)
    admin = await asyncpg.connect(server_dsn)
    clones = Clones(server_dsn=server_dsn, admin=admin, template=template)
    try:
        yield clones
    finally:
        await clones.close()


@pytest_asyncio.fixture
async def database_url(server_dsn: str, clones: Clones) -> AsyncIterator[str]:
    name = await clones.take()
    yield with_database(server_dsn, name)
    await clones.give_back(name)


@pytest_asyncio.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    async with connect(database_url) as conn:
        yield conn


@pytest.fixture(scope="session")
def catalog() -> TemplateCatalog:
    return load_catalog()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        hub_id="test-hub",
        host="127.0.0.1",
        port=0,
        signing_key_file=tmp_path / "hub-signing-key.jwk",
        max_body_bytes=64 * 1024,
        log_level="warning",
    )


@pytest_asyncio.fixture
async def directory(db: asyncpg.Connection) -> Directory:
    return Directory(db)


async def table_counts(conn: asyncpg.Connection) -> dict[str, Any]:
    """Row counts of every table that a message, an inbox read or a share could write to."""
    tables = ("cases", "messages", "case_parties", "deliveries", "case_events")
    return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in tables}


@pytest.fixture(autouse=True)
def own_trust_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's clients pin peers in a trust store of its own (`hub.client.trust_store`), never in
    the user's: the test hubs of one run share ids and participants but not keys. XDG_STATE_HOME too,
    for the commands a test runs in an environment without HUB_* variables."""
    path = tmp_path / "trust-store.json"
    monkeypatch.setenv("HUB_TRUST_STORE", str(path))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return path
