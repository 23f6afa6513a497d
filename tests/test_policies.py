"""The deadline policies: one file per jurisdiction, valid against the schema, honest about the law."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

POLICIES = Path(__file__).resolve().parents[1] / "policies"
JURISDICTIONS = POLICIES / "jurisdictions"
CLOCKS = ("acknowledge", "act", "respond", "confirm_deletion")
_DURATION = re.compile(r"^P(?:(?P<d>[1-9][0-9]*)D)?(?:T(?:(?P<h>[1-9][0-9]*)H|(?P<m>[1-9][0-9]*)M))?$")


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _files() -> list[Path]:
    return sorted(JURISDICTIONS.glob("*.json"))


def _documents() -> dict[str, dict[str, Any]]:
    return {path.stem: _read(path) for path in _files()}


def duration(text: str) -> timedelta:
    """The four forms policies allow: P<n>D, PT<n>H, PT<n>M, P<n>DT<n>H."""
    match = _DURATION.match(text)
    if not match or text in ("P", "PT") or (match["d"] and match["m"]):
        raise ValueError(f"unsupported duration {text!r}")
    days, hours, minutes = (int(match[group] or 0) for group in "dhm")
    return timedelta(days=days, hours=hours, minutes=minutes)


def _deadlines(rule: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for kind in CLOCKS:
        if kind in rule:
            yield kind, rule[kind]
    for kind, deadline in rule.get("trusted_flagger", {}).items():
        yield f"trusted_flagger.{kind}", deadline


def _kinds(value: str | list[str] | None) -> set[str] | None:
    return None if value is None else {value} if isinstance(value, str) else set(value)


def _applies(rule: Mapping[str, Any], message: Mapping[str, Any]) -> bool:
    when = rule["applies_to"]
    recipients, senders = _kinds(when.get("recipient_kind")), _kinds(when.get("sender_kind"))
    return (
        when["message_type"] == message["type"]
        and (recipients is None or message["recipient_kind"] in recipients)
        and (senders is None or message["sender_kind"] in senders)
        and all(message.get("body", {}).get(key) == value for key, value in when.get("body", {}).items())
    )


def hours(
    jurisdiction: str, clock: str, message: Mapping[str, Any], *, trusted_flagger: bool = False
) -> float | None:
    """The shortest clock of this kind that the jurisdiction's rules give the message, in hours."""
    found = []
    for rule in _documents()[jurisdiction]["rules"]:
        if _applies(rule, message):
            deadlines = dict(_deadlines(rule))
            deadline = deadlines.get(f"trusted_flagger.{clock}") if trusted_flagger else None
            deadline = deadline or deadlines.get(clock)
            if deadline:
                found.append(duration(deadline["within"]) / timedelta(hours=1))
    return min(found, default=None)


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = _read(POLICIES / "schema.json")
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


# --- the schema and the files ---------------------------------------------------------------------


def test_schema_passes_the_2020_12_metaschema() -> None:
    schema = _read(POLICIES / "schema.json")
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "urn:referral-hub:policy:1.0"


def test_the_four_jurisdictions_are_there() -> None:
    assert {"US", "GB", "AU", "EU"} <= {path.stem for path in _files()}


@pytest.mark.parametrize("path", _files(), ids=lambda path: path.name)
def test_file_is_valid(validator: Draft202012Validator, path: Path) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(_read(path))]
    assert errors == []


@pytest.mark.parametrize("path", _files(), ids=lambda path: path.name)
def test_file_is_named_after_its_jurisdiction(path: Path) -> None:
    assert _read(path)["jurisdiction"] == path.stem


def test_rule_ids_are_unique_across_files() -> None:
    ids = [rule["id"] for document in _documents().values() for rule in document["rules"]]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.parametrize("path", _files(), ids=lambda path: path.name)
def test_every_duration_parses_and_reminders_come_before_the_deadline(path: Path) -> None:
    for rule in _read(path)["rules"]:
        periods = [duration(deadline["within"]) for _, deadline in _deadlines(rule)]
        assert periods, rule["id"]
        assert all(period > timedelta(0) for period in periods)
        for reminder in rule.get("reminders_before", []):
            assert timedelta(0) < duration(reminder) < min(periods), (rule["id"], reminder)


@pytest.mark.parametrize("path", _files(), ids=lambda path: path.name)
def test_every_legal_basis_says_whose_period_it_is(path: Path) -> None:
    # A period the law does not set must say it is the hub's; one the law sets must not pretend otherwise.
    for rule in _read(path)["rules"]:
        for kind, deadline in _deadlines(rule):
            says_hub = "hub practice" in deadline["legal_basis"].lower()
            assert says_hub != deadline["statutory"], (rule["id"], kind)


