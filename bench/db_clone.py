"""What a test's database costs: CREATE DATABASE ... TEMPLATE and DROP on a throwaway embedded server,
with the server's defaults and with the tests' settings (fsync, synchronous_commit and full_page_writes
off: `tests/conftest.py`), by both strategies (WAL_LOG, PostgreSQL's default, and FILE_COPY); then what
handing a used database to the next test costs instead (`tests/databases.py`: end its connections,
rename it, check its catalogs, empty it), with a few rows in it. Prints milliseconds per operation.

    python -m bench.db_clone [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from hub.store.database import connect
from hub.store.embedded import start_embedded_postgres
from hub.store.migrate import migrate

TEST_SETTINGS = ("fsync = off", "synchronous_commit = off", "full_page_writes = off")


async def measure(rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="hub-bench-clone-") as tmp:
        server = start_embedded_postgres(Path(tmp) / "postgres", cleanup="delete")
        try:
            admin = await asyncpg.connect(server.dsn())
            await admin.execute('CREATE DATABASE "template_bench"')
            async with connect(server.dsn("template_bench")) as conn:
                await migrate(conn)
            size = await admin.fetchval("SELECT pg_size_pretty(pg_database_size('template_bench'))")
            print(f"PostgreSQL {await admin.fetchval('SHOW server_version')}, template {size}")
            for label, settings in (("server defaults", ()), ("the tests' settings", TEST_SETTINGS)):
                for setting in settings:
                    await admin.execute(f"ALTER SYSTEM SET {setting}")
                await admin.execute("SELECT pg_reload_conf()")
                created = dropped = 0.0
                for _ in range(rounds):
                    name = f"clone_{uuid.uuid4().hex[:8]}"
                    start = time.perf_counter()
                    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "template_bench"')
                    created += time.perf_counter() - start
                    start = time.perf_counter()
                    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                    dropped += time.perf_counter() - start
                per_clone, per_drop = created / rounds * 1000, dropped / rounds * 1000
                print(f"{label}: clone {per_clone:.1f} ms, drop {per_drop:.1f} ms")
            for strategy in ("WAL_LOG", "FILE_COPY"):
                created = 0.0
                for _ in range(rounds):
                    name = f"clone_{uuid.uuid4().hex[:8]}"
                    start = time.perf_counter()
                    clone = f'CREATE DATABASE "{name}" TEMPLATE "template_bench" STRATEGY {strategy}'
                    await admin.execute(clone)
                    created += time.perf_counter() - start
                    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                print(f"the tests' settings, STRATEGY {strategy}: clone {created / rounds * 1000:.1f} ms")
            await admin.close()
            await reuse(server.dsn(), rounds)
        finally:
            server.stop()


async def reuse(dsn: str, rounds: int) -> None:
    from tests.databases import Clones, Template, with_database

    async with connect(with_database(dsn, "template_bench")) as conn:
        template = await Template.read("template_bench", conn)
    clones = Clones(server_dsn=dsn, admin=await asyncpg.connect(dsn), template=template)
    try:
        name = await clones.take()
        spent = 0.0
        for _ in range(rounds):
            conn = await asyncpg.connect(with_database(dsn, name))  # a test's rows, a connection left open
            await conn.execute(
                "INSERT INTO participants (id, name, kind, country) VALUES ('de-b', 'B', 'hotline', 'DE')"
            )
            start = time.perf_counter()
            await clones.give_back(name)
            name = await clones.take()
            spent += time.perf_counter() - start
            conn.terminate()
        print(f"reuse (end connections, rename, check, empty): {spent / rounds * 1000:.1f} ms")
        print(f"  {clones.cloned} clone(s), {clones.reused} reused, {clones.dropped} dropped")
    finally:
        await clones.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    asyncio.run(measure(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
