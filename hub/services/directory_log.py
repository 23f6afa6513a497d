"""A participant's directory history with proof: every change of its entry the hub wrote into the audit
log (registered, keys added, bound, revoked, reset, delivery address bound), each with its RFC 9162
inclusion proof to the hub's latest signed checkpoint, for `GET /v1/participants/{id}/log`.

With it, a participant that seals to another's key checks that the key it was given is the one in the
log that the key's owner monitors (`hub keys monitor`) and everyone's `hub keys check-log` keeps
consistent: an operator who shows one client a key the log does not hold is caught by that client
(`hub/core/directory_proof.py`).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from hub.core.refusal import Refusal
from hub.services.proofs import proven_entries
from hub.store import audit, directory
from hub.store.database import Conn


async def participant_log(pool: asyncpg.Pool, participant_id: str) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        if await directory.get_participant(conn, participant_id) is None:
            raise Refusal("not-found", "no such participant")
        return await log_document(conn, participant_id)


async def log_document(conn: Conn, participant_id: str) -> dict[str, Any]:
    """The participant's directory entries proven to the latest checkpoint: the answer of
    `GET /v1/participants/{id}/log`, and the key proof an evidence bundle carries for each party."""
    rows = await directory.directory_entries(conn, participant_id)
    latest = await audit.latest_checkpoint(conn)
    # entries the sequencer has not placed yet, or placed after the latest checkpoint, are counted
    entries = [] if latest is None else await proven_entries(conn, rows, int(latest["tree_size"]))
    return {
        "participant_id": participant_id,
        "checkpoint": None if latest is None else str(latest["checkpoint"]),
        "entries": [entry.document() for entry in entries],
        "not_yet_checkpointed": len(rows) - len(entries),
    }
