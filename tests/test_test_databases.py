"""The tests' databases (`tests/databases.py`): a database is handed to the next test only when it holds
what the template holds; one a test changed the schema of, or left rows in a filled table of, is dropped.

Each test uses a `Clones` of its own on the session's template, so the suite's own databases are not
touched."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from tests.databases import Clones, with_database


@pytest_asyncio.fixture
async def own(server_dsn: str, clones: Clones) -> AsyncIterator[Clones]:
    mine = Clones(server_dsn=server_dsn, admin=await asyncpg.connect(server_dsn), template=clones.template)
    try:
        yield mine
    finally:
        await mine.close()


async def open_db(clones: Clones, name: str) -> asyncpg.Connection:
    return await asyncpg.connect(with_database(clones.server_dsn, name))


async def exists(clones: Clones, name: str) -> bool:
    query = "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)"
    return bool(await clones.admin.fetchval(query, name))


async def test_rows_and_sequences_left_by_a_test_are_gone_in_the_next_database(own: Clones) -> None:
    first = await own.take()
    conn = await open_db(own, first)
    await conn.execute(
        "INSERT INTO participants (id, name, kind, country) VALUES ('de-hotline', 'A', 'hotline', 'DE')"
    )
    used = await conn.fetchval("SELECT nextval('audit_entries_id_seq')")
    await conn.close()
    await own.give_back(first)

    second = await own.take()
    assert (own.cloned, own.reused) == (1, 1)
    assert second != first
    assert not await exists(own, first)
    conn = await open_db(own, second)
    try:
        assert await conn.fetchval("SELECT count(*) FROM participants") == 0
        assert await conn.fetchval("SELECT nextval('audit_entries_id_seq')") == used
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") > 0
    finally:
        await conn.close()
        await own.give_back(second)


async def test_a_connection_left_open_is_ended_and_cannot_come_back(own: Clones) -> None:
    name = await own.take()
    left_open = await open_db(own, name)
    await own.give_back(name)
    assert (own.reused, len(own.free)) == (1, 1)
    assert left_open.is_closed() or not await _still_works(left_open)
    with pytest.raises(asyncpg.InvalidCatalogNameError):
        await open_db(own, name)


async def _still_works(conn: asyncpg.Connection) -> bool:
    try:
        await conn.fetchval("SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        return False
    return True


@pytest.mark.parametrize(
    "change",
    [
        "CREATE TABLE left_behind (id int)",
        "ALTER TABLE participants ADD COLUMN extra int",
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;"
        " CREATE TRIGGER refuse BEFORE INSERT ON participants FOR EACH ROW EXECUTE FUNCTION refuse()",
        "ALTER TABLE participants DISABLE TRIGGER ALL",
        "DROP INDEX audit_entries_case_idx",
        "CREATE INDEX extra ON participants (country)",
        "COMMENT ON TABLE participants IS 'changed'",
        "TRUNCATE participants CASCADE",
        "ALTER SEQUENCE audit_entries_id_seq INCREMENT BY 7",
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET work_mem = 1024', current_database()); END $$",
        "SELECT lo_create(0)",
        "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)",
        "UPDATE schema_migrations SET name = 'changed' WHERE version = 1",
    ],
    ids=lambda change: change.replace("$$ ", "")[:40],
)
async def test_a_database_whose_schema_or_filled_tables_changed_is_dropped(own: Clones, change: str) -> None:
    name = await own.take()
    conn = await open_db(own, name)
    await conn.execute(change)
    await conn.close()
    await own.give_back(name)
    assert (own.reused, own.dropped, own.free) == (0, 1, [])  # the next test gets a new clone
