"""Intake: from the bytes of a submitted message to a committed case change and a signed receipt.

Order matters and is the contract's: the JWS is parsed, its key found in the directory and checked
for validity at the time of receipt, the signature verified, the payload validated against its
template, the sender checked to be the key's owner; then, in one transaction, the message is
admitted to a case and recorded. The receipt is returned only after commit, so a `202` always means
stored. A refusal at any step stores nothing.

Idempotency: a message is known by its `id`. The same message again (same sender, same payload
digest) gets the receipt it got the first time; the same id with other content is a conflict.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import structlog

from hub.core import inputs
from hub.core.admission import Admission, CaseSnapshot, DirectoryEntry, admit
from hub.core.envelope import Envelope
from hub.core.global_id import global_id, home_hub_of
from hub.core.hub_identity import HubIdentity
from hub.core.jose import (
    BadSignatureError,
    JoseError,
    MalformedJwsError,
    ParsedJws,
    PublicJwk,
    check_all_signed,
    parse_jws,
    sha256_hex,
    verify_signature,
)
from hub.core.policy import Clock, PolicyBook
from hub.core.receipt import sign_receipt
from hub.core.refusal import Refusal
from hub.core.routing import resolve_route
from hub.core.sealing import EncryptionKey, check_sealed_copies, current_kid, sealed_values
from hub.core.signals import SignalPlan, consents_to_sharing, plan_signals
from hub.core.templates import TemplateCatalog, UnknownTemplateError
from hub.services.batcher import Batcher
from hub.store import directory, messages, signals
from hub.store.batch_snapshot import read_snapshot
from hub.store.case_keys import Keyring
from hub.store.database import Conn
from hub.store.deadlines import OwedClock
from hub.store.deferred_writes import deferred_writes, flush_writes
from hub.store.directory import KeyRecord

log = structlog.get_logger("hub.intake")


@dataclass(frozen=True)
class Intake:
    pool: asyncpg.Pool
    catalog: TemplateCatalog
    hub: HubIdentity
    policies: PolicyBook = field(default_factory=lambda: PolicyBook(()))
    keyring: Keyring | None = None  # None: messages stored in clear (tools and tests without a storage key)
    # Concurrent submissions committed together; None: one transaction per message.
    group_commit: Batcher[messages.SignedMessage, Accepted] | None = None
    # Concurrent lookups of signing keys made in one query; None: one query per message.
    key_lookup: Batcher[str, KeyRecord | None] | None = None


@dataclass(frozen=True)
class Accepted:
    receipt: str
    replayed: bool


async def submit_message(intake: Intake, raw: bytes, received_at: datetime) -> Accepted:
    jws = parse_submission(raw)
    payload = payload_object(jws)
    key = await _signing_key(intake, jws, received_at)
    if "attestation" in payload:
        raise Refusal("hub-only-type", "only the hub marks a message as hub-attested")
    envelope = validated_envelope(intake.catalog, payload)
    if key.participant_id == intake.hub.hub_id:
        raise Refusal(
            "sender-mismatch", "the hub's own key signs only what the hub issues, never a submission"
        )
    if envelope.sender != key.participant_id:
        raise Refusal(
            "sender-mismatch",
            f"the message says it is from '{envelope.sender}' but is signed with another participant's key",
        )
    signed = messages.SignedMessage(envelope, key.kid, raw, sha256_hex(jws.payload), received_at)
    if intake.group_commit is not None:
        return await intake.group_commit.submit(signed, lambda batch: _record_batch(intake, batch))
    return await _record_or_replay(intake, signed)


def inline_answers(intake: Intake) -> Callable[[bytes, datetime], Awaitable[Accepted]]:
    """What takes a recipient's answer given inline in a push response: `submit_message`, as if posted."""

    def take(raw: bytes, received_at: datetime) -> Awaitable[Accepted]:
        return submit_message(intake, raw, received_at)

    return take


