"""Evidence at scale, whole: one case's evidence bundle exported from an audit log of a million entries.

    python -m bench.evidence_bundle [--sizes 131072,1000000] [--repeat 3] [--database-url URL]

`bench.audit_proofs` times the inclusion proofs alone; this times what an operator's `hub evidence export`
does for one case (`hub.evidence.export.export_bundle`: the case, its messages opened with the storage
key, the delivery evidences, the parties' keys, each party's directory entries with their proofs, the
case's audit entries with theirs, the ZIP). The case is a real one: a hotline's referral to a platform
and the platform's acknowledgement, taken by intake in this process. Their audit entries (the case's, and
the directory's for the two participants) are then spread evenly over a log grown to each size with
synthetic entries (COPY), every entry given its leaf hash by the hub's rule, the subtrees the checkpointer
keeps stored, and one checkpoint signed with the hub's key, so the bundle is the one a real log of that
size would give; each bundle is checked with the bundle verifier against the hub's key. Prints
milliseconds per bundle (the best of `--repeat`).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import common
from hub.client import new_envelope, sign_message
from hub.core.audit import entry_leaf, sign_checkpoint
from hub.core.bundle_verify import TrustRoot
from hub.core.clock import rfc3339, utc_now
from hub.core.hub_identity import HubIdentity
from hub.core.jose import PrivateSigningJwk
from hub.core.merkle import Frontier
from hub.core.receipt import read_receipt
from hub.evidence.export import export_bundle
from hub.evidence.verify import verify_bundle
from hub.log import configure_logging
from hub.policies import load_policy_book
from hub.schemas import load_catalog
from hub.services.intake import Intake, submit_message
from hub.store.case_keys import Keyring
from hub.store.database import connect, create_pool
from hub.store.directory import ensure_hub_participant

HUB_ID = "bench-hub"


async def real_case(dsn: str, identity: HubIdentity, keyring: Keyring) -> uuid.UUID:
    """A referral and its acknowledgement, through intake: the case's id."""
    cast = await common.register_cast(dsn, uuid.uuid4().hex[:8], 1, hub_id=HUB_ID)
    [platform] = cast.platforms
    if platform.sig_key is None:
        raise RuntimeError("the platform has no signing key")
    async with connect(dsn) as conn:
        await ensure_hub_participant(conn, HUB_ID, identity.key.public().to_dict())
    pool = await create_pool(dsn)
    try:
        intake = Intake(
            pool=pool, catalog=load_catalog(), hub=identity, policies=load_policy_book(), keyring=keyring
        )
        _, raw = common.signed_referral(cast.hotline, cast.hotline_key, platform, 0)
        claims = read_receipt((await submit_message(intake, raw, utc_now())).receipt)
        answer = new_envelope(
            "acknowledgement",
            sender=platform.id,
            to=[cast.hotline],
            body={"received_at": rfc3339(utc_now())},
            case=claims.case_id,
            in_reply_to=claims.message_id,
        )
        await submit_message(intake, sign_message(answer, platform.sig_key).encode(), utc_now())
    finally:
        await pool.close()
    return uuid.UUID(claims.case_id)


