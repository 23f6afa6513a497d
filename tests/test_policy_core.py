"""The policy core, pure: durations, which clocks the real jurisdiction files give a message, the earliest
of several jurisdictions, regulators only for the law's own periods, and an operator's policy folder."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.core.policy import Clock, PolicyBook, PolicyError, parse_duration
from hub.policies import default_policy_root, load_policy_book
from hub.settings import Settings

HOURS = timedelta(hours=1)
DAYS = timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P10D", timedelta(days=10)),
        ("PT48H", timedelta(hours=48)),
        ("PT30M", timedelta(minutes=30)),
        ("P1DT12H", timedelta(hours=36)),
        ("PT1H30M", timedelta(minutes=90)),
        ("P3D", timedelta(days=3)),
    ],
)
def test_parse_duration_reads_the_forms_policies_use(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "P", "PT", "P1DT", "PT0H", "P0D", "PT0M", "P1W", "P1M", "P1Y", "PT1.5H", "-PT1H", "48H", "pt48h"],
)
def test_parse_duration_refuses_other_forms_and_zero(text: str) -> None:
    with pytest.raises(PolicyError, match="duration"):
        parse_duration(text)


@pytest.fixture(scope="module")
def book() -> PolicyBook:
    return load_policy_book()


def clocks(
    book: PolicyBook,
    jurisdictions: list[str],
    *,
    message_type: str = "takedown-request",
    recipient: str = "platform",
    sender: str = "hotline",
    body: Mapping[str, Any] | None = None,
    trusted_flagger: bool = False,
) -> dict[str, Clock]:
    found = book.clocks_for(
        message_type=message_type,
        recipient_kind=recipient,
        sender_kind=sender,
        body=body or {},
        jurisdictions=jurisdictions,
        trusted_flagger=trusted_flagger,
    )
    kinds = [c.kind for c in found]
    assert len(kinds) == len(set(kinds)), "one clock per kind"
    return {c.kind: c for c in found}


def test_the_packaged_book_has_the_four_jurisdictions(book: PolicyBook) -> None:
    assert book.jurisdictions() == ["AU", "EU", "GB", "US"]


def test_us_platform_from_a_hotline_acknowledges_in_24h_by_practice_and_acts_in_48h(book: PolicyBook) -> None:
    found = clocks(book, ["US"])
    assert set(found) == {"acknowledge", "act"}
    ack, act = found["acknowledge"], found["act"]
    assert ack.within == 24 * HOURS
    assert "hub practice" in ack.legal_basis.lower()
    assert act.within == 48 * HOURS
    assert "TAKE IT DOWN" in act.legal_basis
    assert act.rule == ack.rule == "us-take-it-down-removal"
    assert act.jurisdiction == "US"
    assert [r for r in act.reminders_before] == [12 * HOURS, 1 * HOURS]


def test_us_clocks_apply_to_hotlines_and_support_services_only(book: PolicyBook) -> None:
    assert set(clocks(book, ["US"], sender="support-service")) == {"acknowledge", "act"}
    assert clocks(book, ["US"], sender="regulator") == {}
    assert clocks(book, ["US"], recipient="hotline") == {}


def test_gb_gives_48_hours_whoever_reports(book: PolicyBook) -> None:
    for sender in ("hotline", "regulator", "support-service"):
        found = clocks(book, ["GB"], sender=sender)
        assert found["act"].within == 48 * HOURS
        assert found["act"].rule == "gb-osa-intimate-image-removal"
        assert "Online Safety Act 2023" in found["act"].legal_basis
        assert found["acknowledge"].within == 24 * HOURS


def test_au_runs_24_hours_only_on_a_removal_notice_from_the_regulator(book: PolicyBook) -> None:
    found = clocks(book, ["AU"], sender="regulator")
    assert set(found) == {"act"}
    assert found["act"].within == 24 * HOURS
    assert found["act"].rule == "au-osa-s77-removal-notice"
    assert "s77" in found["act"].legal_basis
    assert clocks(book, ["AU"], sender="hotline") == {}


def test_eu_dsa_notice_ack_24h_act_7_days_and_a_trusted_flagger_24h(book: PolicyBook) -> None:
    plain = clocks(book, ["EU"])
    assert plain["acknowledge"].within == 24 * HOURS
    assert plain["act"].within == 7 * DAYS
    assert "Art. 16(5)" in plain["act"].legal_basis
    flagged = clocks(book, ["EU"], trusted_flagger=True)
    assert flagged["acknowledge"].within == 24 * HOURS
    assert flagged["act"].within == 24 * HOURS
    assert "Art. 22" in flagged["act"].legal_basis
    assert flagged["act"].rule == "eu-dsa-notice"


@pytest.mark.parametrize(
    ("urgency", "within", "rule"),
    [("routine", 10 * DAYS, "eu-e-evidence-production"), ("emergency", 8 * HOURS, "eu-e-evidence-emergency")],
)
def test_eu_e_evidence_information_request_from_law_enforcement(
    book: PolicyBook, urgency: str, within: timedelta, rule: str
) -> None:
    found = clocks(
        book, ["EU"], message_type="information-request", sender="law-enforcement", body={"urgency": urgency}
    )
    assert set(found) == {"respond"}
    assert found["respond"].within == within
    assert found["respond"].rule == rule
    assert "2023/1543" in found["respond"].legal_basis
    # The same question from a platform or a hotline is no production order.
    for sender in ("platform", "hotline"):
        assert (
            clocks(book, ["EU"], message_type="information-request", sender=sender, body={"urgency": urgency})
            == {}
        )


@pytest.mark.parametrize("jurisdiction", ["AU", "EU", "GB", "US"])
@pytest.mark.parametrize("recipient", ["platform", "hotline", "law-enforcement"])
def test_a_withdrawal_asks_every_recipient_to_confirm_deletion_within_3_days(
    book: PolicyBook, jurisdiction: str, recipient: str
) -> None:
    found = clocks(book, [jurisdiction], message_type="withdrawal", recipient=recipient)
    assert set(found) == {"confirm_deletion"}
    assert found["confirm_deletion"].within == 3 * DAYS
    assert found["confirm_deletion"].notify_regulator is False  # hub practice, not the law's period


def test_several_jurisdictions_the_earliest_per_kind_wins_and_names_its_rule(book: PolicyBook) -> None:
    found = clocks(book, ["EU", "US"])
    assert found["act"].within == 48 * HOURS
    assert (found["act"].rule, found["act"].jurisdiction) == ("us-take-it-down-removal", "US")
    assert "TAKE IT DOWN" in found["act"].legal_basis
    assert found["acknowledge"].within == 24 * HOURS

    from_regulator = clocks(book, ["AU", "EU", "US"], sender="regulator")
    assert (from_regulator["act"].rule, from_regulator["act"].within) == (
        "au-osa-s77-removal-notice",
        24 * HOURS,
    )
    assert from_regulator["acknowledge"].rule == "eu-dsa-notice"  # AU has no acknowledgement clock

    flagged = clocks(book, ["GB", "EU"], trusted_flagger=True)
    assert (flagged["act"].rule, flagged["act"].within) == ("eu-dsa-notice", 24 * HOURS)
    assert flagged["act"].notify_regulator is False  # the winning rule's, not GB's


def test_jurisdictions_not_named_give_no_clocks(book: PolicyBook) -> None:
    assert clocks(book, []) == {}
    assert clocks(book, ["DE"]) == {}
    assert clocks(book, ["EU"], sender="regulator")["act"].within == 7 * DAYS  # AU not named


def test_the_regulator_hears_only_of_statutory_periods(book: PolicyBook) -> None:
    us, gb = clocks(book, ["US"]), clocks(book, ["GB"])
    au = clocks(book, ["AU"], sender="regulator")
    assert us["act"].notify_regulator
    assert gb["act"].notify_regulator
    assert au["act"].notify_regulator
    assert not us["acknowledge"].notify_regulator
    assert not gb["acknowledge"].notify_regulator
    eu = clocks(book, ["EU"], trusted_flagger=True)
    assert not eu["act"].notify_regulator
    assert not eu["acknowledge"].notify_regulator
    production = clocks(
        book,
        ["EU"],
        message_type="information-request",
        sender="law-enforcement",
        body={"urgency": "routine"},
    )
    assert production["respond"].notify_regulator is False  # statutory, but the EU file names no regulator


# -- an operator's folder ---------------------------------------------------------------------------------
def policy(jurisdiction: str, rule_id: str, act: str = "PT72H", **changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "jurisdiction": jurisdiction,
        "title": f"Fictitious {jurisdiction}",
        "regulator_notified": True,
        "rules": [
            {
                "id": rule_id,
                "applies_to": {"message_type": "takedown-request", "recipient_kind": "platform"},
                "act": {
                    "within": act,
                    "legal_basis": "Fictitious Harmful Digital Communications rule",
                    "statutory": True,
                },
                "reminders_before": ["PT2H"],
            }
        ],
    }
    document.update(changes)
    return document


def write(folder: Path, name: str, value: Any) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(value if isinstance(value, str) else json.dumps(value), encoding="utf-8")
    return path


def test_an_operator_adds_a_jurisdiction_with_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    write(folder, "NZ.json", policy("NZ", "nz-hdca-takedown"))
    settings = Settings.from_env({"HUB_POLICY_DIR": str(folder), "HUB_DATA_DIR": str(tmp_path)})
    assert settings.policy_dir == folder

    book = load_policy_book(settings.policy_dir)

    assert book.jurisdictions() == ["AU", "EU", "GB", "NZ", "US"]
    found = clocks(book, ["NZ"])
    assert (found["act"].within, found["act"].rule, found["act"].jurisdiction) == (
        72 * HOURS,
        "nz-hdca-takedown",
        "NZ",
    )
    assert found["act"].notify_regulator is True
    assert found["act"].reminders_before == (2 * HOURS,)
    assert clocks(book, ["US"])["act"].within == 48 * HOURS  # the packaged files still apply


def test_an_operator_file_replaces_the_packaged_one_of_its_jurisdiction(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    # The same rule id as the packaged GB file: that file is replaced, not added to.
    write(
        folder,
        "GB.json",
        policy("GB", "gb-osa-intimate-image-removal", act="PT24H", regulator_notified=False),
    )

    book = load_policy_book(folder)

    found = clocks(book, ["GB"])
    assert set(found) == {"act"}  # the packaged acknowledgement and withdrawal rules are gone
    assert found["act"].within == 24 * HOURS
    assert found["act"].notify_regulator is False
    assert clocks(book, ["GB"], message_type="withdrawal") == {}


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("{not json", ["NZ.json", "not readable JSON"]),
        (policy("NZ", "nz-rule", act="P1M"), ["NZ.json", "invalid at /rules/0/act/within"]),
        (policy("NZ", "nz-rule", regulator_notified="yes"), ["NZ.json", "/regulator_notified"]),
        (policy("NZ", "NZ Rule"), ["NZ.json", "/rules/0/id"]),
        (policy("NL", "nl-rule"), ["NZ.json", "'NL'", "'NZ'"]),
        (policy("NZ", "us-take-it-down-removal"), ["us-take-it-down-removal", "twice"]),
    ],
)
def test_a_broken_policy_file_is_refused_with_its_name(
    tmp_path: Path, content: Any, fragments: list[str]
) -> None:
    folder = tmp_path / "policies"
    write(folder, "NZ.json", content)
    with pytest.raises(PolicyError) as refused:
        load_policy_book(folder)
    for fragment in fragments:
        assert fragment in str(refused.value)


def test_an_information_request_rule_cannot_start_an_act_clock(tmp_path: Path) -> None:
    document = policy("NZ", "nz-info")
    document["rules"][0]["applies_to"]["message_type"] = "information-request"
    write(tmp_path / "policies", "NZ.json", document)
    with pytest.raises(PolicyError, match=r"NZ\.json: invalid at /rules/0"):
        load_policy_book(tmp_path / "policies")


def test_a_policy_dir_that_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not a folder"):
        load_policy_book(tmp_path / "missing")


def test_from_documents_reads_the_packaged_files_directly() -> None:
    root = default_policy_root() / "jurisdictions"
    documents = [json.loads(p.read_text("utf-8")) for p in sorted(root.glob("*.json"))]
    book = PolicyBook.from_documents(documents)
    assert book == load_policy_book()
    with pytest.raises(PolicyError, match="twice"):
        PolicyBook.from_documents([*documents, documents[0]])
