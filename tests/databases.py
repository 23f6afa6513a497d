"""The tests' databases: a clone of the migrated template for each test, emptied and reused when it can be.

Cloning (`CREATE DATABASE ... TEMPLATE`) costs a quarter of a second on a quiet machine and up to 0.7 s
under load; emptying a database a test has used costs a few milliseconds. So when a test ends, its
database is handed to the next test only if it provably holds nothing but what the template holds:

1. every other connection to it is ended, and it is renamed (a fresh name per test, as a clone would have;
   a process the test left behind cannot reach it under its old name, and the rename fails while anyone
   is still connected);
2. its *schema* is the template's: each catalog of the database (every table of `pg_catalog`, large
   objects included) has the same number of rows and no row newer than when it was cloned (any DDL, a
   TRUNCATE, a new trigger, a changed function, a refreshed view writes a catalog row), and its database
   options, prepared transactions and replication slots are as they were;
3. the tables the template fills (`schema_migrations`) hold exactly the template's rows;

then every other table is emptied (`DELETE`, with triggers and foreign keys off for the statement) and
every sequence set back to the template's value. If any check fails, or anything goes wrong, the database
is dropped and the next test gets a new clone. A test never sees another test's rows either way.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import asyncpg

# Every per-database catalog, as (name, row count, newest row's xmin), built by the server from its own
# list. Statistics are left out: ANALYZE rewrites them and they change no answer.
_CATALOG_PARTS = """
SELECT string_agg(
    format('SELECT %L AS part, count(*)::text AS n, max(xmin::text::bigint)::text AS x FROM pg_catalog.%I',
           relname, relname),
    ' UNION ALL ' ORDER BY relname)
FROM pg_catalog.pg_class
WHERE relnamespace = 'pg_catalog'::regnamespace AND relkind = 'r' AND NOT relisshared
  AND relname NOT IN ('pg_statistic', 'pg_statistic_ext_data')
"""
_DATABASE_PARTS = """
SELECT 'database', (SELECT row(datdba, datallowconn, datconnlimit, datistemplate, dattablespace, datacl)::text
                    FROM pg_database WHERE datname = current_database()), ''
UNION ALL SELECT 'settings', count(*)::text, max(xmin::text::bigint)::text FROM pg_db_role_setting
          WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
UNION ALL SELECT 'prepared', count(*)::text, '' FROM pg_prepared_xacts WHERE database = current_database()
UNION ALL SELECT 'slots', count(*)::text, '' FROM pg_replication_slots WHERE database = current_database()
"""


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Template:
    """What a clone of the template must be to be reused, and the statements that check and empty it."""

    name: str
    check: str  # one statement: the catalogs' parts, then the contents of the tables the template fills
    reset: str  # one round trip: empty the other tables, set the sequences back

    @classmethod
    async def read(cls, name: str, conn: asyncpg.Connection) -> Template:
        tables = [
            row["t"]
            for row in await conn.fetch(
                "SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
            )
        ]
        filled = [t for t in tables if await conn.fetchval(f"SELECT EXISTS (SELECT FROM {t})")]
        contents = [
            f"SELECT 'rows of ' || {_literal(t)},"
            f" md5(coalesce(string_agg(r::text, ',' ORDER BY r::text), '')), '' FROM {t} AS r"
            for t in filled
        ]
        catalogs = await conn.fetchval(_CATALOG_PARTS)
        check = " UNION ALL ".join([f"SELECT * FROM ({catalogs}) AS c", _DATABASE_PARTS, *contents])
        sequences = await conn.fetch(
            "SELECT format('%I.%I', schemaname, sequencename) AS s, coalesce(last_value, start_value) AS v,"
            " last_value IS NOT NULL AS called FROM pg_sequences"
        )
        empty = [t for t in tables if t not in filled]
        reset = "; ".join(
            [
                "BEGIN",
                "SET LOCAL session_replication_role = replica",
                *(f"DELETE FROM {t}" for t in empty),
                *(f"SELECT setval({_literal(s['s'])}, {s['v']}, {s['called']})" for s in sequences),
                "COMMIT",
            ]
        )
        return cls(name=name, check=check, reset=reset)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class Clones:
    """One test process's databases on one server: `take` one for a test, `give_back` it after."""

    server_dsn: str
    admin: asyncpg.Connection
    template: Template
    free: list[tuple[str, list[asyncpg.Record]]] = field(default_factory=list)
    parts: dict[str, list[asyncpg.Record]] = field(default_factory=dict)
    cloned: int = 0
    reused: int = 0
    dropped: int = 0

    async def take(self) -> str:
        if self.free:
            name, parts = self.free.pop()
        else:
            name = f"hub_test_{uuid.uuid4().hex[:12]}"
            await self.admin.execute(f"CREATE DATABASE {_ident(name)} TEMPLATE {_ident(self.template.name)}")
            self.cloned += 1
            conn = await asyncpg.connect(with_database(self.server_dsn, name))
            try:
                parts = await conn.fetch(self.template.check)
            finally:
                await conn.close()
        self.parts[name] = parts
        return name

    async def give_back(self, name: str) -> None:
        parts = self.parts.pop(name)
        renamed = await self._renamed(name)
        if renamed is None:
            await self.drop(name)
            return
        try:
            conn = await asyncpg.connect(with_database(self.server_dsn, renamed))
            try:
                if await conn.fetch(self.template.check) != parts:
                    raise _Changed
                await conn.execute(self.template.reset)
            finally:
                await conn.close()
        except (_Changed, asyncpg.PostgresError, OSError):
            await self.drop(renamed)
            return
        self.reused += 1
        self.free.append((renamed, parts))

    async def _renamed(self, name: str) -> str | None:
        """Shut the database to new connections, end every connection to it and give it a new name (then
        open it again); None if a connection stays on it (the server waits five seconds for them to go)."""
        fresh = f"hub_test_{uuid.uuid4().hex[:12]}"
        try:
            await self.admin.execute(f"ALTER DATABASE {_ident(name)} WITH ALLOW_CONNECTIONS false")
            ended = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1"
            for _ in range(1000):  # the server polls every 100 ms when renaming; 2 ms here
                if not await self.admin.fetch(ended, name):
                    break
                await asyncio.sleep(0.002)
            await self.admin.execute(f"ALTER DATABASE {_ident(name)} RENAME TO {_ident(fresh)}")
            await self.admin.execute(f"ALTER DATABASE {_ident(fresh)} WITH ALLOW_CONNECTIONS true")
        except asyncpg.ObjectInUseError:
            return None
        return fresh

    async def drop(self, name: str) -> None:
        await self.admin.execute(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")
        self.dropped += 1

    async def close(self) -> None:
        for name, _ in self.free:
            await self.drop(name)
        self.free.clear()
        await self.admin.close()


class _Changed(Exception):
    """The database is not the template's any more (its schema or its filled tables changed)."""
