"""What a message does to a case: the pure admission rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.core.admission import Admission, CaseSnapshot, DirectoryEntry, Party, Transition, admit
from hub.core.case_state import RecipientState
from hub.core.envelope import Envelope
from hub.core.refusal import Refusal

S = RecipientState
HOTLINE, PLATFORM, OTHER, POLICE = "de-hotline", "ie-platform", "us-platform", "nl-police"
REGULATOR, FR_HOTLINE = "ie-regulator", "fr-hotline"
DIRECTORY = {
    PLATFORM: DirectoryEntry(PLATFORM, "platform", "IE", frozenset({"takedown-request"})),
    OTHER: DirectoryEntry(OTHER, "platform", "US", frozenset({"takedown-request"})),
    POLICE: DirectoryEntry(POLICE, "law-enforcement", "NL", frozenset()),
    # a regulator its operator set to take copies of referrals, and a hotline abroad that relays them
    REGULATOR: DirectoryEntry(REGULATOR, "regulator", "IE", frozenset({"takedown-request"})),
    FR_HOTLINE: DirectoryEntry(FR_HOTLINE, "hotline", "FR", frozenset({"takedown-request"})),
}
CASE_ID, REQUEST_ID = uuid.uuid4(), uuid.uuid4()


def envelope(
    message_type: str, sender: str, to: list[str], body: dict[str, Any] | None = None, **kw: Any
) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        type=message_type,
        version="1.0",
        sender=sender,
        to=tuple(to),
        case=kw.get("case"),
        in_reply_to=kw.get("in_reply_to"),
        created_at=datetime.now(UTC),
        body=body or {},
    )


def case(platform_state: RecipientState = S.QUEUED, **extra: Party) -> CaseSnapshot:
    parties = {HOTLINE: Party("originator"), PLATFORM: Party("recipient", platform_state), **extra}
    return CaseSnapshot(
        id=CASE_ID, opened_by=HOTLINE, parties=parties, message_types={REQUEST_ID: "takedown-request"}
    )


def answer(message_type: str, body: dict[str, Any], sender: str = PLATFORM) -> Envelope:
    return envelope(message_type, sender, [HOTLINE], body, case=CASE_ID, in_reply_to=REQUEST_ID)


def refusal_code(env: Envelope, snapshot: CaseSnapshot | None) -> str:
    with pytest.raises(Refusal) as refused:
        admit(env, DIRECTORY, snapshot, uuid.uuid4())
    return refused.value.code


def test_takedown_opens_a_case_with_one_queued_recipient_each() -> None:
    new_id = uuid.uuid4()
    plan = admit(
        envelope("takedown-request", HOTLINE, [PLATFORM, REGULATOR], {"minor_depicted": "no"}),
        DIRECTORY,
        None,
        new_id,
    )
    assert plan == Admission(
        case_id=new_id,
        opens_case=True,
        recipients=(PLATFORM, REGULATOR),
        transitions=(Transition(PLATFORM, None, S.QUEUED), Transition(REGULATOR, None, S.QUEUED)),
    )


@pytest.mark.parametrize(
    "to",
    [[PLATFORM, OTHER], [OTHER, REGULATOR, PLATFORM], [PLATFORM, FR_HOTLINE, OTHER]],
    ids=["two-platforms", "with-a-regulator-copy", "with-a-hotline"],
)
def test_a_takedown_to_several_platforms_is_refused_each_would_see_the_others_urls(to: list[str]) -> None:
    with pytest.raises(Refusal) as refused:
        admit(
            envelope("takedown-request", HOTLINE, to, {"minor_depicted": "no"}), DIRECTORY, None, uuid.uuid4()
        )

    assert refused.value.code == "split-per-recipient"
    assert refused.value.extra == {"platforms": sorted([PLATFORM, OTHER])}


def test_a_further_part_to_several_new_platforms_is_refused_too() -> None:
    snapshot = CaseSnapshot(
        id=CASE_ID,
        opened_by=HOTLINE,
        parties={HOTLINE: Party("originator"), FR_HOTLINE: Party("recipient", S.QUEUED)},
        message_types={REQUEST_ID: "takedown-request"},
    )
    part = envelope("takedown-request", HOTLINE, [PLATFORM, OTHER], {"minor_depicted": "no"}, case=CASE_ID)

    assert refusal_code(part, snapshot) == "split-per-recipient"


@pytest.mark.parametrize("to", [[PLATFORM], [PLATFORM, REGULATOR], [PLATFORM, FR_HOTLINE]])
def test_one_platform_with_copies_to_non_platforms_is_admitted(to: list[str]) -> None:
    plan = admit(
        envelope("takedown-request", HOTLINE, to, {"minor_depicted": "no"}), DIRECTORY, None, uuid.uuid4()
    )

    assert plan.recipients == tuple(to)


@pytest.mark.parametrize("answer_", ["yes", "unknown", None])
def test_a_possible_minor_never_goes_down_the_ncii_path(answer_: str | None) -> None:
    body = {} if answer_ is None else {"minor_depicted": answer_}
    with pytest.raises(Refusal) as refused:
        admit(envelope("takedown-request", HOTLINE, [PLATFORM], body), DIRECTORY, None, uuid.uuid4())
    assert refused.value.code == "csam-referral"
    assert "CSAM channel" in refused.value.detail


@pytest.mark.parametrize(
    ("to", "code"),
    [
        ([HOTLINE], "invalid-recipient"),
        (["nowhere"], "unknown-recipient"),
        ([POLICE], "recipient-does-not-accept"),
    ],
)
def test_referral_recipients_are_checked(to: list[str], code: str) -> None:
    assert refusal_code(envelope("takedown-request", HOTLINE, to, {"minor_depicted": "no"}), None) == code


@pytest.mark.parametrize(
    ("message_type", "body", "start", "end"),
    [
        ("acknowledgement", {}, S.QUEUED, S.ACKNOWLEDGED),
        ("status-update", {"status": "in-review"}, S.RETRIEVED, S.ACKNOWLEDGED),
        ("status-update", {"status": "actioned"}, S.ACKNOWLEDGED, S.ACTIONED),
        ("status-update", {"status": "declined"}, S.QUEUED, S.DECLINED),
        ("status-update", {"status": "actioned"}, S.DECLINED, S.ACTIONED),
    ],
)
def test_answers_move_their_sender(
    message_type: str, body: dict[str, Any], start: RecipientState, end: RecipientState
) -> None:
    plan = admit(answer(message_type, body), DIRECTORY, case(start), uuid.uuid4())
    assert plan.case_id == CASE_ID
    assert not plan.opens_case
    assert plan.transitions == (Transition(PLATFORM, start, end),)


def test_a_late_acknowledgement_changes_nothing() -> None:
    plan = admit(answer("acknowledgement", {}), DIRECTORY, case(S.ACTIONED), uuid.uuid4())
    assert plan.transitions == ()
    assert plan.recipients == (HOTLINE,)


def test_an_answer_after_withdrawal_is_refused() -> None:
    assert (
        refusal_code(answer("status-update", {"status": "actioned"}), case(S.WITHDRAWN))
        == "invalid-transition"
    )


def test_withdrawal_by_the_originator_withdraws_each_recipient() -> None:
    env = envelope("withdrawal", HOTLINE, [PLATFORM], {"reason": "victim-request"}, case=CASE_ID)
    plan = admit(env, DIRECTORY, case(S.ACKNOWLEDGED), uuid.uuid4())
    assert plan.transitions == (Transition(PLATFORM, S.ACKNOWLEDGED, S.WITHDRAWN),)


@pytest.mark.parametrize(
    ("env", "snapshot", "code"),
    [
        (answer("acknowledgement", {}), None, "unknown-case"),
        (answer("acknowledgement", {}, sender=OTHER), case(), "not-a-party"),
        (answer("acknowledgement", {}, sender=POLICE), case(**{POLICE: Party("shared")}), "not-a-party"),
        (answer("acknowledgement", {}, sender=HOTLINE), case(), "invalid-recipient"),
        (
            envelope("acknowledgement", PLATFORM, [OTHER], case=CASE_ID, in_reply_to=REQUEST_ID),
            case(),
            "unknown-recipient",
        ),
        (
            envelope("acknowledgement", PLATFORM, [HOTLINE], case=CASE_ID, in_reply_to=uuid.uuid4()),
            case(),
            "invalid-reply",
        ),
        (envelope("withdrawal", PLATFORM, [HOTLINE], case=CASE_ID), case(), "not-a-party"),
        (envelope("withdrawal", HOTLINE, [PLATFORM], case=CASE_ID), case(S.WITHDRAWN), "invalid-transition"),
        (
            envelope("withdrawal", HOTLINE, [POLICE], case=CASE_ID),
            case(**{POLICE: Party("shared")}),
            "invalid-recipient",
        ),
    ],
)
def test_case_messages_are_refused_when_out_of_place(
    env: Envelope, snapshot: CaseSnapshot | None, code: str
) -> None:
    assert refusal_code(env, snapshot) == code
