"""Storing an accepted message: message, case, parties, deliveries and timeline in one transaction.

The caller opens the transaction, reads a snapshot here (the case's parties are locked `FOR UPDATE`
so concurrent answers on one case apply one after the other), decides with the pure core, then
records the decision here. Recipients' inboxes are woken with NOTIFY, sent on commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from hub.core.admission import Admission, CaseSnapshot, DirectoryEntry, Party
from hub.core.case_state import RecipientState, next_state
from hub.core.envelope import NEW_REFERRAL_TYPES, Envelope
from hub.store.database import Conn
from hub.store.queries import query


@dataclass(frozen=True)
class StoredIdentity:
    sender_id: str
    payload_sha256: str
    receipt: str


@dataclass(frozen=True)
class SignedMessage:
    envelope: Envelope
    kid: str
    signed_form: bytes
    payload_sha256: str
    accepted_at: datetime


async def find_identity(conn: Conn, message_id: UUID) -> StoredIdentity | None:
    row = await conn.fetchrow(query("get_message_identity"), message_id)
    if row is None:
        return None
    return StoredIdentity(row["sender_id"], row["payload_sha256"], row["receipt"])


async def load_directory(conn: Conn, ids: Sequence[str]) -> dict[str, DirectoryEntry]:
    rows = await conn.fetch(query("get_participants"), list(ids))
    return {
        row["id"]: DirectoryEntry(row["id"], row["kind"], row["country"], frozenset(row["accepts"]))
        for row in rows
    }


async def load_case(conn: Conn, case_id: UUID) -> CaseSnapshot | None:
    case = await conn.fetchrow(query("get_case"), case_id)
    if case is None:
        return None
    parties = {
        row["participant_id"]: Party(row["role"], RecipientState(row["state"]) if row["state"] else None)
        for row in await conn.fetch(query("lock_case_parties"), case_id)
    }
    message_ids = frozenset(row["id"] for row in await conn.fetch(query("case_message_ids"), case_id))
    return CaseSnapshot(id=case_id, opened_by=case["opened_by"], parties=parties, message_ids=message_ids)


async def record_message(conn: Conn, message: SignedMessage, plan: Admission, receipt: str) -> None:
    env, at = message.envelope, message.accepted_at
    if plan.opens_case:
        await conn.execute(query("insert_case"), plan.case_id, env.sender, env.type, at)
        await conn.execute(
            query("insert_party"), plan.case_id, env.sender, "originator", None, env.sender, at
        )
        await record_event(conn, plan.case_id, at, "case.opened", env.sender, detail={"case_type": env.type})
    await conn.execute(
        query("insert_message"),
        env.id,
        env.sender,
        message.kid,
        env.type,
        env.version,
        plan.case_id,
        env.in_reply_to,
        list(plan.recipients),
        env.created_at,
        at,
        message.payload_sha256,
        message.signed_form,
        receipt,
    )
    await record_event(
        conn,
        plan.case_id,
        at,
        "message.accepted",
        env.sender,
        message_id=env.id,
        detail={"message_type": env.type, "to": list(plan.recipients)},
    )
    for move in plan.transitions:
        await _apply_transition(conn, plan.case_id, env, move.participant, move.from_state, move.to_state, at)
    rows = await conn.fetch(query("insert_deliveries"), env.id, list(plan.recipients), at)
    channels = {row["channel"] for row in rows}
    if "push" in channels:
        await conn.execute(query("ensure_destinations"), list(plan.recipients))
        await conn.execute(query("notify_delivery"))
    if "pull" in channels:
        await conn.execute(query("notify_inbox"), list(plan.recipients))


async def record_retrieval(
    conn: Conn,
    *,
    case_id: UUID,
    recipient: str,
    message_id: UUID,
    message_type: str,
    at: datetime,
    evidence: str,
    channel: str,
) -> None:
    """The recipient has the message (pulled it, or a push was accepted): a timeline event with the
    hub's signed evidence, and for a referral the recipient's move from `queued` to `retrieved`."""
    event = "message.retrieved" if channel == "pull" else "message.delivered"
    await record_event(
        conn, case_id, at, event, recipient, message_id=message_id, detail={"evidence": evidence}
    )
    if message_type not in NEW_REFERRAL_TYPES:
        return
    state = await conn.fetchval(query("lock_party_state"), case_id, recipient)
    if state is None:
        return
    current = RecipientState(state)
    target = next_state(current, RecipientState.RETRIEVED)
    if target is not None:
        await conn.execute(query("set_party_state"), case_id, recipient, str(current), str(target), at)
        await record_event(
            conn,
            case_id,
            at,
            "recipient.state_changed",
            recipient,
            subject=recipient,
            message_id=message_id,
            from_state=str(current),
            to_state=str(target),
        )


async def _apply_transition(
    conn: Conn,
    case_id: UUID,
    env: Envelope,
    participant: str,
    from_state: RecipientState | None,
    to_state: RecipientState,
    at: datetime,
) -> None:
    if from_state is None:
        await conn.execute(
            query("insert_party"), case_id, participant, "recipient", str(to_state), env.sender, at
        )
    else:
        await conn.execute(query("set_party_state"), case_id, participant, str(from_state), str(to_state), at)
    await record_event(
        conn,
        case_id,
        at,
        "recipient.state_changed",
        env.sender,
        subject=participant,
        message_id=env.id,
        from_state=from_state,
        to_state=to_state,
    )


async def record_event(
    conn: Conn,
    case_id: UUID,
    at: datetime,
    event: str,
    actor: str,
    *,
    subject: str | None = None,
    message_id: UUID | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    detail: dict[str, object] | None = None,
) -> None:
    await conn.execute(
        query("insert_event"),
        case_id,
        at,
        event,
        actor,
        subject,
        message_id,
        None if from_state is None else str(from_state),
        None if to_state is None else str(to_state),
        detail or {},
    )
