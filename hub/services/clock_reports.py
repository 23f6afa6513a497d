"""Clock results told across hubs (docs/federation.md, section 6): each hub counts its own participants'
legal clocks, and when one ends on a message a peer hub's participant sent (met, answered late after a
breach, breached) tells that participant with a `clock-result` the hub issues and signs. It is addressed
to the participant's global id, so the delivery worker forwards it to the peer hub (adapter `hub`), which
takes it from its peer as a hub-issued message and records it on its case.

The ends are queued in the transaction that ends the clock (`hub.store.deadlines.queue_report`); the
clock worker reports them one at a time, each issued in the transaction that marks it reported, so each
is issued once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from hub.core.clock import rfc3339
from hub.core.refusal import Refusal
from hub.services.issuer import Issuer
from hub.store import deadlines
from hub.store.database import Conn

log = structlog.get_logger("hub.clocks")


async def report_next(conn: Conn, issuer: Issuer, now: datetime) -> bool:
    """Issue the report of one queued clock end, in the caller's transaction; False when none is queued.
    A report the hub's own checks refuse (the participant who asked is no longer a party) is marked
    reported without a message, and logged, so that it never holds up the others."""
    claimed = await deadlines.claim_report(conn)
    if claimed is None:
        return False
    payload = clock_result(issuer.hub.hub_id, claimed, now)
    report_id: UUID | None = UUID(payload["id"])
    try:
        async with conn.transaction():  # a savepoint: a refused report leaves nothing of itself
            await issuer.issue(payload, now, conn)
    except Refusal as refusal:
        log.warning("clock_report.refused", case_id=str(claimed["case_id"]), problem=refusal.code)
        report_id = None
    await deadlines.mark_reported(conn, claimed["report_seq"], now, report_id)
    return True


def clock_result(hub_id: str, end: asyncpg.Record, now: datetime) -> dict[str, Any]:
    """The `clock-result` envelope for one clock end, to the participant who sent the clock's message."""
    body: dict[str, Any] = {
        "result": end["result"],
        "deadline": str(end["kind"]).replace("_", "-"),
        "recipient": end["recipient_id"],
        "jurisdiction": end["jurisdiction"],
        "rule": end["rule_id"],
        "legal_basis": end["legal_basis"],
        "told_at": rfc3339(end["started_at"]),
        "due_at": rfc3339(end["due_at"]),
        "at": rfc3339(end["at"]),
    }
    if end["answered_by"] is not None:
        body["answered_by"] = str(end["answered_by"])
    if end["escalation"] is not None:
        body["escalation"] = str(end["escalation"])
    return {
        "id": str(uuid.uuid4()),
        "type": "clock-result",
        "version": "1.0",
        "from": hub_id,
        "to": [end["sender_id"]],
        "case": str(end["case_id"]),
        "in_reply_to": str(end["message_id"]),
        "created_at": rfc3339(now),
        "body": body,
    }
