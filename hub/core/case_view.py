"""What a viewer may see and do on a case: one pure rule for every surface.

The case page, the case list and its filters, the statistics, intake and sharing all ask this module;
the SQL of the list and the statistics only filters by what it names (a party's recorded `sees_parts`),
and `tests/test_case_rules_differential.py` feeds both the same cases.

Who sees what:

- the **operator** (its own tools, no participant) and the **originator** (the hotline that opened the
  case) see the whole case: every recipient of a fan-out, their handling, whom it was shared with;
- a **recipient** sees its own part only: its state, its clocks, the events that concern it. In a
  fan-out one platform must not learn about another's handling;
- a participant the case was **shared** with sees what its sharer gave it, decided once, when it was
  shared, and recorded on its party row (`sees_parts`) and on the timeline: the whole case when the
  originator (or the hub, on an escalation) shared it; the sharer's own part when a recipient did (the
  parts of each recipient that shared it, when several did). A platform cannot hand out more than it
  sees itself;
- a **regulator** reads the transparency figures over every case (`figures_cover_every_case`), and of a
  case only what it was shared.

Who may do what (`Action`): the originator withdraws, closes, responds to information requests and
shares; a recipient answers (acknowledgement, status update), asks the originator for information,
responds, passes a counter-notice on, confirms deletion, and shares its own part; a law-enforcement
liaison the case was shared with asks the recipients it sees for information; anyone else shared with
only reads. A message addressed to a recipient the sender does not see is refused exactly as one
addressed to a non-party (`unknown-recipient`): the refusal must not tell a liaison, or a platform,
which other platforms are on the case.

Sharing onward (`share_part`): only the originator and a recipient share; a participant shared with
never shares onward. The originator shares with a liaison, a regulator, a support service or another
hotline; a recipient with a liaison or a regulator (the authorities it answers to), never with another
platform. The one shared with sees exactly what its sharer sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from hub.core.refusal import Refusal

ORIGINATOR, RECIPIENT, SHARED, OPERATOR = "originator", "recipient", "shared", "operator"


class Action(StrEnum):
    READ = "read"
    ANSWER = "answer"  # acknowledgement, status-update
    REQUEST_INFORMATION = "request-information"
    RESPOND = "respond"  # information-response
    COUNTER_NOTICE = "counter-notice"
    CONFIRM_DELETION = "confirm-deletion"
    REPORT_MATCH = "report-match"  # match-report: a matcher's outcomes for the recipient's signals
    WITHDRAW = "withdraw"
    CLOSE = "close"
    SHARE = "share"


A = Action
_ACTIONS: dict[str, frozenset[Action]] = {
    OPERATOR: frozenset({A.READ}),
    ORIGINATOR: frozenset({A.READ, A.RESPOND, A.WITHDRAW, A.CLOSE, A.SHARE}),
    RECIPIENT: frozenset(
        {
            A.READ,
            A.ANSWER,
            A.REQUEST_INFORMATION,
            A.RESPOND,
            A.COUNTER_NOTICE,
            A.CONFIRM_DELETION,
            A.SHARE,
            A.REPORT_MATCH,
        }
    ),
    SHARED: frozenset({A.READ}),
}
# A police liaison the case was shared with may put questions to the recipients it sees (e-Evidence).
_SHARED_BY_KIND: dict[str, frozenset[Action]] = {
    "law-enforcement": frozenset({A.READ, A.REQUEST_INFORMATION})
}

# The action each message type on a case is; `escalation` is the hub's own and no participant's action.
MESSAGE_ACTIONS: dict[str, Action] = {
    "acknowledgement": A.ANSWER,
    "status-update": A.ANSWER,
    "information-request": A.REQUEST_INFORMATION,
    "information-response": A.RESPOND,
    "counter-notice": A.COUNTER_NOTICE,
    "deletion-confirmation": A.CONFIRM_DELETION,
    "match-report": A.REPORT_MATCH,
    "withdrawal": A.WITHDRAW,
    "case-closure": A.CLOSE,
}

# Whom each sharer may share with, by directory kind.
SHARE_WITH: dict[str, frozenset[str]] = {
    ORIGINATOR: frozenset({"law-enforcement", "regulator", "support-service", "hotline"}),
    RECIPIENT: frozenset({"law-enforcement", "regulator"}),
}

# The kinds whose transparency figures cover every case of the hub (the others: their own part).
FIGURES_OVER_EVERY_CASE = frozenset({"regulator"})


class PartyFacts(Protocol):
    """What the rule reads of a party (`Member` here, `hub.core.admission.Party` at intake)."""

    @property
    def role(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def parts(self) -> frozenset[str] | None: ...


@dataclass(frozen=True)
class Member:
    """A party to a case as the rule needs it: its role, its directory kind, and what it was given to see
    (`parts`: None for the whole case, else the recipients whose parts it sees; a recipient: itself)."""

    role: str
    kind: str = ""
    parts: frozenset[str] | None = None


@dataclass(frozen=True)
class CaseAccess:
    """What one viewer may see and do on one case."""

    viewer: str | None  # None: the operator
    role: str
    parts: frozenset[str] | None  # None: the whole case; else the recipients whose parts it sees
    actions: frozenset[Action]

    @property
    def whole(self) -> bool:
        return self.parts is None

    def sees(self, participant: str) -> bool:
        """Whether the viewer sees this participant's part: a recipient's state and the clocks it owes."""
        return self.parts is None or participant in self.parts

    def sees_share(self, shared: PartyFacts) -> bool:
        """Whether the viewer sees that the case was shared with this participant: all shares for the whole
        case; else the shares of the parts it sees."""
        return self.parts is None or bool(shared.parts and shared.parts & self.parts)

    def _concerned(self) -> set[str | None]:
        return {*(self.parts or ()), self.viewer}

    def sees_event(self, actor: str | None, subject: str | None, to: Iterable[str], event: str) -> bool:
        """Whether an event of the timeline is shown: everything for the whole case; else the opening and
        what the viewer or the parts it sees did, underwent or were addressed."""
        if self.parts is None or event == "case.opened":
            return True
        concerned = self._concerned()
        return actor in concerned or subject in concerned or bool(concerned.intersection(to))

    def sees_message(self, sender_and_addressees: Iterable[str]) -> bool:
        """Whether the viewer sees a message of the case (and so may answer it): all of them for the whole
        case; else those the viewer or the parts it sees sent or were sent."""
        return self.parts is None or bool(self._concerned().intersection(sender_and_addressees))

    def addressees(self, to: Sequence[str]) -> list[str]:
        """An event's recipient list as shown: cut down to the parts the viewer sees, if not all."""
        return list(to) if self.parts is None else [r for r in to if r in self.parts]

    def may(self, action: Action) -> bool:
        return action in self.actions

    def may_address(self, member: PartyFacts, participant: str) -> bool:
        """Whether the viewer may address a message to this party: a recipient only if it sees it."""
        return member.role != RECIPIENT or self.sees(participant)