async def _record_or_replay(intake: Intake, signed: messages.SignedMessage) -> Accepted:
    async with intake.pool.acquire() as conn:
        try:
            return await _record(intake, conn, signed)
        except asyncpg.UniqueViolationError:
            # A concurrent submission of the same id committed first: answer as for a resubmission.
            replay = await _replay(conn, signed)
            if replay is None:
                raise
            return replay


async def record_issued(intake: Intake, signed: messages.SignedMessage, conn: Conn | None = None) -> Accepted:
    """Admit and record a message the hub signed itself (`hub.services.issuer` makes them, and is the
    only caller): the same decision (`admit()`), legal clocks, receipt, storage and deliveries as a
    participant's message. On `conn` it runs inside the caller's open transaction (the clock worker's:
    the escalation commits with the clock's new state); else on a connection of its own."""
    if signed.kid != intake.hub.kid:
        raise ValueError("only a message signed with the hub's own key is recorded as issued by it")
    if conn is None:
        return await _record_or_replay(intake, signed)
    return await _record(intake, conn, signed)


async def record_forwarded(intake: Intake, signed: messages.SignedMessage) -> Accepted:
    """Admit and record a message a peer hub forwarded, once `hub.services.federation` (the only caller)
    has checked the hop and read its ids in this hub's namespace: then it is taken as any message, by
    the same decision, sealing check, clocks, receipt, storage and deliveries (and the same replay: the
    same id and bytes get the first receipt)."""
    if signed.received_from is None:
        raise ValueError("only a message that came from a peer hub is recorded as forwarded")
    return await _record_or_replay(intake, signed)


def parse_submission(raw: bytes) -> ParsedJws:
    try:
        jws = parse_jws(raw)
        if len(jws.signatures) != 1:
            raise MalformedJwsError("a message carries exactly one signature, its sender's")
        check_all_signed(jws)  # nothing unprotected, no key beside the kid (issue 14, finding 10)
    except JoseError as exc:
        raise Refusal(exc.fault or "malformed-jws", f"not a valid JWS: {exc}") from None
    return jws


def payload_object(jws: ParsedJws) -> dict[str, Any]:
    """The envelope: UTF-8 JSON under the hub's strict profile (``hub.core.inputs``), as every recipient
    must be able to read the exact bytes the hub forwards."""
    try:
        payload = inputs.loads(jws.payload, what="the JWS payload")
    except inputs.JsonFault as fault:
        raise Refusal(fault.code, str(fault)) from None
    if not isinstance(payload, dict):
        raise Refusal("malformed-json", "the JWS payload must be a JSON object (the envelope)")
    return payload


async def _signing_key(intake: Intake, jws: ParsedJws, at: datetime) -> KeyRecord:
    signature = jws.signatures[0]
    if intake.key_lookup is None:
        record = await directory.get_key(intake.pool, signature.kid)
    else:
        record = await intake.key_lookup.submit(
            signature.kid, lambda kids: directory.keys_in_order(intake.pool, kids)
        )
    if record is None or record.use != "sig":
        raise Refusal("unknown-key", "the JWS kid names no signing key in the directory")
    problem = record.problem_at(at)
    if problem is not None:
        raise Refusal("key-not-valid", f"the signing key is {problem}")
    try:
        verify_signature(jws, signature, PublicJwk.from_dict(record.jwk))
    except BadSignatureError:
        raise Refusal("bad-signature", "the signature does not verify with the key the kid names") from None
    return record


def validated_envelope(catalog: TemplateCatalog, payload: dict[str, Any]) -> Envelope:
    try:
        faults = catalog.validate(payload)
    except UnknownTemplateError as exc:
        raise Refusal("unknown-template", str(exc)) from None
    if faults:
        raise Refusal(
            "schema-invalid",
            f"the message does not match its template ({len(faults)} fault(s))",
            errors=[{"pointer": f.pointer, "detail": f.message} for f in faults],
        )
    return Envelope.from_payload(payload)


@dataclass(frozen=True)
class _Decision:
    """What a message will do, decided on a snapshot read in the open transaction: nothing written yet."""

    signed: messages.SignedMessage
    plan: Admission
    clocks: dict[str, list[Clock]]
    jurisdictions: tuple[str, ...]
    receipt: str
    pull_recipients: frozenset[str] | None  # known from the directory: its writes can then be deferred
    hash_signals: SignalPlan | None  # a takedown request's content hashes, for the platforms' matchers
    owed: tuple[OwedClock, ...] | None = None  # the answered case's clocks it could change (its snapshot's)


