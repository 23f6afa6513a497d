"""Forward-only numbered migrations with a version table, applied under an advisory lock.

Migrations are `migrations/NNNN_name.sql`; each runs in its own transaction together with the row
that records it in `schema_migrations`, so a failed migration leaves no trace. Several hub processes
starting at once serialise on the advisory lock; the one that comes second finds nothing to do. A
database whose version is newer than the code's is refused: old code must not write to a schema it
does not know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from hub.store.database import Conn

# "hub:migrate" folded into a signed 64-bit key for pg_advisory_lock.
MIGRATION_LOCK_KEY = 0x6875623A6D6967

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class DatabaseTooNewError(Exception):
    """The database schema is newer than this code knows."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("hub.store").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


def latest_version() -> int:
    return len(load_migrations())


async def current_version(conn: Conn) -> int:
    exists = await conn.fetchval("SELECT to_regclass('public.schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))


async def migrate(conn: Conn) -> list[int]:
    """Apply every pending migration; return the versions applied."""
    migrations = load_migrations()
    applied: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        version = await current_version(conn)
        check_not_newer(version, len(migrations))
        for migration in migrations[version:]:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            applied.append(migration.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    return applied


def check_not_newer(database_version: int, code_version: int) -> None:
    if database_version > code_version:
        raise DatabaseTooNewError(
            f"the database schema is at version {database_version} but this hub knows only up to "
            f"{code_version}: upgrade the hub before running it against this database"
        )
