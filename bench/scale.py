"""Scale: do status queries, inbox reads and the case list stay flat from 10 thousand to a million cases?

    python -m bench.scale [--sizes 10000,100000,1000000] [--samples 200] [--database-url URL] [--json F]

A hotline submits a real referral to each of four platforms with a pull inbox through a `hub serve`
process (so every row is what the hub writes: case, case key, message encrypted at rest, parties, pull
delivery, timeline events, legal clocks). The database is then grown to each size by cloning those
cases' rows round robin (each platform has a quarter of the cases in its inbox) with `INSERT ...
SELECT ... generate_series` (new ids, older timestamps; every column the migrations define is copied,
serial keys renumbered), so the tables carry the hub's own indexes at full size. Audit-log entries
are not cloned: no read measured here touches them, and unsequenced entries would set the hub's audit
sequencer to work during the measurement.

At each size it measures, through the real HTTP API with single-use bearer tokens from `hub.client`,
one request at a time: `GET /v1/cases/{id}` for random cases, `GET /v1/inbox` (the first page, and a
page half-way down by cursor), `GET /v1/cases` (the first page, and half-way down by cursor). It prints
p50/p99 per size and the growth from the smallest to the largest size, and records EXPLAIN ANALYZE of
the inbox and case-list queries at the largest size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg

from bench import common
from hub.client import HubClient
from hub.services.case_list import encode_cursor
from hub.store.queries import query

CHUNK = 50_000
PLATFORMS = 4  # cases go round robin to four platforms with pull inboxes; the first one reads
PROBE_BUDGET_S = 20.0
# The case list reads its candidates in keyset order from an index (this query), then gives only those
# their status (`list_cases`, by primary key): the candidates' plan is what must not grow.
LIST_QUERY = "case_page_candidates_of_participant"
FLAT_FACTOR = 2.0  # p50 at the largest size within twice the smallest's counts as flat

# table -> (its rows of template `tpl.key`, replacements: column -> SQL expression over g and the row).
# Clone g is g seconds older: every timestamp of its rows is shifted (see UNSHIFTED).
CASE = "md5('c' || $1::text || g)::uuid"
MESSAGE = "md5('m' || $1::text || g)::uuid"
UNSHIFTED = {"deadlines", "case_keys"}  # clocks shifted into the past would all fall due and escalate
CLONES: dict[str, tuple[str, dict[str, str]]] = {
    "cases": ("id = tpl.key", {"id": CASE}),
    "case_keys": ("case_id = tpl.key", {"case_id": CASE}),
    "messages": ("case_id = tpl.key", {"id": MESSAGE, "case_id": CASE, "in_reply_to": "NULL"}),
    "case_parties": ("case_id = tpl.key", {"case_id": CASE}),
    "deliveries": ("message_id = tpl.key", {"message_id": MESSAGE}),
    "case_events": (
        "case_id = tpl.key",
        {"case_id": CASE, "message_id": f"CASE WHEN message_id IS NULL THEN NULL ELSE {MESSAGE} END"},
    ),
    "deadlines": (
        "case_id = tpl.key",
        {"case_id": CASE, "message_id": MESSAGE, "met_by": "NULL", "escalation_id": "NULL"},
    ),
}


async def clone_statements(conn: asyncpg.Connection) -> list[tuple[str, bool]]:
    """(statement, by message) cloning, for each g in [$3, $4] in order, the rows of template number
    g % (number of templates) in $2: template cases, or their messages where `by message`. In order, so
    serial keys (the inbox's cursor) interleave the platforms as arrivals would."""
    statements = []
    for table, (where, replace) in CLONES.items():
        rows = await conn.fetch(
            "SELECT column_name, column_default, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
            table,
        )
        rows = [r for r in rows if not (r["column_default"] or "").startswith("nextval(")]
        columns = [r["column_name"] for r in rows]
        shifted = {
            r["column_name"]: f"{r['column_name']} - make_interval(secs => g)"
            for r in rows
            if r["data_type"] == "timestamp with time zone" and table not in UNSHIFTED
        }
        select = ", ".join(replace.get(c, shifted.get(c, c)) for c in columns)
        statements.append(
            (
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} "
                f"FROM generate_series($3::int, $4::int) AS g "
                f"JOIN unnest($2::uuid[]) WITH ORDINALITY AS tpl (key, n) "
                f"ON tpl.n - 1 = g % cardinality($2::uuid[]) "
                f"JOIN {table} ON {where} ORDER BY g",
                table == "deliveries",
            )
        )
    return statements


