"""The schema the migrations build, written out for reading: `hub/store/schema.sql`.

Reading ten migrations in order to learn what a table looks like today is slow and error-prone, so the
result is kept next to them and a test (tests/test_schema_snapshot.py) fails when the two disagree.
The dump comes from the catalog, not from `pg_dump`, so it does not depend on the client's version:
tables with their columns in order, constraints and indexes by name, `NOT NULL` as a column property
(PostgreSQL 18 also records it as a constraint; that is left out so 15 and 18 agree).

Regenerate it after adding or changing a migration:

    python -m hub.store.snapshot > hub/store/schema.sql

It migrates a throwaway database on the server `HUB_TEST_DATABASE_URL` names (a superuser URL), or on a
throwaway embedded PostgreSQL when that is unset, and drops it afterwards.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from hub.store.database import Conn, connect
from hub.store.embedded import start_embedded_postgres
from hub.store.migrate import current_version, migrate

HEADER = """\
-- The schema hub/store/migrations/ build, for reading; the migrations stay the only thing applied.
-- Generated; do not edit. After adding or changing a migration, regenerate it with
--   python -m hub.store.snapshot > hub/store/schema.sql
-- (on the server HUB_TEST_DATABASE_URL names, else on an embedded PostgreSQL); a test compares the two.
"""

_COLUMNS = """
SELECT c.relname AS table, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null, a.attidentity::text AS identity, a.attgenerated::text AS generated,
       pg_get_expr(d.adbin, d.adrelid) AS default
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY c.relname, a.attnum
"""
_CONSTRAINTS = """
SELECT c.relname AS table, k.conname AS name, pg_get_constraintdef(k.oid) AS definition
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND k.contype <> 'n'
ORDER BY c.relname, k.contype = 'p' DESC, k.conname
"""
_INDEXES = """
SELECT t.relname AS table, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = t.oid)
ORDER BY t.relname, ic.relname
"""
_OTHERS = """
SELECT kind, name FROM (
  SELECT 'view' AS kind, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')
  UNION ALL
  SELECT 'function', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' FROM pg_proc p
   JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
  UNION ALL
  SELECT 'trigger', t.tgname || ' ON ' || c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
   JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND NOT t.tgisinternal
  UNION ALL
  SELECT 'type', t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
   WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c')
     AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')
) AS o ORDER BY kind, name
"""


async def dump_schema(conn: Conn) -> str:
    """The migrated schema of `conn`'s database as SQL text, the same for the same migrations."""
    columns = await conn.fetch(_COLUMNS)
    constraints = await conn.fetch(_CONSTRAINTS)
    indexes = await conn.fetch(_INDEXES)
    others = await conn.fetch(_OTHERS)
    lines = [HEADER, f"-- schema version {await current_version(conn)}", ""]
    for table in sorted({r["table"] for r in columns}):
        body = [f"    {_column(r)}" for r in columns if r["table"] == table]
        body += [f"    CONSTRAINT {r['name']} {r['definition']}" for r in constraints if r["table"] == table]
        lines.append(f"CREATE TABLE {table} (")
        lines.append(",\n".join(body))
        lines.append(");")
        lines += [f"{r['definition']};" for r in indexes if r["table"] == table]
        lines.append("")
    for row in others:  # none today; listed so that a migration adding one shows up here
        lines.append(f"-- {row['kind']} {row['name']}")
    return "\n".join(lines).rstrip("\n") + "\n"


def _column(row: asyncpg.Record) -> str:
    words = [row["name"], row["type"]]
    if row["identity"]:
        words.append("GENERATED " + ("ALWAYS" if row["identity"] == "a" else "BY DEFAULT") + " AS IDENTITY")
    elif row["generated"]:
        words.append(f"GENERATED ALWAYS AS ({row['default']}) STORED")
    elif row["default"] is not None:
        words.append(f"DEFAULT {row['default']}")
    if row["not_null"]:
        words.append("NOT NULL")
    return " ".join(words)


async def snapshot_on(server_dsn: str) -> str:
    """Migrate a throwaway database on the server `server_dsn`, dump its schema, drop it."""
    name = f"hub_snapshot_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            async with connect(urlunsplit(urlsplit(server_dsn)._replace(path="/" + name))) as conn:
                await migrate(conn)
                return await dump_schema(conn)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def main() -> int:
    server = os.environ.get("HUB_TEST_DATABASE_URL")
    if server:
        sys.stdout.write(asyncio.run(snapshot_on(server)))
        return 0
    with tempfile.TemporaryDirectory(prefix="hub-snapshot-pg-") as tmp:
        embedded = start_embedded_postgres(Path(tmp) / "postgres", cleanup="delete")
        try:
            sys.stdout.write(asyncio.run(snapshot_on(embedded.dsn())))
        finally:
            embedded.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
