"""The purge job: at the end of retention, a case's personal data is deleted and its key destroyed.

Deleted: the signed forms of its messages (the URLs of reported content, the sender's words, sealed
ciphertext), raw e-mails, raw Coop callbacks and the hashes of its content (each hash signal turns
`deleted` on every platform's feed, `hub/core/signals.py`, and what platforms' HMA banks hold of them is
due for the bank sweep, `hub/services/bank_sweep.py`); destroyed: the case's data key, so copies in
backups cannot be read either (crypto-shredding). Kept: identifiers, times, states, digests, receipts,
delivery evidences, clocks, the timeline, the audit log (whose entries never held personal data) and so
the statistics. Each purge is recorded (`purges`, and `case.purged` on the timeline and in the audit
log). Cases are purged one per transaction, each locked with SKIP LOCKED, so several hub processes can
run the job at once.

E-mail to no known reply address belongs to no case: it is deleted outright once its short retention
(`HUB_MAILIN_UNMATCHED_RETENTION_HOURS`) is over (`purge_unmatched_mail`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from hub.core.case_state import RecipientState, case_status
from hub.core.retention import RetentionPolicy, final_at, purge_at, unmatched_mail_cutoff
from hub.store.content_urls import delete_url_digests
from hub.store.events import record_event
from hub.store.queries import query
from hub.store.signals import delete_signals


@dataclass(frozen=True)
class PurgeCandidate:
    case_id: UUID
    case_type: str
    final_at: datetime
    final_status: str
    due: bool
    purge_at: datetime  # when its retention period ends (hub.core.retention.purge_at)


async def candidates(
    pool: asyncpg.Pool, policy: RetentionPolicy, now: datetime, limit: int = 500
) -> list[PurgeCandidate]:
    found = []
    for row in await pool.fetch(query("purge_candidates"), limit):
        states = list(zip(row["states"], row["changed"], strict=True))
        final = final_at(row["closed_at"], states)
        if final is None:
            continue
        status = (
            "closed" if row["closed_at"] is not None else case_status(RecipientState(s) for s, _ in states)
        )
        at = purge_at(
            policy,
            case_type=row["case_type"],
            final_status=status,
            closed_at=row["closed_at"],
            recipient_states=states,
        )
        if at is None:
            continue
        found.append(PurgeCandidate(row["id"], row["case_type"], final, status, now >= at, at))
    return found


async def purge_case(
    pool: asyncpg.Pool, candidate: PurgeCandidate, policy: RetentionPolicy, now: datetime
) -> bool:
    """Purge one case; False if another process is purging it or already did."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(query("lock_case_for_purge"), candidate.case_id) is None:
            return False
        messages = await conn.fetch(query("purge_messages"), candidate.case_id)
        await conn.execute(query("shred_case_key"), candidate.case_id, now)
        mails = await conn.fetch(query("purge_inbound_mail"), candidate.case_id)
        callbacks = await conn.fetch(query("purge_coop_callbacks"), candidate.case_id)
        banked = await conn.fetch(query("purge_bank_contents"), candidate.case_id, now)
        deliveries = await conn.fetch(query("purge_pending_deliveries"), candidate.case_id)
        signals = await delete_signals(conn, candidate.case_id, now)
        await delete_url_digests(conn, candidate.case_id)  # what a search by content URL would match
        await conn.execute(query("mark_case_purged"), candidate.case_id, now)
        retention = policy.period(candidate.case_type, candidate.final_status)
        detail = {
            "messages": len(messages),
            "emails": len(mails),
            "coop_callbacks": len(callbacks),
            "bank_contents_due": len(banked),
            "undelivered": len(deliveries),
            "signal_copies": signals,
            "final_status": candidate.final_status,
            "retention_days": retention.days,
        }
        await conn.execute(
            query("insert_purge"), candidate.case_id, now, candidate.final_at, retention, detail
        )
        await record_event(conn, candidate.case_id, now, "case.purged", "hub", detail=detail)
    return True


async def purge_due_cases(pool: asyncpg.Pool, policy: RetentionPolicy, now: datetime) -> list[UUID]:
    purged = []
    for candidate in await candidates(pool, policy, now):
        if candidate.due and await purge_case(pool, candidate, policy, now):
            purged.append(candidate.case_id)
    return purged


async def purge_unmatched_mail(pool: asyncpg.Pool, now: datetime, retention_hours: int) -> int:
    """Delete the mail to no known reply address whose retention is over; how many were deleted."""
    cutoff = unmatched_mail_cutoff(now, retention_hours)
    return len(await pool.fetch(query("delete_unmatched_mail"), cutoff))
