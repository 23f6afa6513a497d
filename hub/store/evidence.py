"""What an operator's evidence bundle reads from the database: a case's messages in their stored form,
its delivery evidences, and the public keys of its parties (with validity and revocation).

The named queries are in `queries/audit.sql`; the bundle itself is assembled in `hub.evidence.export`.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from hub.store.database import Conn
from hub.store.queries import query


async def case_messages(conn: Conn, case_id: UUID) -> list[asyncpg.Record]:
    """Every message of the case, oldest first: sender, type, digest, receipt, and the signed form as
    stored (None once purged; encrypted where `form_encrypted`, with the case's `wrapped_key`)."""
    return list(await conn.fetch(query("evidence_messages"), case_id))


async def case_delivery_evidences(conn: Conn, case_id: UUID) -> list[tuple[str, str, str]]:
    """(message id, recipient, hub-signed delivery evidence) of every delivery of the case that has one."""
    rows = await conn.fetch(query("evidence_deliveries"), case_id)
    return [(str(r["message_id"]), r["recipient_id"], r["evidence"]) for r in rows]


async def participant_keys(conn: Conn, participants: Sequence[str]) -> list[asyncpg.Record]:
    """Every key these participants ever had (`participant_id`, `jwk`, `not_before`, `not_after`,
    `revoked_at`, and how it entered: `origin`, `epoch`, `binding`), by participant, oldest first."""
    return list(await conn.fetch(query("evidence_keys"), list(participants)))
