"""Evidence at scale: one case's audit proofs at a million audit-log entries (issue 21).

    python -m bench.audit_proofs [--sizes 131072,1000000] [--entries 20] [--database-url URL]

Grows a fresh audit log to each size (sequenced leaves written with COPY, the subtrees the checkpointer
keeps, one signed checkpoint), with one case's `--entries` entries spread evenly over it, and times
`hub.services.proofs.case_proofs` for that case: the way an evidence bundle gets them. For comparison it
times the way before migration 0015 (every leaf hash read, each proof computed over all of them). Both
give the same proofs (checked). Prints milliseconds per case and per entry.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from bench import common
from hub.core.audit import sign_checkpoint
from hub.core.jose import PrivateSigningJwk
from hub.core.merkle import Frontier, inclusion_proof
from hub.services.proofs import case_proofs
from hub.store.audit import leaf_hashes_upto
from hub.store.database import connect
from hub.store.migrate import migrate

NOW = datetime(2026, 12, 3, tzinfo=UTC)


async def grow(dsn: str, size: int, entries: int) -> Any:
    """A log of `size` sequenced entries (`entries` of them one case's) with its subtrees and checkpoint."""
    case_id = uuid4()
    every = max(1, size // entries)
    frontier = Frontier()
    nodes: list[tuple[int, int, bytes]] = []
    rows = []
    for i in range(size):
        leaf = hashlib.sha256(b"\x00" + i.to_bytes(8, "big")).digest()
        nodes += [(n.level, n.index, h) for n, h in frontier.append(leaf)]
        rows.append((i, leaf, NOW, "bench.entry", "hub", case_id if i % every == 0 else None))
    async with connect(dsn) as conn:
        await conn.execute("TRUNCATE audit_entries, audit_tree_nodes, audit_checkpoints")
        columns = ["leaf_index", "leaf_hash", "recorded_at", "event", "actor", "case_id"]  # detail: {}
        await conn.copy_records_to_table("audit_entries", records=rows, columns=columns)
        await conn.copy_records_to_table("audit_tree_nodes", records=nodes, columns=["level", "idx", "hash"])
        key = PrivateSigningJwk.generate("bench-hub")
        head = frontier.root()
        signed = sign_checkpoint(
            key, hub_id="bench-hub", tree_size=size, root=head, signed_at=NOW, previous=None
        )
        await conn.execute(
            "INSERT INTO audit_checkpoints (tree_size, root_hash, signed_at, checkpoint, frontier)"
            " VALUES ($1, $2, $3, $4, $5)",
            size,
            head,
            NOW,
            signed,
            frontier.to_list(),
        )
        await conn.execute("ANALYZE audit_entries; ANALYZE audit_tree_nodes")
    return case_id


async def measure(dsn: str, size: int, entries: int, repeat: int) -> dict[str, Any]:
    case_id = await grow(dsn, size, entries)
    async with connect(dsn) as conn:
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            proofs = await case_proofs(conn, case_id, lambda entry: True)
            best = min(best, time.perf_counter() - start)
        start = time.perf_counter()
        leaves = await leaf_hashes_upto(conn, size)
        linear = [inclusion_proof(leaves, e.leaf_index) for e in proofs.entries]
        before = time.perf_counter() - start
    assert linear == [e.proof for e in proofs.entries], "the two ways disagree"
    n = len(proofs.entries)
    return {
        "audit_entries": size,
        "case_entries": n,
        "stored_subtrees_ms": round(best * 1000, 2),
        "stored_subtrees_ms_per_entry": round(best * 1000 / n, 3),
        "every_leaf_ms": round(before * 1000, 1),
        "every_leaf_ms_per_entry": round(before * 1000 / n, 1),
    }


async def run(sizes: list[int], entries: int, repeat: int, url: str | None) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="hub-audit-") as tmp:
        async with common.database(url, Path(tmp)) as dsn:
            async with connect(dsn) as conn:
                await migrate(conn)
            results = []
            for size in sizes:
                results.append(await measure(dsn, size, entries, repeat))
                r = results[-1]
                print(
                    f"{size:>9} entries, {r['case_entries']} of the case: stored subtrees "
                    f"{r['stored_subtrees_ms']} ms ({r['stored_subtrees_ms_per_entry']} ms/entry); "
                    f"every leaf {r['every_leaf_ms']} ms ({r['every_leaf_ms_per_entry']} ms/entry)",
                    flush=True,
                )
            return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_proofs", description=__doc__)
    parser.add_argument("--sizes", default="131072,1000000")
    parser.add_argument("--entries", type=int, default=20, help="the case's entries in the log")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: embedded, throwaway)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = asyncio.run(run(sizes, args.entries, args.repeat, args.database_url))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