@pytest.mark.parametrize("path", _files(), ids=lambda path: path.name)
def test_every_jurisdiction_asks_for_deletion_after_a_withdrawal(path: Path) -> None:
    message = {"type": "withdrawal", "recipient_kind": "platform", "sender_kind": "hotline"}
    assert hours(path.stem, "confirm_deletion", message) == 72
    for kind in ("hotline", "regulator", "law-enforcement", "support-service"):
        assert hours(path.stem, "confirm_deletion", message | {"recipient_kind": kind}) == 72


# --- the laws of the issue, with their numbers ------------------------------------------------------

TAKEDOWN = {"type": "takedown-request", "recipient_kind": "platform", "sender_kind": "hotline"}
PRODUCTION_ORDER = {
    "type": "information-request",
    "recipient_kind": "platform",
    "sender_kind": "law-enforcement",
}


def test_us_take_it_down_act_48_hours() -> None:
    assert hours("US", "act", TAKEDOWN) == 48
    assert hours("US", "acknowledge", TAKEDOWN) == 24


def test_uk_48_hours_from_report() -> None:
    assert hours("GB", "act", TAKEDOWN) == 48


def test_australian_removal_notice_24_hours_only_from_the_regulator() -> None:
    assert hours("AU", "act", TAKEDOWN | {"sender_kind": "regulator"}) == 24
    assert hours("AU", "act", TAKEDOWN) is None


def test_eu_e_evidence_10_days_and_8_hours_in_emergencies() -> None:
    assert hours("EU", "respond", PRODUCTION_ORDER | {"body": {"urgency": "routine"}}) == 240
    assert hours("EU", "respond", PRODUCTION_ORDER | {"body": {"urgency": "emergency"}}) == 8
    # A platform asking a hotline for more starts no e-Evidence clock.
    asked = {"type": "information-request", "recipient_kind": "hotline", "sender_kind": "platform"}
    assert hours("EU", "respond", asked | {"body": {"urgency": "emergency"}}) is None


def test_eu_dsa_priority_for_trusted_flaggers() -> None:
    assert hours("EU", "acknowledge", TAKEDOWN) == 24
    assert hours("EU", "act", TAKEDOWN) == 7 * 24
    assert hours("EU", "act", TAKEDOWN, trusted_flagger=True) == 24


# --- what the schema refuses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days", "hours_", "minutes"),
    [("P3D", 3, 0, 0), ("PT48H", 0, 48, 0), ("PT30M", 0, 0, 30), ("P1DT12H", 1, 12, 0)],
)
def test_duration_forms(
    validator: Draft202012Validator, text: str, days: int, hours_: int, minutes: int
) -> None:
    assert duration(text) == timedelta(days=days, hours=hours_, minutes=minutes)
    assert _faults_after(validator, lambda rule: rule["act"].update(within=text)) == []


@pytest.mark.parametrize(
    "text", ["P", "PT", "PT0H", "P01D", "PT1.5H", "P1W", "P1M", "P1Y", "PT1H30M", "P1DT30M", "48h", "P-1D"]
)
def test_other_durations_are_refused(validator: Draft202012Validator, text: str) -> None:
    with pytest.raises(ValueError, match="unsupported duration"):
        duration(text)
    assert _faults_after(validator, lambda rule: rule["act"].update(within=text)) == [
        ["rules", 0, "act", "within"]
    ]


def _faults_after(validator: Draft202012Validator, change: Any) -> list[list[Any]]:
    document = copy.deepcopy(_documents()["US"])
    change(document["rules"][0])
    return sorted(list(error.absolute_path) for error in validator.iter_errors(document))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda rule: [rule.pop(kind, None) for kind in CLOCKS], id="no-clock"),
        pytest.param(lambda rule: rule["applies_to"].update(recipient_kind="ngo"), id="unknown-kind"),
        pytest.param(lambda rule: rule["applies_to"].pop("message_type"), id="no-message-type"),
        pytest.param(
            lambda rule: rule["applies_to"].update(message_type="information-request"), id="act-on-info"
        ),
        pytest.param(lambda rule: rule["act"].pop("legal_basis"), id="no-legal-basis"),
        pytest.param(lambda rule: rule["act"].pop("statutory"), id="no-statutory"),
        pytest.param(lambda rule: rule.update(id="US rule"), id="bad-id"),
        pytest.param(lambda rule: rule.update(trusted_flagger={}), id="empty-trusted-flagger"),
        pytest.param(lambda rule: rule.update(deadline="PT48H"), id="unknown-member"),
    ],
)
def test_broken_rules_are_refused(validator: Draft202012Validator, change: Any) -> None:
    assert _faults_after(validator, change) != []


def test_lowercase_jurisdiction_is_refused(validator: Draft202012Validator) -> None:
    document = _documents()["EU"] | {"jurisdiction": "eu"}
    assert [list(error.absolute_path) for error in validator.iter_errors(document)] == [["jurisdiction"]]
