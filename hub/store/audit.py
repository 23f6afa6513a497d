"""The audit log in the database: append in the caller's transaction; sequence and checkpoint in the
background, one process at a time (`pg_try_advisory_xact_lock`: another process just skips the round)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from hub.core.audit import entry_leaf, sign_checkpoint
from hub.core.jose import PrivateSigningJwk
from hub.core.merkle import Frontier, Node
from hub.store.database import Conn
from hub.store.queries import query

YIELD_EVERY = 200  # entries hashed between two turns of the event loop


async def append(
    conn: Conn,
    *,
    at: datetime,
    event: str,
    actor: str,
    subject: str | None = None,
    case_id: UUID | None = None,
    message_id: UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(query("append_audit"), at, event, actor, subject, case_id, message_id, detail or {})


@dataclass(frozen=True)
class SequencingResult:
    sequenced: int
    tree_size: int
    checkpointed: bool


async def sequence_and_checkpoint(
    pool: asyncpg.Pool, key: PrivateSigningJwk, hub_id: str, now: datetime, batch: int = 5000
) -> SequencingResult | None:
    """Give pending entries their leaf index and hash, in commit order, and sign a checkpoint of the new
    tree head. None if another process holds the sequencer."""
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval(query("sequencer_lock")):
            return None
        rows = await conn.fetch(query("unsequenced_audit"), batch)
        first = int(await conn.fetchval(query("next_leaf_index")))
        leaves: list[tuple[Any, int, bytes]] = []
        for i, row in enumerate(rows, first):
            leaves.append((row["id"], i, entry_leaf(i, dict(row.items()))))
            if len(leaves) % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # hashing thousands of entries must not hold up requests
        if leaves:
            await conn.executemany(query("set_leaf"), leaves)  # pipelined: one round trip
        index = first + len(leaves)
        checkpointed = await _checkpoint(conn, key, hub_id, now, tree_size=index)
    return SequencingResult(len(rows), index, checkpointed)


async def _checkpoint(conn: Conn, key: PrivateSigningJwk, hub_id: str, now: datetime, tree_size: int) -> bool:
    if tree_size == 0:
        return False  # nothing to commit to: a signed empty head would claim entries that never were
    latest = await conn.fetchrow(query("latest_checkpoint"))
    if latest is not None and latest["tree_size"] >= tree_size:
        return False
    if latest is None:
        frontier, previous = Frontier(), None
    else:
        frontier = Frontier.from_list(latest["tree_size"], latest["frontier"])
        previous = (int(latest["tree_size"]), bytes(latest["root_hash"]))
    closed: list[tuple[Node, bytes]] = []
    for count, row in enumerate(await conn.fetch(query("leaves_from"), frontier.size), 1):
        closed += frontier.append(bytes(row["leaf_hash"]))
        if count % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    if closed:  # the subtrees these leaves complete, kept for proofs in O(log n) (merkle.proof_nodes)
        await conn.execute(
            query("insert_tree_nodes"),
            [n.level for n, _ in closed],
            [n.index for n, _ in closed],
            [h for _, h in closed],
        )
    head = frontier.root()
    signed = sign_checkpoint(
        key, hub_id=hub_id, tree_size=frontier.size, root=head, signed_at=now, previous=previous
    )
    await conn.execute(query("insert_checkpoint"), frontier.size, head, now, signed, frontier.to_list())
    return True


async def seal_pending(pool: asyncpg.Pool, key: PrivateSigningJwk, hub_id: str, now: datetime) -> None:
    """Sequence every pending entry and checkpoint them (a graceful stop calls this, so the last
    interval's entries are not left unprotected until the next start)."""
    while True:
        result = await sequence_and_checkpoint(pool, key, hub_id, now)
        if result is None or result.sequenced == 0:
            return


async def oldest_pending_at(conn: Conn) -> datetime | None:
    """When the oldest entry still awaiting sequencing was recorded (None if none is pending)."""
    at: datetime | None = await conn.fetchval(query("oldest_unsequenced_at"))
    return at


async def tree_nodes(conn: Conn, wanted: Iterable[Node]) -> dict[Node, bytes]:
    """The stored subtrees (level 0: leaf hashes) of these nodes; a node not stored is left out."""
    leaves = [n.index for n in wanted if n.level == 0]
    inner = [n for n in wanted if n.level > 0]
    found: dict[Node, bytes] = {}
    if leaves:
        for row in await conn.fetch(query("leaf_hashes_at"), leaves):
            found[Node(0, int(row["leaf_index"]))] = bytes(row["leaf_hash"])
    if inner:
        rows = await conn.fetch(query("tree_nodes"), [n.level for n in inner], [n.index for n in inner])
        for row in rows:
            found[Node(int(row["level"]), int(row["idx"]))] = bytes(row["hash"])
    return found


async def leaf_hashes_upto(conn: Conn, size: int) -> list[bytes]:
    """Every leaf hash of the tree of `size` (the slow path, for a log whose subtrees are not stored)."""
    return [bytes(r["leaf_hash"]) for r in await conn.fetch(query("leaf_hashes_upto"), size)]


async def load_log(conn: Conn) -> tuple[list[asyncpg.Record], list[asyncpg.Record], int]:
    """Every sequenced entry, every checkpoint, and how many entries still await sequencing."""
    entries = list(await conn.fetch(query("all_audit_entries")))
    checkpoints = list(await conn.fetch(query("all_checkpoints")))
    pending = int(await conn.fetchval(query("unsequenced_count")))
    return entries, checkpoints, pending


async def case_entries(conn: Conn, case_id: UUID) -> list[asyncpg.Record]:
    """The case's sequenced audit entries, in log order."""
    return list(await conn.fetch(query("case_audit_entries"), case_id))


async def checkpoint_covering(conn: Conn, tree_size: int) -> asyncpg.Record | None:
    """The first checkpoint (`tree_size`, `checkpoint`) of a tree of at least `tree_size` leaves."""
    row: asyncpg.Record | None = await conn.fetchrow(query("checkpoint_covering"), tree_size)
    return row


async def latest_checkpoint(conn: Conn) -> asyncpg.Record | None:
    """The latest checkpoint (`tree_size`, `checkpoint`, ...), None before the first."""
    row: asyncpg.Record | None = await conn.fetchrow(query("latest_checkpoint"))
    return row


async def checkpoint_at(conn: Conn, tree_size: int) -> asyncpg.Record | None:
    """The checkpoint of exactly `tree_size` leaves, if the hub signed one."""
    row: asyncpg.Record | None = await conn.fetchrow(query("checkpoint_at"), tree_size)
    return row


async def add_cosignature(
    conn: Conn, tree_size: int, witness_id: str, cosignature: str, at: datetime
) -> None:
    await conn.execute(query("insert_cosignature"), tree_size, witness_id, cosignature, at)


async def latest_cosigned_by(conn: Conn, witness_id: str) -> int | None:
    """The largest tree size the witness cosigned, None if it cosigned none."""
    size = await conn.fetchval(query("latest_cosigned_by"), witness_id)
    return None if size is None else int(size)


async def cosignatures_at(conn: Conn, tree_size: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(query("cosignatures_at"), tree_size))