async def _record(intake: Intake, conn: Conn, signed: messages.SignedMessage) -> Accepted:
    async with conn.transaction(), deferred_writes(conn):
        prefetched = await _Prefetched.read(conn, [signed])  # what it reads, in one statement
        decision = await _decide(intake, conn, signed, prefetched)
        if isinstance(decision, Accepted):
            return decision
        await _write(intake, conn, decision, prefetched.case_keys.get(decision.plan.case_id))
    _log_accepted(decision)
    return Accepted(receipt=decision.receipt, replayed=False)


async def _record_batch(
    intake: Intake, batch: Sequence[messages.SignedMessage]
) -> list[Accepted | Exception]:
    """Several messages stored together (group commit). A refusal reads but writes nothing, so it
    leaves the others' writes standing; any failure while writing undoes the whole batch, which is then
    recorded one message per transaction, so that only the message at fault fails.

    A batch of new referrals (the common case under load) only reads, then inserts: its rows go out
    in one statement (`deferred_writes`), which is its own transaction, so it opens none. A batch with
    an answer in it locks and updates what it answers, in a transaction."""
    if all(signed.envelope.opens_case for signed in batch):
        return await _record_new_referrals(intake, batch)
    if len(batch) == 1:
        return [await _outcome(_record_or_replay(intake, batch[0]))]
    outcomes: list[Accepted | Exception] = []
    written: list[_Decision] = []
    try:
        async with intake.pool.acquire() as conn, conn.transaction(), deferred_writes(conn):
            prefetched = await _Prefetched.read(conn, batch)
            for signed in batch:
                case = signed.envelope.case
                if not signed.envelope.opens_case and not (case and prefetched.fresh_case(case)):
                    await flush_writes(conn)  # what it reads may be among the deferred rows
                outcome = await _decide_and_write(intake, conn, signed, prefetched)
                outcomes.append(outcome if isinstance(outcome, Accepted | Refusal) else outcome[1])
                if isinstance(outcome, tuple):
                    written.append(outcome[0])
    except Exception as exc:
        return await _retried_alone(intake, batch, exc)
    for decision in written:
        _log_accepted(decision)
    return outcomes


async def _record_new_referrals(
    intake: Intake, batch: Sequence[messages.SignedMessage]
) -> list[Accepted | Exception]:
    """New referrals only: read once for the batch, decide each, and write every accepted one's rows
    in one statement, with no transaction around it (that statement is one)."""
    outcomes: list[Accepted | Exception] = []
    written: list[_Decision] = []
    try:
        async with intake.pool.acquire() as conn, deferred_writes(conn):
            prefetched = await _Prefetched.read(conn, batch)
            for signed in batch:
                outcome = await _decide_and_write(intake, conn, signed, prefetched, deferred_only=True)
                outcomes.append(outcome if isinstance(outcome, Accepted | Refusal) else outcome[1])
                if isinstance(outcome, tuple):
                    written.append(outcome[0])
    except Exception as exc:
        return await _retried_alone(intake, batch, exc)
    for decision in written:
        _log_accepted(decision)
    return outcomes


async def _decide_and_write(
    intake: Intake,
    conn: Conn,
    signed: messages.SignedMessage,
    prefetched: _Prefetched,
    *,
    deferred_only: bool = False,
) -> Accepted | Refusal | tuple[_Decision, Accepted]:
    """One message of a batch: refused, answered from what is stored (or from an earlier message of the
    batch under the same id), or decided and written. With `deferred_only` it must write nothing
    straight away (there is no transaction to undo it): a decision that would is an error, and the
    batch is retried one message at a time."""
    try:
        decision = await _decide(intake, conn, signed, prefetched)
    except Refusal as refusal:
        return refusal
    if isinstance(decision, Accepted):
        return decision
    if deferred_only and (not decision.plan.opens_case or decision.pull_recipients is None):
        raise _NotDeferrableError(f"{signed.envelope.id} does not only insert")
    await _write(intake, conn, decision, prefetched.case_keys.get(decision.plan.case_id))
    prefetched.written.add(decision.plan.case_id)
    env = signed.envelope
    stored = messages.StoredIdentity(env.sender, signed.payload_sha256, decision.receipt)
    prefetched.identities[env.id] = stored  # a repeat of the id later in the batch is answered from it
    return decision, Accepted(receipt=decision.receipt, replayed=False)


