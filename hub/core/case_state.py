r"""The per-recipient state of a case, a pure state machine.

    queued -> retrieved -> acknowledged -> actioned | declined
       \__________\____________\______________\_________\____-> withdrawn

A recipient may skip ahead (a platform that answers with its decision at once has acknowledged it),
may reverse a decision (actioned <-> declined, e.g. after an appeal), and every state but `withdrawn`
can be withdrawn by the sender. News that is already implied (a late acknowledgement after the
decision, a second retrieval) changes nothing and is not an error. Everything else is refused: in
particular nothing moves a withdrawn recipient, whose data must be deleted.

A case's overall status is derived from its recipients' states, never stored on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from hub.core.refusal import Refusal


class RecipientState(StrEnum):
    QUEUED = "queued"
    RETRIEVED = "retrieved"
    ACKNOWLEDGED = "acknowledged"
    ACTIONED = "actioned"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


S = RecipientState
_RANK = {S.QUEUED: 0, S.RETRIEVED: 1, S.ACKNOWLEDGED: 2, S.ACTIONED: 3, S.DECLINED: 3, S.WITHDRAWN: 4}

ALLOWED: dict[RecipientState, frozenset[RecipientState]] = {
    S.QUEUED: frozenset({S.RETRIEVED, S.ACKNOWLEDGED, S.ACTIONED, S.DECLINED, S.WITHDRAWN}),
    S.RETRIEVED: frozenset({S.ACKNOWLEDGED, S.ACTIONED, S.DECLINED, S.WITHDRAWN}),
    S.ACKNOWLEDGED: frozenset({S.ACTIONED, S.DECLINED, S.WITHDRAWN}),
    S.ACTIONED: frozenset({S.DECLINED, S.WITHDRAWN}),
    S.DECLINED: frozenset({S.ACTIONED, S.WITHDRAWN}),
    S.WITHDRAWN: frozenset(),
}

# States a recipient only passes through: news of them after the fact is implied, not a move back.
_IMPLIED = frozenset({S.RETRIEVED, S.ACKNOWLEDGED})


def next_state(current: RecipientState, target: RecipientState) -> RecipientState | None:
    """The state to move to, or None when `target` changes nothing. Refuses a forbidden move."""
    if target in ALLOWED[current]:
        return target
    if current is not S.WITHDRAWN and (
        target == current or (target in _IMPLIED and _RANK[current] >= _RANK[target])
    ):
        return None
    raise Refusal(
        "invalid-transition",
        f"a recipient in state '{current}' cannot move to '{target}'",
        current_state=str(current),
        requested_state=str(target),
    )


def case_status(states: Iterable[RecipientState]) -> str:
    """The case's overall status from its recipients' states.

    open: someone still has to decide; withdrawn: the sender withdrew it everywhere; otherwise the
    decisions: actioned, declined, or partially-actioned when recipients decided differently.
    """
    pending = {S.QUEUED, S.RETRIEVED, S.ACKNOWLEDGED}
    values = list(states)
    if not values:
        return "open"
    if any(s in pending for s in values):
        return "open"
    decided = {s for s in values if s is not S.WITHDRAWN}
    if not decided:
        return "withdrawn"
    if decided == {S.ACTIONED}:
        return "actioned"
    if decided == {S.DECLINED}:
        return "declined"
    return "partially-actioned"


def _retrievable(state: RecipientState) -> bool:
    try:
        return state is not S.WITHDRAWN and next_state(state, S.RETRIEVED) is S.RETRIEVED
    except Refusal:
        return False


# The states from which taking a referral (pull) or receiving its push moves a recipient to `retrieved`.
RETRIEVABLE = frozenset(str(state) for state in RecipientState if _retrievable(state))
