"""A case's audit-log entries with their RFC 9162 inclusion proofs, for evidence bundles.

The operator's export takes every entry of the case; a party (`GET /v1/cases/{case_id}/proofs`, the
console's bundle) only those `cases.audit_entry_filter` gives it. Proofs lead to the first hub-signed
checkpoint that covers the case's latest entry; entries not yet under a checkpoint are counted, not
given (the sequencer checkpoints every few seconds). A proof is built from the stored subtrees it
needs (`hub.core.merkle.proof_nodes`: O(log^2 n) primary-key look-ups, all entries' in one query), not
from every leaf; a log whose subtrees are missing (none should be, since migration 0015) falls back to
reading every leaf hash up to the checkpoint, and says so in the log. The directory's answers
(`hub.services.directory_log`) use the same proofs, and `consistency` the same subtrees.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from hub.core.bundle import AuditEntry
from hub.core.clock import rfc3339
from hub.core.merkle import (
    consistency_from_nodes,
    consistency_nodes,
    consistency_proof,
    inclusion_proof,
    proof_from_nodes,
    proof_nodes,
)
from hub.services.cases import audit_entry_filter
from hub.store import audit
from hub.store.database import Conn

log = structlog.get_logger("hub.proofs")


@dataclass(frozen=True)
class CaseProofs:
    entries: list[AuditEntry]
    checkpoint: str | None
    uncovered: int  # entries given to this viewer that no checkpoint covers yet

    def document(self, case_id: UUID) -> dict[str, Any]:
        return {
            "case_id": str(case_id),
            "checkpoint": self.checkpoint,
            "entries": [e.document() for e in self.entries],
            "not_yet_checkpointed": self.uncovered,
        }


async def case_proofs(conn: Conn, case_id: UUID, keep: Callable[[Mapping[str, Any]], bool]) -> CaseProofs:
    rows = [r for r in await audit.case_entries(conn, case_id) if keep(dict(r.items()))]
    if not rows:
        return CaseProofs([], None, 0)
    covering = await audit.checkpoint_covering(conn, int(rows[-1]["leaf_index"]) + 1)
    if covering is None:  # the latest entries await their checkpoint: the latest one covers the others
        covering = await audit.latest_checkpoint(conn)
    if covering is None:
        return CaseProofs([], None, len(rows))
    size = int(covering["tree_size"])
    entries = await proven_entries(conn, rows, size)
    return CaseProofs(entries, str(covering["checkpoint"]), len(rows) - len(entries))


async def proven_entries(conn: Conn, rows: list[asyncpg.Record], size: int) -> list[AuditEntry]:
    """Those of `rows` (sequenced audit entries) in the tree of `size`, each with its audit path."""
    covered = [r for r in rows if r["leaf_index"] is not None and int(r["leaf_index"]) < size]
    return [_entry(row, path) for row, path in zip(covered, await _paths(conn, covered, size), strict=True)]


async def consistency(conn: Conn, first: int, second: int) -> list[bytes]:
    """The RFC 9162 consistency proof between two tree sizes of the log, from the stored subtrees."""
    wanted = consistency_nodes(first, second)
    nodes = await audit.tree_nodes(conn, wanted)
    try:
        return consistency_from_nodes(first, second, nodes)
    except KeyError:
        log.warning("audit.tree_nodes_missing", tree_size=second, missing=len(wanted - nodes.keys()))
        return consistency_proof(await audit.leaf_hashes_upto(conn, second), first)


async def _paths(conn: Conn, covered: list[asyncpg.Record], size: int) -> list[list[bytes]]:
    """The audit path of each entry in the tree of `size`, from the stored subtrees."""
    indexes = [int(r["leaf_index"]) for r in covered]
    wanted = set().union(*(proof_nodes(i, size) for i in indexes)) if indexes else set()
    nodes = await audit.tree_nodes(conn, wanted)
    try:
        return [proof_from_nodes(i, size, nodes) for i in indexes]
    except KeyError:
        log.warning("audit.tree_nodes_missing", tree_size=size, missing=len(wanted - nodes.keys()))
        leaves = await audit.leaf_hashes_upto(conn, size)
        return [inclusion_proof(leaves, i) for i in indexes]


async def proofs_for_party(pool: asyncpg.Pool, case_id: UUID, caller: str) -> CaseProofs:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return await case_proofs(conn, case_id, await audit_entry_filter(conn, case_id, caller))


def _entry(row: asyncpg.Record, proof: list[bytes]) -> AuditEntry:
    return AuditEntry(
        leaf_index=int(row["leaf_index"]),
        leaf_hash=bytes(row["leaf_hash"]),
        recorded_at=rfc3339(row["recorded_at"]),
        event=row["event"],
        actor=row["actor"],
        subject=row["subject"],
        case_id=None if row["case_id"] is None else str(row["case_id"]),
        message_id=None if row["message_id"] is None else str(row["message_id"]),
        detail=row["detail"] or {},
        proof=proof,
    )
