"""Storing an accepted message: message, case, parties, deliveries and timeline in one transaction.

The caller opens the transaction, reads a snapshot here (the case's parties are locked `FOR UPDATE`
so concurrent answers on one case apply one after the other), decides with the pure core, then
records the decision here. Recipients' inboxes are woken with NOTIFY, sent on commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from hub.core.admission import Admission, CaseSnapshot, DirectoryEntry, Party
from hub.core.case_state import RecipientState, next_state
from hub.core.case_view import parts_of_new_party
from hub.core.content_url import request_urls, url_digests
from hub.core.envelope import NEW_REFERRAL_TYPES, Envelope
from hub.core.policy import Clock
from hub.core.routing import RouteCandidate, content_hosts
from hub.core.signals import SignalPlan
from hub.core.vault import new_key, seal_with, wrap
from hub.store import content_urls, deadlines, signals
from hub.store.case_keys import Keyring, ShreddedError, encrypt_for_case
from hub.store.database import Conn
from hub.store.deferred_writes import is_deferring, write
from hub.store.events import record_event
from hub.store.queries import query
from hub.store.stats import signed_payload

Row = asyncpg.Record | dict[str, Any]  # a named query's row, or the same columns of `batch_snapshot`


@dataclass(frozen=True)
class StoredIdentity:
    sender_id: str
    payload_sha256: str
    receipt: str


@dataclass(frozen=True)
class Hop:
    """The hop a message made to reach this hub from a peer hub (docs/federation.md, section 4): the
    peer that forwarded it, the peer's signed receipt for it, and the case that receipt names (a referral
    opens its case here under the same id, so that answers name it alike on both hubs)."""

    peer: str
    receipt: str
    case_id: UUID


@dataclass(frozen=True)
class SignedMessage:
    envelope: Envelope
    kid: str
    signed_form: bytes
    payload_sha256: str
    accepted_at: datetime
    received_from: Hop | None = None  # set on a message a peer hub forwarded


async def find_identity(conn: Conn, message_id: UUID) -> StoredIdentity | None:
    row = await conn.fetchrow(query("get_message_identity"), message_id)
    if row is None:
        return None
    return StoredIdentity(row["sender_id"], row["payload_sha256"], row["receipt"])


async def find_identities(conn: Conn, message_ids: Sequence[UUID]) -> dict[UUID, StoredIdentity]:
    return identities_of(await conn.fetch(query("get_message_identities"), list(message_ids)))


def identities_of(rows: Sequence[Row]) -> dict[UUID, StoredIdentity]:
    """Rows of `get_message_identities` (or of `batch_snapshot`'s identities) by message id."""
    return {
        row["id"]: StoredIdentity(row["sender_id"], row["payload_sha256"], row["receipt"]) for row in rows
    }


async def load_directory(conn: Conn, ids: Sequence[str]) -> dict[str, DirectoryEntry]:
    return directory_of(await conn.fetch(query("get_participants"), list(ids)))


def directory_of(rows: Sequence[Row]) -> dict[str, DirectoryEntry]:
    """Rows of `get_participants` (or of `batch_snapshot`'s directory) as admission reads them."""
    return {
        row["id"]: DirectoryEntry(
            row["id"],
            row["kind"],
            row["country"],
            frozenset(row["accepts"]),
            trusted_flagger=row["trusted_flagger"],
            pulls=row["adapter"] == "pull",
        )
        for row in rows
    }


async def route_candidates(
    conn: Conn, route: Mapping[str, Any], body: Mapping[str, Any]
) -> list[RouteCandidate]:
    if route.get("by") == "content":
        rows = await conn.fetch(query("platforms_serving"), content_hosts(body))
    else:
        rows = await conn.fetch(
            query("participants_of_kind"), str(route.get("kind")), str(route.get("country"))
        )
    return [RouteCandidate(row["id"], row["kind"], row["country"], tuple(row["domains"])) for row in rows]


async def case_exists(conn: Conn, case_id: UUID) -> bool:
    return await conn.fetchrow(query("get_case"), case_id) is not None


async def load_case(conn: Conn, case_id: UUID) -> CaseSnapshot | None:
    case = await conn.fetchrow(query("get_case"), case_id)
    if case is None:
        return None
    parties = await conn.fetch(query("lock_case_parties"), case_id)
    return case_of(case, parties, await conn.fetch(query("case_message_ids"), case_id))


def case_of(case: Row, parties: Sequence[Row], messages: Sequence[Row]) -> CaseSnapshot:
    """A case as admission reads it, from its row (`get_case`), its parties' rows (`lock_case_parties`)
    and its messages' (`case_message_ids`), or the same columns of `batch_snapshot`."""
    case_id = case["id"]
    parties_by_id = {
        row["participant_id"]: Party(
            row["role"],
            RecipientState(row["state"]) if row["state"] else None,
            row["kind"],
            None if row["sees_parts"] is None else frozenset(row["sees_parts"]),
        )
        for row in parties
    }
    types = {row["id"]: row["message_type"] for row in messages}
    return CaseSnapshot(
        id=case_id,
        opened_by=case["opened_by"],
        parties=parties_by_id,
        message_types=types,
        closed=case["closed_at"] is not None,
        jurisdictions=tuple(case["jurisdictions"]),
        message_parties={row["id"]: frozenset({row["sender_id"], *row["recipients"]}) for row in messages},
    )


@dataclass(frozen=True)
class Request:
    """A takedown request of a case as a rule reads it: its sender and its body."""

    sender_id: str
    body: Mapping[str, Any]


async def takedown_to(conn: Conn, case_id: UUID, recipient: str, keyring: Keyring | None) -> Request | None:
    """The case's first takedown request addressed to `recipient` (its part of a fan-out), opened with the
    case's key; None when there is none or it was purged."""
    row = await conn.fetchrow(query("takedown_to_recipient"), case_id, recipient)
    if row is None:
        return None
    try:
        form = (
            bytes(row["signed_form"])
            if keyring is None
            else keyring.open(row["wrapped_key"], row["signed_form"], row["form_encrypted"])
        )
    except (ShreddedError, TypeError):
        return None
    body = signed_payload(form).get("body")
    return Request(row["sender_id"], body) if isinstance(body, dict) else None


async def record_message(
    conn: Conn,
    message: SignedMessage,
    plan: Admission,
    receipt: str,
    clocks: Mapping[str, Sequence[Clock]] | None = None,
    jurisdictions: Sequence[str] = (),
    keyring: Keyring | None = None,
    pull_recipients: frozenset[str] | None = None,
    hash_signals: SignalPlan | None = None,
    wrapped_key: bytes | None = None,
    owed: Sequence[deadlines.OwedClock] | None = None,
) -> None:
    """Store the message and everything it does: case, parties, states, clocks, deliveries, timeline,
    the hash signals of a takedown request's content.
    With a keyring the exact signed form is stored encrypted with the case's data key. A message that
    opens a case, when the caller knows which recipients pull, only inserts: its writes can be deferred
    (see `deferred_writes`). `wrapped_key`: the case's data key as the caller read it (`batch_snapshot`).

    An answer's writes are deferred too when a buffer is open, the caller knows which recipients pull,
    and, if it meets clocks, which clocks of the case it could change (`owed`, from the batch's snapshot):
    its recipients' moves and its meetings go out as conditional rows of the batch's statement. An
    answer that also withdraws, asks for or confirms deletion, closes the case or reports on hash
    signals (`_folds`) sends its own statements, as does every message with no buffer open (the per-row
    path, through the same named queries)."""
    if plan.opens_case and pull_recipients is not None:
        await _record_new_case(
            conn, message, plan, receipt, clocks or {}, jurisdictions, keyring, pull_recipients, hash_signals
        )
        return
    env, at = message.envelope, message.accepted_at
    stored_form = message.signed_form
    folded = pull_recipients is not None and _folds(plan, owed) and is_deferring(conn)
    if plan.opens_case:
        data_key, wrapped = (None, None) if keyring is None else _new_case_key(keyring)
        await conn.execute(
            query("open_case"), plan.case_id, env.sender, env.type, at, list(jurisdictions), wrapped
        )
        await record_event(conn, plan.case_id, at, "case.opened", env.sender, detail={"case_type": env.type})
        if data_key is not None:
            stored_form = seal_with(data_key, message.signed_form)
    elif keyring is not None:
        form = message.signed_form
        stored_form = await encrypt_for_case(conn, keyring, plan.case_id, form, at, wrapped_key)
    row = _message_row(message, plan, receipt, stored_form, keyring)
    await _put(conn, folded, "insert_message", *row, message_id=env.id)
    await _record_url_digests(conn, message, plan, keyring)
    if hash_signals is not None:
        await signals.record_signals(conn, plan.case_id, env.id, hash_signals, at)
    await _record_accepted(conn, message, plan)
    for move in plan.transitions:
        await _apply_transition(
            conn, plan.case_id, env, move.participant, move.from_state, move.to_state, at, folded
        )
    await apply_lifecycle(conn, plan, env, at, owed if folded else None)
    starts = clocks or {}
    if plan.signal_outcomes:
        await signals.record_outcomes(conn, plan.case_id, env.sender, env.id, plan.signal_outcomes, at)
    if plan.reports_located_copy and starts.get(env.sender):  # its reporter knows of it now
        await deadlines.start_clocks(
            conn,
            case_id=plan.case_id,
            message_id=env.id,
            recipient=env.sender,
            clocks=starts[env.sender],
            told_at=at,
        )
    if folded and pull_recipients is not None:
        await write(conn, "insert_deliveries", env.id, list(plan.recipients), at, _held(plan, starts))
        await _start_clocks_of_pulls(conn, plan.case_id, env.id, plan.recipients, pull_recipients, starts, at)
        return
    held = _held(plan, starts)
    rows = await conn.fetch(query("insert_deliveries"), env.id, list(plan.recipients), at, held)
    await _start_clocks_of_pull_recipients(conn, plan.case_id, env.id, rows, starts, at)


def _folds(plan: Admission, owed: Sequence[deadlines.OwedClock] | None) -> bool:
    """Whether an answer's writes can all wait with the batch's rows: its moves and meetings can (the
    latter with the clocks it could change known), the less common parts of a plan send statements of
    their own, whose rows the deferred ones could not yet see (a case closed, clocks cancelled,
    deliveries withheld, signals withdrawn or reported on)."""
    return (
        (owed is not None or not plan.meets)
        and not plan.cancels_for
        and not plan.closes
        and not plan.confirms_deletion
        and not plan.requests_deletion
        and not plan.signal_outcomes
    )


async def _put(conn: Conn, deferred: bool, name: str, *args: Any, message_id: UUID | None = None) -> None:
    """A write with the batch's rows (`deferred`), else now, through its named query."""
    if deferred:
        await write(conn, name, *args, message_id=message_id)
    else:
        await conn.execute(query(name), *args)


async def _record_new_case(
    conn: Conn,
    message: SignedMessage,
    plan: Admission,
    receipt: str,
    clocks: Mapping[str, Sequence[Clock]],
    jurisdictions: Sequence[str],
    keyring: Keyring | None,
    pull_recipients: frozenset[str],
    hash_signals: SignalPlan | None,
) -> None:
    """A new case, in inserts only (deferred when a buffer is open): the case with its originator and
    data key, the message, each recipient `queued`, the deliveries, and the clocks of pull recipients
    (told now: the message is in their inbox)."""
    env, at, case_id = message.envelope, message.accepted_at, plan.case_id
    data_key, wrapped = (None, None) if keyring is None else _new_case_key(keyring)
    stored_form = message.signed_form if data_key is None else seal_with(data_key, message.signed_form)
    await write(conn, "open_case", case_id, env.sender, env.type, at, list(jurisdictions), wrapped)
    await record_event(conn, case_id, at, "case.opened", env.sender, detail={"case_type": env.type})
    row = _message_row(message, plan, receipt, stored_form, keyring)
    await write(conn, "insert_message", *row, message_id=env.id)
    await _record_url_digests(conn, message, plan, keyring)
    if hash_signals is not None:
        await signals.record_signals(conn, case_id, env.id, hash_signals, at)
    await _record_accepted(conn, message, plan)
    for move in plan.transitions:
        await write(
            conn,
            "insert_party",
            case_id,
            move.participant,
            "recipient",
            str(move.to_state),
            env.sender,
            at,
            parts_of_new_party("recipient", move.participant),
        )
        await record_event(
            conn,
            case_id,
            at,
            "recipient.state_changed",
            env.sender,
            subject=move.participant,
            message_id=env.id,
            from_state=None,
            to_state=move.to_state,
        )
    await write(conn, "insert_deliveries", env.id, list(plan.recipients), at, _held(plan, clocks))
    await _start_clocks_of_pulls(conn, case_id, env.id, plan.recipients, pull_recipients, clocks, at)


async def _start_clocks_of_pulls(
    conn: Conn,
    case_id: UUID,
    message_id: UUID,
    recipients: Sequence[str],
    pull_recipients: frozenset[str],
    clocks: Mapping[str, Sequence[Clock]],
    at: datetime,
) -> None:
    """The clocks of a message's pull recipients (told now: it is in their inbox), known beforehand
    from the directory, in inserts only (the message is new: it has no clock yet)."""
    for recipient in recipients:
        if recipient in pull_recipients and clocks.get(recipient):
            await deadlines.start_new_clocks(
                conn,
                case_id=case_id,
                message_id=message_id,
                recipient=recipient,
                clocks=clocks[recipient],
                told_at=at,
            )


async def _record_url_digests(
    conn: Conn, message: SignedMessage, plan: Admission, keyring: Keyring | None
) -> None:
    """The keyed digests of a takedown request's content URLs, so a search by URL finds its case without
    the URL being stored (`hub.core.content_url`); none without the hub's key (tools, tests)."""
    env = message.envelope
    urls = request_urls(env.type, env.body)
    if keyring is not None and urls:
        digests = url_digests(keyring.content_url_key, urls)
        await content_urls.record_url_digests(conn, plan.case_id, env.id, digests)


def _message_row(
    message: SignedMessage, plan: Admission, receipt: str, stored_form: bytes, keyring: Keyring | None
) -> tuple[Any, ...]:
    env = message.envelope
    return (
        env.id,
        env.sender,
        message.kid,
        env.type,
        env.version,
        plan.case_id,
        env.in_reply_to,
        list(plan.recipients),
        env.created_at,
        message.accepted_at,
        message.payload_sha256,
        stored_form,
        receipt,
        keyring is not None,
        _category(env),
    )


async def _record_accepted(conn: Conn, message: SignedMessage, plan: Admission) -> None:
    env = message.envelope
    await record_event(
        conn,
        plan.case_id,
        message.accepted_at,
        "message.accepted",
        env.sender,
        message_id=env.id,
        detail={
            "message_type": env.type,
            "to": list(plan.recipients),
            "payload_sha256": message.payload_sha256,  # binds the entry to the exact message
            "kid": message.kid,
            **_attested(env),
        },
    )
    hop = message.received_from
    if hop is not None:  # the hop before this hub's, with the evidence of the hub that made it
        await record_event(
            conn,
            plan.case_id,
            message.accepted_at,
            "message.received_from_hub",
            hop.peer,
            message_id=env.id,
            detail={
                "receipt": hop.receipt,
                "payload_sha256": message.payload_sha256,
                "to": list(plan.recipients),  # its recipients see the hop that brought it
            },
        )


def _attested(env: Envelope) -> dict[str, str]:
    """For the timeline: how an answer the hub attests reached it, and that the hub attests it (no
    address: the audit log keeps its entries for ever)."""
    if env.attestation is None:
        return {}
    return {"channel": str(env.attestation.get("channel")), "attested_by": str(env.attestation.get("by"))}


def _held(plan: Admission, clocks: Mapping[str, Sequence[Clock]]) -> dict[str, list[dict[str, Any]]]:
    """The clocks each push recipient's delivery holds until the push succeeds."""
    return {r: [deadlines.clock_to_json(c) for c in clocks[r]] for r in plan.recipients if clocks.get(r)}


def _new_case_key(keyring: Keyring) -> tuple[bytes, bytes]:
    """A new case's data key, and the same wrapped with the hub's storage key (what is stored)."""
    key = new_key()
    return key, wrap(keyring.storage_key, key)


def _category(envelope: Envelope) -> str | None:
    """What statistics keep of a takedown request's body once it is purged: its category (not personal)."""
    category = envelope.body.get("category") if envelope.type == "takedown-request" else None
    return str(category) if isinstance(category, str) else None


async def _start_clocks_of_pull_recipients(
    conn: Conn,
    case_id: UUID,
    message_id: UUID,
    deliveries: Sequence[asyncpg.Record],
    clocks: Mapping[str, Sequence[Clock]],
    at: datetime,
) -> None:
    """A pull recipient is told now (the message is in its inbox); a push recipient when the push
    succeeds, so its clocks wait on its delivery row (written with it) until then."""
    for row in deliveries:
        owed = clocks.get(row["recipient_id"], ())
        if owed and row["channel"] == "pull":
            await deadlines.start_clocks(
                conn,
                case_id=case_id,
                message_id=message_id,
                recipient=row["recipient_id"],
                clocks=owed,
                told_at=at,
            )


async def apply_lifecycle(
    conn: Conn,
    plan: Admission,
    env: Envelope,
    at: datetime,
    owed: Sequence[deadlines.OwedClock] | None = None,
) -> None:
    """Clocks met or cancelled, deletion requested (and the hash signals withdrawn) or confirmed, the case
    closed. `owed`: the case's clocks the meeting could change, when it is to wait with the batch's rows."""
    if plan.meets:
        await deadlines.meet(
            conn,
            case_id=plan.case_id,
            participant=env.sender,
            kinds=plan.meets,
            message_id=env.id,
            at=at,
            answers=env.in_reply_to,
            owed=owed,
        )
    if plan.cancels_for:
        keep = () if plan.closes else ("confirm_deletion",)
        await deadlines.cancel(
            conn, case_id=plan.case_id, participants=plan.cancels_for, at=at, actor=env.sender, keep=keep
        )
    if plan.requests_deletion:
        await conn.execute(query("request_deletion"), plan.case_id, list(plan.recipients), at)
        for row in await conn.fetch(query("withhold_withdrawn"), plan.case_id, list(plan.recipients), env.id):
            await record_event(
                conn,
                plan.case_id,
                at,
                "delivery.withheld",
                env.sender,
                subject=row["recipient_id"],
                message_id=row["message_id"],
            )
        await signals.withdraw_signals(conn, plan.case_id, at)
    if plan.confirms_deletion:
        await conn.execute(query("confirm_deletion"), plan.case_id, env.sender, at)
        await record_event(
            conn, plan.case_id, at, "deletion.confirmed", env.sender, subject=env.sender, message_id=env.id
        )
    if plan.closes:
        await conn.execute(query("close_case"), plan.case_id, at, env.sender, str(env.body.get("reason", "")))
        await record_event(
            conn,
            plan.case_id,
            at,
            "case.closed",
            env.sender,
            message_id=env.id,
            detail={"reason": str(env.body.get("reason", ""))},
        )


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
) -> str | None:
    """The recipient has the message (pulled it, or a push was accepted): a timeline event with the
    hub's signed evidence, and for a referral the recipient's move from `queued` to `retrieved`.
    Returns the recipient's state when it was read (for a referral), else None."""
    event = "message.retrieved" if channel == "pull" else "message.delivered"
    await record_event(
        conn, case_id, at, event, recipient, message_id=message_id, detail={"evidence": evidence}
    )
    if message_type not in NEW_REFERRAL_TYPES:
        return None
    state = await conn.fetchval(query("lock_party_state"), case_id, recipient)
    if state is None:
        return None
    current = RecipientState(state)
    if current is RecipientState.WITHDRAWN:  # taking a withdrawn referral out of the inbox changes nothing
        return str(current)
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
        return str(target)
    return str(current)


async def _apply_transition(
    conn: Conn,
    case_id: UUID,
    env: Envelope,
    participant: str,
    from_state: RecipientState | None,
    to_state: RecipientState,
    at: datetime,
    deferred: bool = False,
) -> None:
    """A recipient added to the case, or moved on from the state admission saw (`set_party_state`,
    which raises when it is not in it); with the batch's rows when `deferred`."""
    if from_state is None:
        await _put(
            conn,
            deferred,
            "insert_party",
            case_id,
            participant,
            "recipient",
            str(to_state),
            env.sender,
            at,
            parts_of_new_party("recipient", participant),
        )
    else:
        moved = (case_id, participant, str(from_state), str(to_state), at)
        await _put(conn, deferred, "set_party_state", *moved)
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