class _NotDeferrableError(Exception):
    """A message of a batch without a transaction would write more than inserts (see `_record_batch`)."""


async def _retried_alone(
    intake: Intake, batch: Sequence[messages.SignedMessage], exc: Exception
) -> list[Accepted | Exception]:
    log.warning("intake.batch_retried_alone", size=len(batch), error=exc.__class__.__name__)
    return [await _outcome(_record_or_replay(intake, signed)) for signed in batch]


async def _outcome(accepting: Awaitable[Accepted]) -> Accepted | Exception:
    try:
        return await accepting
    except Exception as exc:
        return exc


@dataclass
class _Prefetched:
    """What a batch reads once for all its messages, in one statement (`batch_snapshot`): which ids are
    already stored (and, as the batch goes, which it has stored), the directory entries and encryption
    keys of the participants it names, the cases its answers answer (their parties locked: the batch
    is then in a transaction) with their data keys and the clocks an answer could change; when first
    needed, the platforms that take every hash signal. A case a message of the batch has written to is
    read again by the next that answers it (`fresh_case`), after the batch's deferred rows are sent."""

    identities: dict[UUID, messages.StoredIdentity]
    directory: dict[str, DirectoryEntry]
    named: list[str]
    encryption_keys: dict[str, list[KeyRecord]] | None = None
    opted_in: list[str] | None = None
    cases: dict[UUID, CaseSnapshot] = field(default_factory=dict)
    case_keys: dict[UUID, bytes] = field(default_factory=dict)
    clocks: dict[UUID, tuple[OwedClock, ...]] = field(default_factory=dict)
    answered: frozenset[UUID] = frozenset()  # the cases read (those that exist are in `cases`)
    written: set[UUID] = field(default_factory=set)  # cases the batch's messages have written to

    @classmethod
    async def read(cls, conn: Conn, batch: Sequence[messages.SignedMessage]) -> _Prefetched:
        ids = [signed.envelope.id for signed in batch]
        named = {p for s in batch for p in (s.envelope.sender, *s.envelope.to)}
        answered = frozenset(s.envelope.case for s in batch if not s.envelope.opens_case and s.envelope.case)
        snapshot = await read_snapshot(conn, ids, sorted(named), sorted(answered))
        return cls(
            snapshot.identities,
            snapshot.directory,
            sorted(named),
            snapshot.encryption_keys,
            cases=snapshot.cases,
            case_keys=snapshot.case_keys,
            clocks=snapshot.clocks,
            answered=answered,
        )

    def fresh_case(self, case_id: UUID) -> bool:
        """Whether the snapshot holds this case as it is now (read, and not written to since)."""
        return case_id in self.answered and case_id not in self.written

    def entries(self, ids: Sequence[str]) -> dict[str, DirectoryEntry] | None:
        found = {i: self.directory[i] for i in ids if i in self.directory}
        return found if len(found) == len(set(ids)) else None

    async def keys_of(self, conn: Conn, recipients: Sequence[str]) -> dict[str, list[KeyRecord]]:
        if self.encryption_keys is None:
            self.encryption_keys = await directory.encryption_keys_of(conn, self.named)
        if all(r in self.encryption_keys for r in recipients):
            return {r: self.encryption_keys[r] for r in recipients}
        return await directory.encryption_keys_of(conn, recipients)  # routed: recipients not named

    async def opted_in_platforms(self, conn: Conn) -> list[str]:
        if self.opted_in is None:
            self.opted_in = await signals.opted_in_platforms(conn)
        return self.opted_in


