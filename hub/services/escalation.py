"""Hub-issued escalations: a reminder before a legal deadline, a negative evidence after it.

An escalation is an ordinary message of the `escalation` template, issued by the hub's one way of
issuing messages (`hub.services.issuer`: template check, the hub's signature, `admit()`), stored and
delivered like any other (inbox or push) and shown on the case's timeline. A reminder goes to the
participant who owes the answer; a breach goes to whoever asked (the sender of the message whose clock
it is: the hotline for a referral, the liaison for an information request) and, where the jurisdiction's
policy says so, to the jurisdiction's regulators, with whom the case is then shared.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from hub.core.clock import rfc3339
from hub.services.issuer import Issuer
from hub.store import deadlines
from hub.store.database import Conn
from hub.store.events import record_event


async def issue_escalation(
    conn: Conn, issuer: Issuer, deadline: asyncpg.Record, *, kind: str, now: datetime
) -> UUID:
    recipient, case_id = deadline["recipient_id"], deadline["case_id"]
    # A reminder goes to who owes the answer; a breach to who asked (the message's sender: the hotline
    # for a referral, the liaison for an information request).
    to = [recipient] if kind == "reminder" else [deadline["sender_id"]]
    regulators: list[str] = []
    if kind == "breach" and deadline["notify_regulator"]:
        regulators = await deadlines.regulators_of(conn, deadline["jurisdiction"])
        to += [r for r in regulators if r not in to and r != recipient]
    payload = await _envelope(conn, issuer.hub.hub_id, deadline, kind=kind, to=to, now=now)
    for regulator in regulators:  # a party before the escalation names it as a recipient
        await _share_with(conn, case_id, regulator, issuer.hub.hub_id, now)
    await issuer.issue(payload, now, conn)
    return UUID(payload["id"])


async def _envelope(
    conn: Conn, hub_id: str, deadline: asyncpg.Record, *, kind: str, to: list[str], now: datetime
) -> dict[str, Any]:
    state = await deadlines.party_state(conn, deadline["case_id"], deadline["recipient_id"])
    evidence = await deadlines.delivery_evidence(conn, deadline["message_id"], deadline["recipient_id"])
    body: dict[str, Any] = {
        "kind": kind,
        "deadline": str(deadline["kind"]).replace("_", "-"),
        "recipient": deadline["recipient_id"],
        "jurisdiction": deadline["jurisdiction"],
        "rule": deadline["rule_id"],
        "legal_basis": deadline["legal_basis"],
        "told_at": rfc3339(deadline["started_at"]),
        "due_at": rfc3339(deadline["due_at"]),
        "issued_at": rfc3339(now),
    }
    if state is not None:
        body["recipient_state"] = state
    if evidence:
        body["delivery_evidence"] = evidence
    return {
        "id": str(uuid.uuid4()),
        "type": "escalation",
        "version": "1.0",
        "from": hub_id,
        "to": to,
        "case": str(deadline["case_id"]),
        "in_reply_to": str(deadline["message_id"]),
        "created_at": rfc3339(now),
        "body": body,
    }


async def _share_with(conn: Conn, case_id: UUID, participant: str, hub_id: str, now: datetime) -> None:
    # A regulator the hub shares with on an escalation sees the whole case.
    if await deadlines.add_whole_case_party(conn, case_id, participant, hub_id, now):
        await record_event(
            conn, case_id, now, "case.shared", hub_id, subject=participant, detail={"reason": "escalation"}
        )
