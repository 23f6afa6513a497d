"""The recipient state machine and the derived case status, as pure code."""

from __future__ import annotations

import itertools

import pytest

from hub.core.case_state import ALLOWED, RecipientState, case_status, next_state
from hub.core.refusal import Refusal

S = RecipientState


@pytest.mark.parametrize(("current", "target"), [(c, t) for c in S for t in S if t in ALLOWED[c]])
def test_allowed_moves_happen(current: RecipientState, target: RecipientState) -> None:
    assert next_state(current, target) is target


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.RETRIEVED, S.RETRIEVED),
        (S.ACKNOWLEDGED, S.RETRIEVED),
        (S.ACKNOWLEDGED, S.ACKNOWLEDGED),
        (S.ACTIONED, S.ACKNOWLEDGED),
        (S.DECLINED, S.RETRIEVED),
        (S.ACTIONED, S.ACTIONED),
    ],
)
def test_news_already_implied_changes_nothing(current: RecipientState, target: RecipientState) -> None:
    assert next_state(current, target) is None


@pytest.mark.parametrize(
    ("current", "target"),
    [(S.WITHDRAWN, t) for t in S]
    + [(S.RETRIEVED, S.QUEUED), (S.ACTIONED, S.QUEUED), (S.ACKNOWLEDGED, S.QUEUED)],
)
def test_forbidden_moves_are_refused(current: RecipientState, target: RecipientState) -> None:
    with pytest.raises(Refusal) as refused:
        next_state(current, target)
    assert refused.value.code == "invalid-transition"
    assert refused.value.extra == {"current_state": str(current), "requested_state": str(target)}


def test_every_pair_is_decided() -> None:
    """No pair of states falls through: each is a move, a no-op or a refusal."""
    for current, target in itertools.product(S, S):
        try:
            result = next_state(current, target)
        except Refusal:
            assert target not in ALLOWED[current]
        else:
            assert result in (None, target)


def test_nothing_leaves_withdrawn() -> None:
    assert ALLOWED[S.WITHDRAWN] == frozenset()


@pytest.mark.parametrize(
    ("states", "status"),
    [
        ([], "open"),
        ([S.QUEUED], "open"),
        ([S.ACTIONED, S.ACKNOWLEDGED], "open"),
        ([S.ACTIONED], "actioned"),
        ([S.ACTIONED, S.ACTIONED], "actioned"),
        ([S.DECLINED], "declined"),
        ([S.ACTIONED, S.DECLINED], "partially-actioned"),
        ([S.WITHDRAWN, S.WITHDRAWN], "withdrawn"),
        ([S.WITHDRAWN, S.ACTIONED], "actioned"),
    ],
)
def test_case_status_is_derived(states: list[RecipientState], status: str) -> None:
    assert case_status(states) == status
