"""What an authenticated, schema-valid message does to the hub's cases: a pure decision.

The store gives a snapshot (the directory entries named by the message, the case it joins with its
parties locked) and applies the returned plan in one transaction. Rules:

- a new referral (takedown-request, assistance-request) opens a case; each recipient must be in the
  directory and accept that type; a takedown request that may depict a minor is refused: it is child
  sexual abuse material and belongs to the CSAM channel, never to the NCII path;
- each recipient sees only its own part: a referral of content on several platforms is one signed
  request per platform, carrying only that platform's locators (the client library, `hub send` and the
  console split it): the first opens the case, each further part names it in `case` and joins it, from
  the case's originator, for recipients not yet party to it, under the same rules as the first. So a
  takedown request (new or a further part) whose recipients, named in `to` or found by a route by
  content, include more than one platform is refused (`split-per-recipient`): each platform would read
  the others' URLs. Recipients that are no platform (a regulator, a police liaison, a hotline) may ride
  with a part: they oversee or relay the referral and may see its locators. Only takedown requests carry
  content locators to act on; an assistance request goes to hotlines and support services, and the
  messages on a case carry no other platform's locators;
- every other message joins a case, comes from a party to it, is addressed to parties the sender sees,
  and answers (if it names one) a message of that case the sender sees; a closed case takes only
  deletion confirmations. What a sender sees and may do is `hub/core/case_view.py`'s rule (a liaison a
  recipient shared the case with sees that recipient only); a recipient it does not see is refused as
  a non-party is, and a message it does not see as one outside the case, so a refusal names no other
  platform of a fan-out;
- acknowledgement and status-update come from a recipient and move its state; withdrawal and
  case-closure come from the originator; information-request comes from a recipient (to the originator)
  or from a law-enforcement liaison the case was shared with (to a recipient); information-response
  answers an information-request; counter-notice passes an uploader's appeal on; deletion-confirmation
  answers a withdrawal; match-report comes from a recipient (to the originator) and names only hash
  signals of the case it holds a copy of (`signal_copies`, loaded for it alone), each once; one that
  reports a located copy (an outcome with a `location`) starts for its sender the clocks the case's
  takedown request started (`hub.services.intake`, by the policy book's one rule); escalation is
  the hub's own and never accepted from a participant;
- a message the hub issues itself (`hub_issued`: an escalation or a clock result, made by
  `hub.services.issuer`; or one a peer hub issued and forwarded, docs/federation.md section 6) joins a
  case, is addressed to its parties and answers one of its messages; the hub is no party to the
  case, so the party rules above do not apply to it, and it moves no state.

Besides state moves, a plan says which of the sender's legal clocks its message meets (an
acknowledgement meets `acknowledge`, a decision `act`...) and whose clocks it cancels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from hub.core.case_state import RecipientState, next_state
from hub.core.case_view import MESSAGE_ACTIONS, Action, CaseAccess, case_access
from hub.core.envelope import Envelope
from hub.core.refusal import Refusal

SPLIT_DETAIL = (
    "the request goes to several platforms, and each may see only the content on its own service: send "
    "one takedown request per platform with only its locators, the first opening the case and each "
    "further one naming it in `case` (the hub's client library, `hub send` and the console split a "
    "referral this way)"
)
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
    trusted_flagger: bool = False
    pulls: bool = True  # reads its inbox (else the hub pushes to it through an adapter)


@dataclass(frozen=True)
class Party:
    role: str  # originator | recipient | shared
    state: RecipientState | None = None
    kind: str = ""
    parts: frozenset[str] | None = None  # whose parts it sees (hub/core/case_view.py); None: all


@dataclass(frozen=True)
class CaseSnapshot:
    id: UUID
    opened_by: str
    parties: Mapping[str, Party]
    message_types: Mapping[UUID, str]
    closed: bool = False
    jurisdictions: tuple[str, ...] = ()
    # each message's sender and addressees (what decides who sees it); a message not named here is seen
    message_parties: Mapping[UUID, frozenset[str]] = field(default_factory=dict)
    # the hash signals of the case the sender holds a copy of as a recipient (only for a match-report)
    signal_copies: frozenset[UUID] = frozenset()


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
    meets: tuple[str, ...] = ()  # clock kinds the sender owed and this message answers
    cancels_for: tuple[str, ...] = ()  # participants whose open clocks end (withdrawal, closure)
    closes: bool = False
    confirms_deletion: bool = False
    requests_deletion: bool = False
    # a match-report's outcomes: (signal id, outcome, located copy); a located copy starts the sender's clocks
    signal_outcomes: tuple[tuple[UUID, str, bool], ...] = ()

    @property
    def reports_located_copy(self) -> bool:
        return any(located for _, _, located in self.signal_outcomes)


def admit(
    envelope: Envelope,
    directory: Mapping[str, DirectoryEntry],
    case: CaseSnapshot | None,
    new_case_id: UUID,
    *,
    hub_issued: bool = False,
    first_part_here: bool = False,
) -> Admission:
    """`first_part_here`: a further part of a fan-out a peer hub forwarded, whose case this hub does not
    hold (its first part went to another hub): it opens the case here, under the case's own id
    (`new_case_id`), as a first part would (docs/federation.md, section 5)."""
    if hub_issued:
        return _admit_hub_message(envelope, case)
    if envelope.opens_case or (first_part_here and envelope.joins_referral and case is None):
        return _admit_referral(envelope, directory, new_case_id)
    if envelope.joins_referral:
        if case is None:
            raise Refusal("unknown-case", "the message names a case the hub does not know")
        return _admit_further_part(envelope, directory, case)
    if envelope.type in HUB_ISSUED_TYPES:
        raise Refusal("hub-only-type", f"'{envelope.type}' is issued by a hub itself, never by a participant")
    if case is None:
        raise Refusal("unknown-case", "the message names a case the hub does not know")
    return _admit_case_message(envelope, case)


# A hub's own messages: its escalations, and the results of its participants' clocks it tells a peer
# hub's participant of (docs/federation.md, section 6).
HUB_ISSUED_TYPES = frozenset({"escalation", "clock-result"})


def _admit_hub_message(envelope: Envelope, case: CaseSnapshot | None) -> Admission:
    if envelope.type not in HUB_ISSUED_TYPES:
        raise Refusal("hub-only-type", f"the hub issues no '{envelope.type}' of its own")
    if case is None:
        raise Refusal("unknown-case", "the message names a case the hub does not know")
    for recipient in envelope.to:
        if recipient not in case.parties:
            raise Refusal(
                "unknown-recipient", f"'{recipient}' is not a party to this case", recipient=recipient
            )
    if envelope.in_reply_to is None or envelope.in_reply_to not in case.message_types:
        raise Refusal("invalid-reply", f"'{envelope.type}' names the message of this case whose clock it is")
    return Admission(case_id=case.id, opens_case=False, recipients=envelope.to)


def _admit_referral(envelope: Envelope, directory: Mapping[str, DirectoryEntry], case_id: UUID) -> Admission:
    _check_referral(envelope, directory)
    transitions = tuple(Transition(r, None, RecipientState.QUEUED) for r in envelope.to)
    return Admission(case_id=case_id, opens_case=True, recipients=envelope.to, transitions=transitions)


def _admit_further_part(
    envelope: Envelope, directory: Mapping[str, DirectoryEntry], case: CaseSnapshot
) -> Admission:
    """A further part of a fan-out joins the case its first part opened, for recipients of its own."""
    if envelope.sender != case.opened_by:
        raise Refusal("not-a-party", "only the participant who opened the case adds a part to it")
    if case.closed:
        raise Refusal("case-closed", "the case is closed: only deletion confirmations are still taken")
    if envelope.type not in case.message_types.values():
        raise Refusal("invalid-reply", f"this case was not opened by a '{envelope.type}'")
    for recipient in envelope.to:
        if recipient in case.parties:
            raise Refusal(
                "invalid-recipient",
                f"'{recipient}' is already a party to this case: a further part is for a new recipient",
                recipient=recipient,
            )
    _check_referral(envelope, directory)
    transitions = tuple(Transition(r, None, RecipientState.QUEUED) for r in envelope.to)
    return Admission(case_id=case.id, opens_case=False, recipients=envelope.to, transitions=transitions)


def _check_referral(envelope: Envelope, directory: Mapping[str, DirectoryEntry]) -> None:
    if envelope.type == "takedown-request" and envelope.body.get("minor_depicted") != "no":
        raise Refusal("csam-referral", CSAM_DETAIL, csam_channel=True)
    for recipient in envelope.to:
        _check_recipient(envelope, directory.get(recipient), recipient)
    if envelope.type == "takedown-request":
        platforms = sorted({r for r in envelope.to if directory[r].kind == "platform"})
        if len(platforms) > 1:
            raise Refusal("split-per-recipient", SPLIT_DETAIL, platforms=platforms)


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


def _admit_case_message(envelope: Envelope, case: CaseSnapshot) -> Admission:
    sender = case.parties.get(envelope.sender)
    access = case_access(envelope.sender, case.parties)
    if sender is None or access is None:
        raise Refusal("not-a-party", "only the parties to a case may write to it")
    if case.closed and envelope.type != "deletion-confirmation":
        raise Refusal("case-closed", "the case is closed: only deletion confirmations are still taken")
    for recipient in envelope.to:
        if recipient == envelope.sender:
            raise Refusal(
                "invalid-recipient", "a message cannot be addressed to its own sender", recipient=recipient
            )
        if recipient not in case.parties:
            raise _not_a_party_of_case(recipient)
    if envelope.in_reply_to is not None and envelope.in_reply_to not in case.message_types:
        raise Refusal("invalid-reply", "in_reply_to names no message of this case")
    handler = _HANDLERS.get(envelope.type)
    if handler is None or envelope.type not in MESSAGE_ACTIONS:
        raise Refusal("not-a-party", f"'{envelope.type}' has no place in a case")
    admission = handler(envelope, case, sender, access)
    _check_sight(envelope, case, access)
    return admission


def _check_sight(envelope: Envelope, case: CaseSnapshot, access: CaseAccess) -> None:
    """What the sender may not see is refused as what does not exist is: a recipient as a non-party, a
    message as one outside the case. The answer names no other platform of a fan-out."""
    for recipient in envelope.to:
        if not access.may_address(case.parties[recipient], recipient):
            raise _not_a_party_of_case(recipient)
    if envelope.in_reply_to is not None and not _sees_message(access, case, envelope.in_reply_to):
        raise Refusal("invalid-reply", "in_reply_to names no message of this case")


def _not_a_party_of_case(recipient: str) -> Refusal:
    return Refusal("unknown-recipient", f"'{recipient}' is not a party to this case", recipient=recipient)


def _sees_message(access: CaseAccess, case: CaseSnapshot, message_id: UUID) -> bool:
    if message_id not in case.message_types:
        return False
    parties = case.message_parties.get(message_id)
    return parties is None or access.sees_message(parties)


def _base(envelope: Envelope, case: CaseSnapshot, **effects: Any) -> Admission:
    return Admission(case_id=case.id, opens_case=False, recipients=envelope.to, **effects)


def _require(condition: bool, detail: str) -> None:
    if not condition:
        raise Refusal("not-a-party", detail)


def _answer(envelope: Envelope, case: CaseSnapshot, sender: Party, access: CaseAccess) -> Admission:
    """acknowledgement or status-update from a recipient: moves its state, meets its clocks."""
    if not access.may(Action.ANSWER) or sender.state is None:
        raise Refusal("not-a-party", f"only a recipient of the case may send '{envelope.type}'")
    target = RecipientState.ACKNOWLEDGED
    meets: tuple[str, ...] = ("acknowledge",)
    if envelope.type == "status-update" and envelope.body.get("status") in ("actioned", "declined"):
        target = RecipientState(str(envelope.body["status"]))
        meets = ("acknowledge", "act")
    return _base(envelope, case, transitions=_moves(envelope.sender, sender.state, target), meets=meets)


def _withdrawal(envelope: Envelope, case: CaseSnapshot, sender: Party, access: CaseAccess) -> Admission:
    _require(access.may(Action.WITHDRAW), "only the participant who opened the case may withdraw it")
    moves: list[Transition] = []
    for recipient in envelope.to:
        party = case.parties[recipient]
        if party.role != "recipient" or party.state is None:
            raise Refusal(
                "invalid-recipient", f"'{recipient}' is not a recipient of this case", recipient=recipient
            )
        moves.extend(_moves(recipient, party.state, RecipientState.WITHDRAWN))
    return _base(envelope, case, transitions=tuple(moves), cancels_for=envelope.to, requests_deletion=True)


def _information_request(
    envelope: Envelope, case: CaseSnapshot, sender: Party, access: CaseAccess
) -> Admission:
    if sender.role == "recipient":  # the platform asks the originator for more: it has the referral
        _require(set(envelope.to) <= {case.opened_by}, "a recipient asks the case's originator")
        return _base(envelope, case, meets=("acknowledge",))
    liaison = sender.role == "shared" and access.may(Action.REQUEST_INFORMATION)
    asks_recipients = all(case.parties[r].role == "recipient" for r in envelope.to)
    _require(
        liaison and asks_recipients,
        "an information request comes from a recipient, or from a police liaison to a recipient",
    )
    return _base(envelope, case)


def _information_response(
    envelope: Envelope, case: CaseSnapshot, sender: Party, access: CaseAccess
) -> Admission:
    replied = case.message_types.get(envelope.in_reply_to) if envelope.in_reply_to else None
    if replied != "information-request":
        raise Refusal("invalid-reply", "an information-response answers an information-request of this case")
    _require(access.may(Action.RESPOND), "only the party that was asked may respond")
    return _base(envelope, case, meets=("respond",))


def _counter_notice(envelope: Envelope, case: CaseSnapshot, sender: Party, access: CaseAccess) -> Admission:
    _require(access.may(Action.COUNTER_NOTICE), "a counter-notice is passed on by a recipient of the case")
    return _base(envelope, case)


def _deletion_confirmation(
    envelope: Envelope, case: CaseSnapshot, sender: Party, access: CaseAccess
) -> Admission:
    replied = case.message_types.get(envelope.in_reply_to) if envelope.in_reply_to else None
    if replied != "withdrawal":
        raise Refusal("invalid-reply", "a deletion-confirmation answers a withdrawal of this case")
    _require(
        access.may(Action.CONFIRM_DELETION) and sender.state is RecipientState.WITHDRAWN,
        "only a recipient the case was withdrawn from confirms deletion",
    )
    return _base(envelope, case, meets=("confirm_deletion",), confirms_deletion=True)


def _match_report(envelope: Envelope, case: CaseSnapshot, sender: Party, access: CaseAccess) -> Admission:
    _require(
        access.may(Action.REPORT_MATCH) and sender.state is not None,
        "only a recipient of the case reports on its hash signals",
    )
    _require(set(envelope.to) <= {case.opened_by}, "a match report goes to the case's originator")
    outcomes = [o for o in envelope.body.get("outcomes", ()) if isinstance(o, Mapping)]
    reported: list[tuple[UUID, str, bool]] = []
    for item in outcomes:
        signal_id = UUID(str(item["signal_id"]))
        if signal_id not in case.signal_copies:
            raise Refusal(
                "unknown-signal",
                "the match report names a signal of which you hold no copy on this case",
                signal_id=str(signal_id),
            )
        if any(signal_id == seen for seen, _, _ in reported):
            raise Refusal("unknown-signal", "a match report names each signal once", signal_id=str(signal_id))
        reported.append((signal_id, str(item["outcome"]), "location" in item))
    return _base(envelope, case, signal_outcomes=tuple(reported))


def _closure(envelope: Envelope, case: CaseSnapshot, sender: Party, access: CaseAccess) -> Admission:
    _require(access.may(Action.CLOSE), "only the participant who opened the case may close it")
    everyone = tuple(p for p, party in case.parties.items() if party.role == "recipient")
    return _base(envelope, case, closes=True, cancels_for=everyone)


_HANDLERS = {
    "acknowledgement": _answer,
    "status-update": _answer,
    "withdrawal": _withdrawal,
    "information-request": _information_request,
    "information-response": _information_response,
    "counter-notice": _counter_notice,
    "deletion-confirmation": _deletion_confirmation,
    "match-report": _match_report,
    "case-closure": _closure,
}


def _moves(participant: str, current: RecipientState, target: RecipientState) -> tuple[Transition, ...]:
    new = next_state(current, target)
    return () if new is None else (Transition(participant, current, new),)