async def _decide(
    intake: Intake, conn: Conn, signed: messages.SignedMessage, prefetched: _Prefetched | None = None
) -> _Decision | Accepted:
    """A resubmission's stored receipt, or what a new message will do. Raises Refusal; writes nothing."""
    replay = await _replay(conn, signed, prefetched)
    if replay is not None:
        return replay
    env = await _routed(conn, signed.envelope)
    signed = replace(signed, envelope=env)
    first_here = await _first_part_here(conn, signed)
    if env.opens_case or first_here:
        parties = [env.sender, *env.to]
        known = prefetched.entries(parties) if prefetched else None
        if known is None:  # routed, or a participant that does not exist: ask the database
            known = await messages.load_directory(conn, parties)
        snapshot = None
        jurisdictions = jurisdictions_of(env)
    else:
        snapshot = await _case(conn, env.case, prefetched)
        known, jurisdictions = {}, snapshot.jurisdictions if snapshot else ()
        if env.joins_referral:  # a further part of a fan-out: its new recipients' directory entries
            known = await messages.load_directory(conn, [env.sender, *env.to])
        if snapshot is not None and env.type == "match-report":
            held = await signals.copies_held(conn, snapshot.id, env.sender)
            snapshot = replace(snapshot, signal_copies=held)
    # Only the issuer signs with the hub's key (a submission so signed was refused above), so this is
    # the hub speaking for itself, not an attested answer, exactly when the message is `from` the hub.
    issued_by_hub = signed.kid == intake.hub.kid and env.sender == intake.hub.hub_id
    # A peer hub's own message (its clock results, its escalations), checked as the peer's by
    # hub.services.federation: admitted as a hub's message, party to no case.
    issued_by_hub |= signed.received_from is not None and env.sender == signed.received_from.peer
    plan = admit(
        env,
        known,
        snapshot,
        await _new_case_id(conn, signed, first_here),
        hub_issued=issued_by_hub,
        first_part_here=first_here,
    )
    # A forwarded message's sender sealed to its recipients under their global ids on this hub.
    written_as = intake.hub.hub_id if signed.received_from is not None else None
    await _check_sealed(conn, env, plan.recipients, signed.accepted_at, prefetched, written_as)
    facts = known or (prefetched.directory if prefetched else {})
    clocks = await _clocks(intake.policies, conn, env, plan.recipients, jurisdictions, facts)
    if plan.reports_located_copy:
        clocks.update(await _located_copy_clocks(intake, conn, env, jurisdictions))
    receipt = sign_receipt(
        intake.hub.key,
        hub_id=intake.hub.hub_id,
        message_id=env.id,
        message_type=env.type,
        sender=env.sender,
        recipients=plan.recipients,
        case_id=plan.case_id,
        payload_sha256=signed.payload_sha256,
        accepted_at=signed.accepted_at,
    )
    pulls = _pull_recipients(plan.recipients, facts)
    hash_signals = await _hash_signals(conn, env, known, prefetched) if plan.transitions and known else None
    owed = None
    if not plan.opens_case and prefetched is not None and prefetched.fresh_case(plan.case_id):
        owed = prefetched.clocks.get(plan.case_id)
    return _Decision(signed, plan, clocks, jurisdictions, receipt, pulls, hash_signals, owed)


def _pull_recipients(recipients: Sequence[str], facts: Mapping[str, DirectoryEntry]) -> frozenset[str] | None:
    """Which recipients read a pull inbox (their clocks start at intake), when the directory entries at
    hand name every recipient: the message's deliveries and clocks can then wait with the batch's
    rows; else None."""
    if any(r not in facts for r in recipients):
        return None
    return frozenset(r for r in recipients if facts[r].pulls)


async def _case(conn: Conn, case_id: UUID | None, prefetched: _Prefetched | None) -> CaseSnapshot | None:
    """The answered case, from the batch's snapshot while it holds it as it is now, else read (and its
    parties locked) here."""
    if case_id is None:
        return None
    if prefetched is not None and prefetched.fresh_case(case_id):
        return prefetched.cases.get(case_id)
    return await messages.load_case(conn, case_id)


