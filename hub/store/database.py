"""Connections: a pool on `HUB_DATABASE_URL`, or on the embedded PostgreSQL in the data directory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from hub.store.embedded import EmbeddedPostgres, start_embedded_postgres

Pool = asyncpg.Pool

# What a lost or restarting database looks like to asyncpg. InternalClientError is raised when a
# connection broke in the middle of an operation; the pool's connections should then be renewed.
UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
# A connection of our own or one borrowed from a pool: the store's functions take either.
Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


def database_url(url: str | None, data_dir: Path) -> tuple[str, EmbeddedPostgres | None]:
    """The URL to connect to, starting the embedded server when no URL is configured."""
    if url:
        return url, None
    embedded = start_embedded_postgres(data_dir / "postgres")
    return embedded.dsn(), embedded


# Sent with the connection's start-up (no round trip of its own). The hub's statements are short and
# index-driven; PostgreSQL's JIT compiles a plan whose estimate crosses `jit_above_cost`, which a
# statement over a large backlog does, and the compile cost 60-750 ms against 11 ms of execution
# (docs/performance.md, step 21.10), in every delivery round. No hub statement gains from it.
SESSION_SETTINGS = {"jit": "off"}


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    on_connect: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> Pool:
    """The hub's pool. `on_connect` runs on each new connection after the hub's own set-up (the round-trip
    benchmark adds its query logger there)."""

    async def init(conn: asyncpg.Connection) -> None:
        await _init_connection(conn)
        if on_connect is not None:
            await on_connect(conn)

    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init,
        reset=_keep_session,
        server_settings=SESSION_SETTINGS,
    )
    if pool is None:  # asyncpg types this as optional
        raise RuntimeError("asyncpg returned no pool")
    return pool


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A connection goes back to the pool as it is. The pool's connections carry no session state: LISTEN
    and session advisory locks use connections of their own, nothing SETs a session variable, and a
    cursor lives inside a transaction. asyncpg still rolls back a transaction left open; what it skips is
    a reset query (a round trip) every time a connection is released."""


@asynccontextmanager
async def connect(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn, server_settings=SESSION_SETTINGS)
    await _init_connection(conn)
    try:
        yield conn
    finally:
        await conn.close()


async def create_databases(dsn: str, names: Sequence[str]) -> None:
    """Create empty databases on the server of `dsn` (the demos' and the snapshot's throwaway ones)."""
    admin = await asyncpg.connect(dsn)
    try:
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
