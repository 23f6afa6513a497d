"""Issue 21, evidence at scale: the checkpointer keeps the audit tree's complete subtrees, proofs are built
from them, and the migration's SQL backfill computes the same subtrees as the Python rule (the one rule,
hub/core/merkle.py, written twice: this test feeds both the same log and compares)."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from uuid import UUID, uuid4

import asyncpg
import pytest

from hub.core.jose import PrivateSigningJwk
from hub.core.merkle import Node, inclusion_proof, root, subtrees_of, verify_inclusion
from hub.services.proofs import case_proofs
from hub.store import audit
from hub.store.database import create_pool

NOW = datetime(2026, 12, 3, tzinfo=UTC)


async def logged(db: asyncpg.Connection, pool: asyncpg.Pool, rounds: list[int], case_id: UUID) -> None:
    """`rounds[i]` entries, then a checkpoint, for each i (so the frontier resumes across checkpoints);
    every seventh entry belongs to `case_id`."""
    key = PrivateSigningJwk.generate("audit-test")
    n = 0
    for count in rounds:
        for _ in range(count):
            await audit.append(
                db, at=NOW, event="test.entry", actor="hub", case_id=case_id if n % 7 == 0 else None
            )
            n += 1
        await audit.sequence_and_checkpoint(pool, key, "test-hub", NOW)


async def stored_nodes(db: asyncpg.Connection) -> dict[Node, bytes]:
    rows = await db.fetch("SELECT level, idx, hash FROM audit_tree_nodes")
    return {Node(r["level"], r["idx"]): bytes(r["hash"]) for r in rows}


async def leaves(db: asyncpg.Connection) -> list[bytes]:
    rows = await db.fetch(
        "SELECT leaf_hash FROM audit_entries WHERE leaf_index IS NOT NULL ORDER BY leaf_index"
    )
    return [bytes(r["leaf_hash"]) for r in rows]


@pytest.fixture
async def pool(database_url: str) -> asyncpg.Pool:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def test_the_checkpointer_keeps_every_complete_subtree(
    db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    await logged(db, pool, [1, 2, 61, 1, 64, 7], uuid4())
    all_leaves = await leaves(db)
    assert len(all_leaves) == 136
    assert await stored_nodes(db) == dict(subtrees_of(all_leaves))


async def test_the_migrations_sql_backfill_computes_the_same_subtrees(
    db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    await logged(db, pool, [100, 77], uuid4())
    python = await stored_nodes(db)
    await db.execute("DELETE FROM audit_tree_nodes")
    migration = resources.files("hub.store").joinpath("migrations/0015_audit_tree_nodes.sql").read_text()
    await db.execute(migration[migration.index("DO $$") :])
    assert await stored_nodes(db) == python
    assert len(python) == 177 - (177).bit_count()  # a tree of n leaves has n - popcount(n) closed subtrees


async def test_a_cases_proofs_come_from_the_stored_subtrees_and_verify(
    db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    case_id = uuid4()
    await logged(db, pool, [50, 83], case_id)
    all_leaves = await leaves(db)
    head = root(all_leaves)
    proofs = await case_proofs(db, case_id, lambda entry: True)
    assert len(proofs.entries) == 19  # leaf 0, 7, ..., 126
    for entry in proofs.entries:
        assert entry.proof == inclusion_proof(all_leaves, entry.leaf_index)
        assert verify_inclusion(entry.leaf_hash, entry.leaf_index, len(all_leaves), entry.proof, head)

    # A log whose subtrees are gone (as before migration 0015, had it not backfilled) still proves, slowly.
    await db.execute("DELETE FROM audit_tree_nodes WHERE level = 2")
    slow = await case_proofs(db, case_id, lambda entry: True)
    assert [e.proof for e in slow.entries] == [e.proof for e in proofs.entries]
