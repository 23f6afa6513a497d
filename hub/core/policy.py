"""Deadline policies: which legal clocks a message starts, as pure data and pure matching.

A policy file describes one jurisdiction (`policies/jurisdictions/<CC>.json`, schema in
`policies/schema.json`); an operator adds a jurisdiction by adding a file, no code. Each rule says
which messages it applies to (message type, recipient kind, optionally sender kind and body values)
and the clocks it starts: `acknowledge` (confirmation of receipt), `act` (a decision: removal or a
reasoned refusal), `respond` (an answer to an information request) and `confirm_deletion` (after a
withdrawal), each with its legal basis. A trusted flagger (DSA Art. 22) may get shorter clocks.

A message may fall under several jurisdictions (those named in the referral); for each kind of clock
the earliest due time wins, and the clock records the rule and legal basis that set it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

CLOCK_KINDS = ("acknowledge", "act", "respond", "confirm_deletion")
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


class PolicyError(ValueError):
    """A policy file is not usable."""


def parse_duration(text: str) -> timedelta:
    """The ISO 8601 durations policies use: P<n>D, PT<n>H, PT<n>M and their combinations."""
    match = _DURATION.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise PolicyError(f"not a supported ISO 8601 duration: {text!r}")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes)
    if duration <= timedelta(0):
        raise PolicyError(f"a duration must be positive: {text!r}")
    return duration


@dataclass(frozen=True)
class ClockRule:
    within: timedelta
    legal_basis: str
    statutory: bool = True  # the law sets the period (not the hub's own practice)


@dataclass(frozen=True)
class Rule:
    id: str
    jurisdiction: str
    message_type: str
    recipient_kinds: frozenset[str]
    sender_kinds: frozenset[str] | None
    body: Mapping[str, Any]
    clocks: Mapping[str, ClockRule]
    trusted_flagger_clocks: Mapping[str, ClockRule]
    reminders_before: tuple[timedelta, ...]
    notify_regulator: bool

    def applies(
        self, message_type: str, recipient_kind: str, sender_kind: str, body: Mapping[str, Any]
    ) -> bool:
        return (
            message_type == self.message_type
            and (not self.recipient_kinds or recipient_kind in self.recipient_kinds)
            and (self.sender_kinds is None or sender_kind in self.sender_kinds)
            and all(body.get(key) == value for key, value in self.body.items())
        )


@dataclass(frozen=True)
class Clock:
    """A clock to start: `kind` is due `within` after the recipient is told."""

    kind: str
    within: timedelta
    legal_basis: str
    rule: str
    jurisdiction: str
    reminders_before: tuple[timedelta, ...]
    notify_regulator: bool


def _kinds(value: object) -> frozenset[str]:
    if value is None:
        return frozenset()
    return frozenset([value] if isinstance(value, str) else list(value))  # type: ignore[call-overload]


def _clock_rules(data: Mapping[str, Any]) -> dict[str, ClockRule]:
    return {
        kind: ClockRule(
            parse_duration(data[kind]["within"]),
            str(data[kind]["legal_basis"]),
            bool(data[kind].get("statutory", True)),
        )
        for kind in CLOCK_KINDS
        if kind in data
    }


def rules_from_document(document: Mapping[str, Any]) -> list[Rule]:
    """The rules of one jurisdiction file (already validated against policies/schema.json)."""
    jurisdiction = str(document["jurisdiction"])
    rules = []
    for raw in document["rules"]:
        applies = raw["applies_to"]
        clocks = _clock_rules(raw)
        if not clocks:
            raise PolicyError(f"rule {raw['id']} starts no clock")
        senders = applies.get("sender_kind")
        rules.append(
            Rule(
                id=str(raw["id"]),
                jurisdiction=jurisdiction,
                message_type=str(applies["message_type"]),
                recipient_kinds=_kinds(applies.get("recipient_kind")),
                sender_kinds=None if senders is None else _kinds(senders),
                body=dict(applies.get("body", {})),
                clocks=clocks,
                trusted_flagger_clocks=_clock_rules(raw.get("trusted_flagger", {})),
                reminders_before=tuple(parse_duration(r) for r in raw.get("reminders_before", [])),
                notify_regulator=bool(document.get("regulator_notified", False)),
            )
        )
    return rules


@dataclass(frozen=True)
class PolicyBook:
    rules: tuple[Rule, ...]

    @classmethod
    def from_documents(cls, documents: Iterable[Mapping[str, Any]]) -> PolicyBook:
        rules = [rule for document in documents for rule in rules_from_document(document)]
        ids = [rule.id for rule in rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise PolicyError(f"rule ids used twice: {', '.join(duplicates)}")
        return cls(tuple(rules))

    def jurisdictions(self) -> list[str]:
        return sorted({rule.jurisdiction for rule in self.rules})

    def clocks_for(
        self,
        *,
        message_type: str,
        recipient_kind: str,
        sender_kind: str,
        body: Mapping[str, Any],
        jurisdictions: Sequence[str],
        trusted_flagger: bool = False,
    ) -> list[Clock]:
        """The clocks a message starts for one recipient: per kind, the earliest of the matching rules."""
        best: dict[str, Clock] = {}
        for rule in self.rules:
            if rule.jurisdiction not in jurisdictions:
                continue
            if not rule.applies(message_type, recipient_kind, sender_kind, body):
                continue
            clocks = dict(rule.clocks)
            if trusted_flagger:
                clocks.update(rule.trusted_flagger_clocks)
            for kind, spec in clocks.items():
                current = best.get(kind)
                if current is None or spec.within < current.within:
                    # A regulator hears of a breach of the law's own period, not of the hub's practice.
                    best[kind] = Clock(
                        kind,
                        spec.within,
                        spec.legal_basis,
                        rule.id,
                        rule.jurisdiction,
                        rule.reminders_before,
                        rule.notify_regulator and spec.statutory,
                    )
        return [best[kind] for kind in CLOCK_KINDS if kind in best]