async def grow(dsn: str, size: int, identity: HubIdentity) -> int:
    """The log at `size` leaves: the real entries spread evenly, synthetic ones between. Returns how
    many real entries it holds."""
    async with connect(dsn) as conn:
        await conn.execute(
            "DELETE FROM audit_entries WHERE case_id IS NULL AND event = 'bench.entry';"
            " TRUNCATE audit_tree_nodes, audit_checkpoints CASCADE;"
            " UPDATE audit_entries SET leaf_index = NULL, leaf_hash = NULL"
        )
        real = [dict(r.items()) for r in await conn.fetch("SELECT * FROM audit_entries ORDER BY id")]
        every = max(1, size // len(real))
        at = {i * every: row for i, row in enumerate(real)}
        frontier = Frontier()
        nodes: list[tuple[int, int, bytes]] = []
        synthetic: list[tuple[Any, ...]] = []
        placed: list[tuple[int, int, bytes]] = []
        start = datetime.now(UTC) - timedelta(days=30)
        for i in range(size):
            row = at.get(i)
            if row is None:
                leaf = hashlib.sha256(b"\x00" + i.to_bytes(8, "big")).digest()
                synthetic.append((i, leaf, start, "bench.entry", "hub"))
            else:
                leaf = entry_leaf(i, row)
                placed.append((row["id"], i, leaf))
            nodes += [(n.level, n.index, h) for n, h in frontier.append(leaf)]
        await conn.executemany(
            "UPDATE audit_entries SET leaf_index = $2, leaf_hash = $3 WHERE id = $1", placed
        )
        columns = ["leaf_index", "leaf_hash", "recorded_at", "event", "actor"]
        await conn.copy_records_to_table("audit_entries", records=synthetic, columns=columns)
        await conn.copy_records_to_table("audit_tree_nodes", records=nodes, columns=["level", "idx", "hash"])
        signed = sign_checkpoint(
            identity.key,
            hub_id=HUB_ID,
            tree_size=size,
            root=frontier.root(),
            signed_at=datetime.now(UTC),
            previous=None,
        )
        await conn.execute(
            "INSERT INTO audit_checkpoints (tree_size, root_hash, signed_at, checkpoint, frontier)"
            " VALUES ($1, $2, $3, $4, $5)",
            size,
            frontier.root(),
            datetime.now(UTC),
            signed,
            frontier.to_list(),
        )
        await conn.execute("ANALYZE audit_entries; ANALYZE audit_tree_nodes")
    return len(real)


async def measure(
    dsn: str, size: int, case_id: uuid.UUID, identity: HubIdentity, keyring: Keyring, repeat: int
) -> dict[str, Any]:
    real = await grow(dsn, size, identity)
    async with connect(dsn) as conn:
        case_entries = int(
            await conn.fetchval("SELECT count(*) FROM audit_entries WHERE case_id = $1", case_id)
        )
        best, made = float("inf"), b""
        for _ in range(repeat):
            start = time.perf_counter()
            made = await export_bundle(conn, case_id, hub_id=HUB_ID, now=utc_now(), keyring=keyring)
            best = min(best, time.perf_counter() - start)
    public = identity.key.public()
    report = verify_bundle(made, TrustRoot(source="the benchmark's hub key", keys={public.kid: public}))
    return {
        "audit_entries": size,
        "real_entries": real,
        "case_entries": case_entries,
        "bundle_ms": round(best * 1000, 1),
        "bundle_bytes": len(made),
        "verified": report.ok,
        "faults": report.faults,
    }


async def run(sizes: list[int], repeat: int, url: str | None) -> list[dict[str, Any]]:
    identity = HubIdentity(HUB_ID, PrivateSigningJwk.generate())
    keyring = Keyring(uuid.uuid4().bytes + uuid.uuid4().bytes)
    with tempfile.TemporaryDirectory(prefix="hub-bundle-") as tmp:
        async with common.database(url, Path(tmp)) as dsn:
            case_id = await real_case(dsn, identity, keyring)
            results = []
            for size in sizes:
                r = await measure(dsn, size, case_id, identity, keyring, repeat)
                results.append(r)
                print(
                    f"{size:>9} audit entries ({r['real_entries']} real, {r['case_entries']} of the case): "
                    f"bundle {r['bundle_ms']} ms, {r['bundle_bytes']} bytes, "
                    f"{'verifies' if r['verified'] else 'FAILS: ' + '; '.join(r['faults'])}",
                    flush=True,
                )
            return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.evidence_bundle", description=__doc__)
    parser.add_argument("--sizes", default="131072,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: embedded, throwaway)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    configure_logging("warning", json=False)
    results = asyncio.run(run(sizes, args.repeat, args.database_url))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
