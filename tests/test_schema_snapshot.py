"""hub/store/schema.sql is what the migrations build: regenerate it when this fails (its header says how)."""

from __future__ import annotations

from importlib import resources

import asyncpg

from hub.store.snapshot import dump_schema


async def test_the_migrations_build_the_schema_snapshot(db: asyncpg.Connection) -> None:
    snapshot = resources.files("hub.store").joinpath("schema.sql").read_text("utf-8")
    assert await dump_schema(db) == snapshot, (
        "hub/store/schema.sql is stale: python -m hub.store.snapshot > hub/store/schema.sql"
    )


async def test_the_snapshot_shows_what_a_migration_adds(db: asyncpg.Connection) -> None:
    before = await dump_schema(db)
    await db.execute("ALTER TABLE cases ADD COLUMN snapshot_probe text")
    await db.execute("CREATE INDEX snapshot_probe_idx ON cases (snapshot_probe)")
    after = await dump_schema(db)
    assert "snapshot_probe text" not in before
    assert "    snapshot_probe text" in after
    assert "CREATE INDEX snapshot_probe_idx ON public.cases USING btree (snapshot_probe);" in after
