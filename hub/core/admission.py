"""What an authenticated, schema-valid message does to the hub's cases: a pure decision.

The store gives a snapshot (the directory entries named by the message, the case it joins with its
parties locked) and applies the returned plan in one transaction. Rules:

- a new referral (takedown-request, assistance-request) opens a case; each recipient must be in the
  directory and accept that type; a takedown request that may depict a minor is refused: it is child
  sexual abuse material and belongs to the CSAM channel, never to the NCII path;
- an acknowledgement or status-update comes from a recipient of the case, answers a message of that
  case, and moves the sender's state;
- a withdrawal comes from the case's originator and moves each addressed recipient to `withdrawn`;
- every message of a case is addressed only to parties of that case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from hub.core.case_state import RecipientState, next_state
from hub.core.envelope import Envelope
from hub.core.refusal import Refusal

CSAM_DETAIL = (
    "the request says a minor may be depicted: that is child sexual abuse material, which the hub "
    "never routes down the NCII path to a platform; report it through the CSAM channel (your national "
    "INHOPE hotline or law enforcement)"
)


@dataclass(frozen=True)
class DirectoryEntry:
    id: str
    kind: str
    country: str
    accepts: frozenset[str]


@dataclass(frozen=True)
class Party:
    role: str  # originator | recipient | shared
    state: RecipientState | None = None


@dataclass(frozen=True)
class CaseSnapshot:
    id: UUID
    opened_by: str
    parties: Mapping[str, Party]
    message_ids: frozenset[UUID]


@dataclass(frozen=True)
class Transition:
    participant: str
    from_state: RecipientState | None
    to_state: RecipientState


@dataclass(frozen=True)
class Admission:
    case_id: UUID
    opens_case: bool
    recipients: tuple[str, ...]
    transitions: tuple[Transition, ...] = field(default=())


def admit(
    envelope: Envelope,
    directory: Mapping[str, DirectoryEntry],
    case: CaseSnapshot | None,
    new_case_id: UUID,
) -> Admission:
    if envelope.opens_case:
        return _admit_referral(envelope, directory, new_case_id)
    if case is None:
        raise Refusal("unknown-case", "the message names a case the hub does not know")
    return _admit_case_message(envelope, case)


def _admit_referral(envelope: Envelope, directory: Mapping[str, DirectoryEntry], case_id: UUID) -> Admission:
    if envelope.type == "takedown-request" and envelope.body.get("minor_depicted") != "no":
        raise Refusal("csam-referral", CSAM_DETAIL, csam_channel=True)
    for recipient in envelope.to:
        _check_recipient(envelope, directory.get(recipient), recipient)
    transitions = tuple(Transition(r, None, RecipientState.QUEUED) for r in envelope.to)
    return Admission(case_id=case_id, opens_case=True, recipients=envelope.to, transitions=transitions)


def _check_recipient(envelope: Envelope, entry: DirectoryEntry | None, recipient: str) -> None:
    if recipient == envelope.sender:
        raise Refusal(
            "invalid-recipient", "a message cannot be addressed to its own sender", recipient=recipient
        )
    if entry is None:
        raise Refusal(
            "unknown-recipient", f"no participant '{recipient}' in the directory", recipient=recipient
        )
    if envelope.type not in entry.accepts:
        raise Refusal(
            "recipient-does-not-accept",
            f"participant '{recipient}' does not accept '{envelope.type}' messages",
            recipient=recipient,
        )


def _reply_target(message_type: str, body: Mapping[str, Any]) -> RecipientState | None:
    """The state an answer of this type moves its sender to (an in-review update implies receipt)."""
    if message_type == "acknowledgement":
        return RecipientState.ACKNOWLEDGED
    if message_type == "status-update":
        decided = {"actioned": RecipientState.ACTIONED, "declined": RecipientState.DECLINED}
        return decided.get(str(body.get("status")), RecipientState.ACKNOWLEDGED)
    return None


def _admit_case_message(envelope: Envelope, case: CaseSnapshot) -> Admission:
    sender = case.parties.get(envelope.sender)
    if sender is None or sender.role == "shared":
        raise Refusal("not-a-party", "only the sender or a recipient of a case may write to it")
    for recipient in envelope.to:
        if recipient == envelope.sender:
            raise Refusal(
                "invalid-recipient", "a message cannot be addressed to its own sender", recipient=recipient
            )
        if recipient not in case.parties:
            raise Refusal(
                "unknown-recipient", f"'{recipient}' is not a party to this case", recipient=recipient
            )
    if envelope.in_reply_to is not None and envelope.in_reply_to not in case.message_ids:
        raise Refusal("invalid-reply", "in_reply_to names no message of this case")
    if envelope.type == "withdrawal":
        return _admit_withdrawal(envelope, case)
    target = _reply_target(envelope.type, envelope.body)
    if target is None or sender.role != "recipient" or sender.state is None:
        raise Refusal("not-a-party", f"only a recipient of the case may send '{envelope.type}'")
    moves = _moves(envelope.sender, sender.state, target)
    return Admission(case_id=case.id, opens_case=False, recipients=envelope.to, transitions=moves)


def _admit_withdrawal(envelope: Envelope, case: CaseSnapshot) -> Admission:
    if case.opened_by != envelope.sender:
        raise Refusal("not-a-party", "only the participant who opened the case may withdraw it")
    moves: list[Transition] = []
    for recipient in envelope.to:
        party = case.parties[recipient]
        if party.role != "recipient" or party.state is None:
            raise Refusal(
                "invalid-recipient", f"'{recipient}' is not a recipient of this case", recipient=recipient
            )
        moves.extend(_moves(recipient, party.state, RecipientState.WITHDRAWN))
    return Admission(case_id=case.id, opens_case=False, recipients=envelope.to, transitions=tuple(moves))


def _moves(participant: str, current: RecipientState, target: RecipientState) -> tuple[Transition, ...]:
    new = next_state(current, target)
    return () if new is None else (Transition(participant, current, new),)