def case_access(viewer: str | None, parties: Mapping[str, PartyFacts]) -> CaseAccess | None:
    """The viewer's access to a case with these parties (None: the operator); None if it has none."""
    if viewer is None:
        return CaseAccess(None, OPERATOR, None, _ACTIONS[OPERATOR])
    member = parties.get(viewer)
    if member is None:
        return None
    if member.role == RECIPIENT:
        parts: frozenset[str] | None = frozenset({viewer})
    elif member.role == ORIGINATOR:
        parts = None
    else:
        parts = member.parts
    actions = _ACTIONS.get(member.role, frozenset())
    if member.role == SHARED:
        actions = _SHARED_BY_KIND.get(member.kind, actions)
    return CaseAccess(viewer, member.role, parts, actions)


def parts_of_new_party(role: str, participant: str) -> list[str] | None:
    """What a party added when the case is opened sees (as stored): a recipient its own part, else all."""
    return [participant] if role == RECIPIENT else None


@dataclass(frozen=True)
class Share:
    """A share decided: what the one shared with sees from now on, and whether that is new."""

    parts: frozenset[str] | None
    changes: bool

    def stored(self) -> list[str] | None:
        return None if self.parts is None else sorted(self.parts)

    def detail(self, sharer: CaseAccess) -> dict[str, Any]:
        """What the timeline records of the share: what the sharer gave (the whole case or its parts)."""
        if sharer.parts is None:
            return {"sees": "case"}
        return {"sees": "recipients", "recipients": sorted(sharer.parts)}


def share_part(
    sharer: CaseAccess, target: str, target_kind: str | None, existing: PartyFacts | None
) -> Share:
    """Decide a share: refuse it, or say what the one shared with sees afterwards.

    `target_kind` is the directory kind of the participant shared with (None: not in the directory);
    `existing` its party row if it already is a party. It is given what the sharer sees, added to what
    it saw: a liaison two platforms of a fan-out shared with sees both parts."""
    if not sharer.may(A.SHARE):
        raise Refusal("not-a-party", "only the originator or a recipient of a case may share it")
    if target_kind is None:
        raise Refusal("unknown-recipient", f"no participant '{target}' in the directory")
    allowed = SHARE_WITH.get(sharer.role, frozenset())
    if target_kind not in allowed:
        raise Refusal(
            "share-not-allowed",
            f"a case's {sharer.role} shares it only with: {', '.join(sorted(allowed))}",
            participant_kind=target_kind,
        )
    if existing is None:
        return Share(sharer.parts, True)
    if existing.role != SHARED or existing.parts is None:
        return Share(existing.parts, False)  # it already sees at least what the sharer sees
    if sharer.parts is None:
        return Share(None, True)
    merged = existing.parts | sharer.parts
    return Share(merged, merged != existing.parts)


def figures_cover_every_case(kind: str | None) -> bool:
    """Whether a participant of this directory kind reads the transparency figures over every case."""
    return kind in FIGURES_OVER_EVERY_CASE