async def _first_part_here(conn: Conn, signed: messages.SignedMessage) -> bool:
    """A further part of a fan-out a peer hub forwarded, of a case this hub does not hold: its first part
    went to another hub, so this part opens the case here (docs/federation.md, section 5)."""
    env = signed.envelope
    return (
        signed.received_from is not None
        and env.joins_referral
        and env.case is not None
        and not await messages.case_exists(conn, env.case)
    )


async def _new_case_id(conn: Conn, signed: messages.SignedMessage, first_here: bool = False) -> UUID:
    """The id a new case would get: a fresh one, or for a referral a peer hub forwarded, the case id of
    the peer's receipt, so both hubs name the case alike (docs/federation.md, section 5: answers carry it).
    A forwarded case id this hub already holds is refused: a peer never joins a case by opening one. A
    further part opening its case here (`first_here`) keeps the case it names, which the peer's receipt
    must name too."""
    hop = signed.received_from
    if hop is not None and first_here:
        if hop.case_id != signed.envelope.case:
            raise Refusal("invalid-hop-receipt", "the forwarding hub's receipt names another case")
        return hop.case_id
    if hop is None or not signed.envelope.opens_case:
        return uuid4()
    if await messages.case_exists(conn, hop.case_id):
        raise Refusal("case-conflict", "the forwarding hub's case id is already a case of this hub")
    return hop.case_id


async def _hash_signals(
    conn: Conn, env: Envelope, known: Mapping[str, DirectoryEntry], prefetched: _Prefetched | None
) -> SignalPlan | None:
    """The signals a referral (or a further part of one) makes of its content's hashes; the directory's
    opted-in platforms are asked only when the person consents to sharing (once per batch)."""
    if env.type != "takedown-request":
        return None
    opted_in: list[str] = []
    if consents_to_sharing(env.body) and prefetched is not None:
        opted_in = await prefetched.opted_in_platforms(conn)
    elif consents_to_sharing(env.body):
        opted_in = await signals.opted_in_platforms(conn)
    return plan_signals(env, {r: known[r].kind for r in env.to if r in known}, opted_in)


async def _check_sealed(
    conn: Conn,
    env: Envelope,
    recipients: Sequence[str],
    at: datetime,
    prefetched: _Prefetched | None,
    global_on: str | None = None,
) -> None:
    """A message with sealed values must seal each to every recipient's encryption key current at
    receipt (`hub.core.sealing.check_sealed_to`, over the values found in one walk of the body); the
    directory is asked only when there are some, once per batch. `global_on`: the sender named the
    recipients by their global ids on that hub (this one)."""
    found = list(sealed_values(env.body, "/body"))  # one walk of the body, for both questions
    if not found:
        return
    if prefetched is not None:
        held = await prefetched.keys_of(conn, recipients)
    else:
        held = await directory.encryption_keys_of(conn, recipients)
    current = {
        (r if global_on is None else global_id(r, global_on)): current_kid(
            EncryptionKey(k.kid, k.not_before, k.problem_at(at) is None) for k in held.get(r, [])
        )
        for r in recipients
    }
    check_sealed_copies(found, current)


async def _write(intake: Intake, conn: Conn, decision: _Decision, wrapped_key: bytes | None = None) -> None:
    await messages.record_message(
        conn,
        decision.signed,
        decision.plan,
        decision.receipt,
        decision.clocks,
        decision.jurisdictions,
        intake.keyring,
        decision.pull_recipients,
        decision.hash_signals,
        wrapped_key,
        decision.owed,
    )


def _log_accepted(decision: _Decision) -> None:
    env, plan = decision.signed.envelope, decision.plan
    log.info(
        "message.accepted",
        message_id=str(env.id),
        case_id=str(plan.case_id),
        message_type=env.type,
        sender=env.sender,
        recipients=len(plan.recipients),
        transitions=[f"{t.participant}:{t.from_state or '-'}->{t.to_state}" for t in plan.transitions],
    )