async def grow(dsn: str, tag: str, templates: list[tuple[UUID, UUID]], to: int) -> float:
    """Clone the template cases (round robin) until there are `to` cases; seconds taken (VACUUM
    ANALYZE included)."""
    started = time.monotonic()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET synchronous_commit = off")  # a bulk load, not what is measured
        statements = await clone_statements(conn)
        have = int(await conn.fetchval("SELECT count(*) FROM cases"))
        while have < to:  # clone number g is case number g: ids and timestamps never repeat
            upto = min(to, have + CHUNK)
            async with conn.transaction():
                for sql, by_message in statements:
                    keys = [message if by_message else case for case, message in templates]
                    await conn.execute(sql, tag, keys, have + 1, upto)
            have = upto
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return time.monotonic() - started


class Probe:
    """The requests measured at each size, made as a hotline (originator) and a platform (recipient)."""

    def __init__(self, dsn: str, hotline: HubClient, platform: HubClient, samples: int) -> None:
        self.dsn, self.hotline, self.platform, self.samples = dsn, hotline, platform, samples

    async def measure(self) -> dict[str, dict[str, Any]]:
        conn = await asyncpg.connect(self.dsn)
        try:
            case_ids = [
                str(r["id"]) for r in await conn.fetch("SELECT id FROM cases ORDER BY random() LIMIT 500")
            ]
            mid = (
                int(
                    await conn.fetchval(
                        "SELECT count(*) FROM deliveries WHERE recipient_id = $1 AND state = 'pending' "
                        "AND channel = 'pull'",
                        self.platform.participant_id,
                    )
                )
                // 2
            )
            inbox_cursor = str(
                await conn.fetchval(
                    "SELECT seq FROM deliveries WHERE recipient_id = $1 AND state = 'pending' "
                    "AND channel = 'pull' ORDER BY seq OFFSET $2 LIMIT 1",
                    self.platform.participant_id,
                    mid,
                )
            )
            row = await conn.fetchrow(
                "SELECT opened_at, id FROM cases ORDER BY opened_at DESC, id DESC OFFSET "
                "(SELECT count(*) / 2 FROM cases) LIMIT 1"
            )
            list_cursor = encode_cursor(row["opened_at"], row["id"])
        finally:
            await conn.close()
        rng = random.Random(8)
        probes: dict[str, Callable[[], Awaitable[Any]]] = {
            "case status": lambda: self.hotline.case(rng.choice(case_ids)),
            "inbox first page": lambda: self.platform.inbox(limit=50),
            "inbox deep page": lambda: self.platform.inbox(limit=50, cursor=inbox_cursor),
            "case list first page": lambda: self._cases(self.hotline, None),
            "case list deep page": lambda: self._cases(self.hotline, list_cursor),
            "case list (recipient)": lambda: self._cases(self.platform, None),
        }
        return {name: await self._time(probe) for name, probe in probes.items()}

    async def _cases(self, client: HubClient, cursor: str | None) -> dict[str, Any]:
        params = {"limit": "50", **({"cursor": cursor} if cursor else {})}
        return await client._request("GET", "/v1/cases", params=params)

    async def _time(self, probe: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
        """`samples` timed requests after a few untimed ones; fewer (at least 5) if a kind of request
        is so slow that they would take longer than PROBE_BUDGET_S."""
        for _ in range(min(5, self.samples)):
            await probe()
        latencies: list[float] = []
        until = time.perf_counter() + PROBE_BUDGET_S
        while len(latencies) < self.samples and (len(latencies) < 5 or time.perf_counter() < until):
            started = time.perf_counter()
            await probe()
            latencies.append(time.perf_counter() - started)
        return common.latency_ms(latencies)


async def explain(dsn: str, platform: str, hotline: str) -> dict[str, str]:
    """EXPLAIN ANALYZE of the inbox and case-list queries as the hub runs them (first pages and half-way
    down), with the plan for these values and the generic plan (which a statement prepared by asyncpg's
    cache may switch to after five runs)."""
    conn = await asyncpg.connect(dsn)
    try:
        far = datetime(9999, 1, 1, tzinfo=UTC)
        top = UUID("ffffffff-ffff-ffff-ffff-ffffffffffff")
        seq = await conn.fetchval(
            "SELECT seq FROM deliveries WHERE recipient_id = $1 ORDER BY seq OFFSET "
            "(SELECT count(*) / 2 FROM deliveries WHERE recipient_id = $1) LIMIT 1",
            platform,
        )
        mid = await conn.fetchrow(
            "SELECT opened_at, id FROM cases ORDER BY opened_at DESC, id DESC OFFSET "
            "(SELECT count(*) / 2 FROM cases) LIMIT 1"
        )
        chunk = 200  # hub.services.case_list.CHUNK
        cases = (
            ("list_cases", (hotline, far, top, chunk)),
            ("list_cases deep", (hotline, mid["opened_at"], mid["id"], chunk)),
            ("list_cases recipient", (platform, far, top, chunk)),
        )
        plans = {}
        for label, name, args in (
            ("inbox_page", "inbox_page", (platform, 0, 50)),
            ("inbox_page deep", "inbox_page", (platform, seq or 0, 50)),
            *((label, LIST_QUERY, args) for label, args in cases),
        ):
            for mode in ("force_custom_plan", "force_generic_plan"):
                plans[f"{label} ({mode.split('_')[1]})"] = await _plan(conn, name, args, mode)
        return plans
    finally:
        await conn.close()


async def _plan(conn: asyncpg.Connection, name: str, args: tuple[Any, ...], mode: str) -> str:
    try:
        sql = query(name)
    except KeyError:  # the hub's query names changed: no plan rather than no figures
        return f"no query named {name!r}"
    await conn.execute(f"SET plan_cache_mode = {mode}")
    rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
    return "\n".join(r[0] for r in rows)


class ScaleBench:
    def __init__(self, sizes: list[int], samples: int, database_url: str | None) -> None:
        self.sizes, self.samples, self.database_url = sorted(sizes), samples, database_url
        self.figures: dict[str, Any] = {"sizes": {}}

    async def run(self) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="hub-scale-") as tmp:
            work = Path(tmp)
            async with common.database(self.database_url, work) as dsn:
                self.figures["machine"] = await common.machine_info(dsn)
                await self._run_on(dsn, work)
        return self.figures

    async def _run_on(self, dsn: str, work: Path) -> None:
        tag = common.run_tag()
        cast = await common.register_cast(dsn, tag, PLATFORMS)
        files = common.HubFiles(work, "bench-hub")
        files.create()
        port = common.free_port()
        hub = common.start_hub(0, port, dsn, files)
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as session:
                await common.wait_ready(session, url, time.monotonic() + 60)
                platform = cast.platforms[0]
                assert platform.sig_key is not None
                hotline = HubClient(session, url, cast.hotline, cast.hotline_key, hub_id=files.hub_id)
                reader = HubClient(session, url, platform.id, platform.sig_key, hub_id=files.hub_id)
                templates = []
                for n, to in enumerate(cast.platforms):
                    _, signed = common.signed_referral(cast.hotline, cast.hotline_key, to, n)
                    receipt = await hotline.submit(signed.decode())
                    templates.append((UUID(receipt["case_id"]), UUID(receipt["message_id"])))
                probe = Probe(dsn, hotline, reader, self.samples)
                for size in self.sizes:
                    fill_s = await grow(dsn, tag, templates, size)
                    figures = await probe.measure()
                    self.figures["sizes"][str(size)] = {"fill_s": round(fill_s, 1), "requests": figures}
                    print(f"  {size:>9} cases (filled in {fill_s:.0f} s): " + _line(figures), flush=True)
            self.figures["explain_at_largest"] = await explain(dsn, platform.id, cast.hotline)
        finally:
            self.figures["hub_exit_codes"] = common.stop_processes([hub])
        self._verdict()

    def _verdict(self) -> None:
        sizes = list(self.figures["sizes"].values())
        verdict = {}
        for name in sizes[0]["requests"]:
            small, large = sizes[0]["requests"][name]["p50_ms"], sizes[-1]["requests"][name]["p50_ms"]
            growth = large / small if small else None
            verdict[name] = {"p50_growth": None if growth is None else round(growth, 2)}
            verdict[name]["flat"] = growth is not None and growth <= FLAT_FACTOR
        self.figures["verdict"] = verdict


def _line(figures: dict[str, Any]) -> str:
    return ", ".join(f"{name} p50 {f['p50_ms']} ms" for name, f in figures.items())


def table(figures: dict[str, Any]) -> str:
    sizes = figures["sizes"]
    names = list(next(iter(sizes.values()))["requests"])
    header = ["request"] + [f"{int(s):,} p50/p99 ms" for s in sizes] + ["p50 growth", "flat"]
    rows = [header]
    for name in names:
        cells = [f"{v['requests'][name]['p50_ms']}/{v['requests'][name]['p99_ms']}" for v in sizes.values()]
        verdict = figures["verdict"][name]
        rows.append([name, *cells, f"x{verdict['p50_growth']}", "yes" if verdict["flat"] else "NO"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--samples", type=int, default=200, help="requests timed per kind and size")
    parser.add_argument("--database-url", help="a PostgreSQL server (default: embedded, throwaway)")
    parser.add_argument("--json", type=Path, help="write all figures to this file")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    figures = asyncio.run(ScaleBench(sizes, args.samples, args.database_url).run())
    print(table(figures))
    for name, verdict in figures["verdict"].items():
        if not verdict["flat"]:
            print(f"\nnot flat: {name}; plans at the largest size are in the JSON (explain_at_largest)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
