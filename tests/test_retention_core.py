"""Retention periods and crypto-shredding primitives, as pure code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.core.retention import RetentionPolicy, final_at, purge_at, purge_due
from hub.core.vault import VaultError, new_key, open_with, seal_with, unwrap, wrap

T0 = datetime(2026, 3, 1, tzinfo=UTC)
POLICY = RetentionPolicy.from_document(
    json.loads((Path(__file__).parent.parent / "policies" / "retention.json").read_text())
)


def test_a_sealed_form_opens_only_with_its_case_key() -> None:
    key, other = new_key(), new_key()
    box = seal_with(key, b"the exact signed bytes")
    assert open_with(key, box) == b"the exact signed bytes"
    with pytest.raises(VaultError):
        open_with(other, box)
    assert seal_with(key, b"x") != seal_with(key, b"x")  # a fresh nonce each time


def test_case_keys_are_wrapped_by_the_storage_key() -> None:
    storage, case = new_key(), new_key()
    wrapped = wrap(storage, case)
    assert case not in wrapped
    assert unwrap(storage, wrapped) == case
    with pytest.raises(VaultError):
        unwrap(new_key(), wrapped)


def test_periods_by_status_then_type_then_default() -> None:
    assert POLICY.period("takedown-request", "actioned") == timedelta(days=180)
    assert POLICY.period("assistance-request", "closed") == timedelta(days=90)
    assert POLICY.period("takedown-request", "withdrawn") == timedelta(days=30)
    assert POLICY.period("some-future-type", "declined") == timedelta(days=180)


@pytest.mark.parametrize("bad", [-1, 3651, "30", 1.5, True])
def test_bad_periods_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="whole days"):
        RetentionPolicy.from_document({"default_days": bad})


def test_a_case_is_final_when_closed_or_when_every_recipient_decided() -> None:
    assert final_at(T0, [("queued", None)]) == T0
    assert final_at(None, [("actioned", T0), ("acknowledged", T0)]) is None
    assert final_at(None, [("actioned", T0), ("declined", T0 + timedelta(days=2))]) == T0 + timedelta(days=2)
    assert final_at(None, []) is None


def test_purge_is_due_only_after_the_period() -> None:
    states = [("actioned", T0)]
    due = T0 + timedelta(days=180)
    kwargs = {
        "case_type": "takedown-request",
        "final_status": "actioned",
        "closed_at": None,
        "recipient_states": states,
    }
    assert not purge_due(POLICY, now=due - timedelta(seconds=1), **kwargs)  # type: ignore[arg-type]
    assert purge_due(POLICY, now=due, **kwargs)  # type: ignore[arg-type]
    open_case = {**kwargs, "recipient_states": [("acknowledged", T0)]}
    assert not purge_due(POLICY, now=due + timedelta(days=999), **open_case)  # type: ignore[arg-type]


def test_the_purge_date_is_the_end_of_the_period_and_none_before_the_case_is_final() -> None:
    kwargs = {"case_type": "takedown-request", "final_status": "actioned", "closed_at": None}
    assert purge_at(POLICY, recipient_states=[("actioned", T0)], **kwargs) == T0 + timedelta(days=180)  # type: ignore[arg-type]
    assert purge_at(POLICY, recipient_states=[("acknowledged", T0)], **kwargs) is None  # type: ignore[arg-type]