def jurisdictions_of(envelope: Envelope) -> tuple[str, ...]:
    """The jurisdictions whose laws a new case falls under: those the referral names, else the
    victim's country of residence (assistance requests)."""
    named = envelope.body.get("jurisdictions")
    if isinstance(named, list):
        return tuple(str(j) for j in named)
    residence = envelope.body.get("country_of_residence")
    return (str(residence),) if residence else ()


async def _routed(conn: Conn, envelope: Envelope) -> Envelope:
    """Resolve a routing selector to recipients; a message naming its recipients is left as it is."""
    if envelope.route is None:
        return envelope
    if envelope.route.get("by") == "content" and envelope.type != "takedown-request":
        raise Refusal("unroutable", "routing by content needs the content locators of a takedown request")
    if not (envelope.opens_case or envelope.joins_referral):
        raise Refusal(
            "unroutable", "a routing selector finds a referral's recipients; an answer names its recipients"
        )
    candidates = await messages.route_candidates(conn, envelope.route, envelope.body)
    return replace(envelope, to=resolve_route(envelope.route, envelope.body, candidates, envelope.sender))


async def _clocks(
    policies: PolicyBook,
    conn: Conn,
    env: Envelope,
    recipients: tuple[str, ...],
    jurisdictions: tuple[str, ...],
    known: Mapping[str, DirectoryEntry],
) -> dict[str, list[Clock]]:
    """The legal clocks the message starts for each recipient: this hub's own participants only. A
    participant of a peer hub has its clocks counted by its home hub, from its delivery there, which
    reports how each ends (`hub.services.clock_reports`, docs/federation.md section 6)."""
    recipients = tuple(r for r in recipients if home_hub_of(r) is None)
    if not jurisdictions or not policies.rules or not recipients:
        return {}
    parties = [env.sender, *recipients]
    facts = known if all(p in known for p in parties) else await messages.load_directory(conn, parties)
    sender = facts.get(env.sender)
    if sender is None:
        return {}
    return {
        recipient: policies.clocks_for(
            message_type=env.type,
            recipient_kind=facts[recipient].kind,
            sender_kind=sender.kind,
            body=env.body,
            jurisdictions=jurisdictions,
            trusted_flagger=sender.trusted_flagger,
        )
        for recipient in recipients
        if recipient in facts
    }


async def _located_copy_clocks(
    intake: Intake, conn: Conn, env: Envelope, jurisdictions: tuple[str, ...]
) -> dict[str, list[Clock]]:
    """A located copy (a match-report's outcome with a location) starts for its reporter the clocks the
    case's takedown request to it started: the same rule (`PolicyBook.clocks_for`) over that request,
    counted from the report, when the reporter knew of the copy."""
    if env.case is None or not jurisdictions or not intake.policies.rules or home_hub_of(env.sender):
        return {}  # (a peer hub's participant: its home hub counts its clocks)
    request = await messages.takedown_to(conn, env.case, env.sender, intake.keyring)
    if request is None:
        return {}
    facts = await messages.load_directory(conn, [request.sender_id, env.sender])
    notifier, reporter = facts.get(request.sender_id), facts.get(env.sender)
    if notifier is None or reporter is None:
        return {}
    clocks = intake.policies.clocks_for(
        message_type="takedown-request",
        recipient_kind=reporter.kind,
        sender_kind=notifier.kind,
        body=request.body,
        jurisdictions=jurisdictions,
        trusted_flagger=notifier.trusted_flagger,
    )
    return {env.sender: clocks} if clocks else {}


async def _replay(
    conn: Conn, signed: messages.SignedMessage, prefetched: _Prefetched | None = None
) -> Accepted | None:
    message_id = signed.envelope.id
    if prefetched is not None:  # stored before the batch, or by an earlier message of it
        stored = prefetched.identities.get(message_id)
    else:
        stored = await messages.find_identity(conn, message_id)
    if stored is None:
        return None
    if stored.sender_id == signed.envelope.sender and stored.payload_sha256 == signed.payload_sha256:
        return Accepted(receipt=stored.receipt, replayed=True)
    raise Refusal("duplicate-id", "a different message with this id was already accepted")
