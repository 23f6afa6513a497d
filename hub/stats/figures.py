"""The transparency figures, computed from rows the store read: pure, no I/O.

A *referral* is a takedown or assistance request; a *recipient referral* is one recipient of it, the
unit of every per-recipient figure. Its outcome is the recipient's state now: actioned, declined,
withdrawn, or open (queued, retrieved or acknowledged). Response times run from when the recipient was
told (the start of its legal clocks; without a clock, the referral's acceptance) to its first move to
`acknowledged` (or straight to a decision, which implies it) and to its first decision (actioned or
declined). Medians and 90th percentiles interpolate linearly between ranks, as PostgreSQL's
`percentile_cont` and numpy's default do. The share within the legal deadline counts `act` clocks that
were met against those met or breached; open and cancelled clocks do not count.

Nothing here carries personal data: organisation ids, countries, categories, states and counts only.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.core.refusal import Refusal

OUTCOMES = ("actioned", "declined", "withdrawn", "open")
# Time-to-action buckets: (key, label, upper bound in hours).
ACTION_BUCKETS: tuple[tuple[str, str, float], ...] = (
    ("under_6h", "under 6 h", 6),
    ("6h_to_24h", "6 to 24 h", 24),
    ("24h_to_48h", "24 to 48 h", 48),
    ("2d_to_7d", "2 to 7 days", 168),
    ("over_7d", "over 7 days", math.inf),
)


@dataclass(frozen=True)
class Period:
    """A half-open period [start, end) of whole UTC days."""

    start: date
    end: date

    @property
    def start_at(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        return datetime(self.end.year, self.end.month, self.end.day, tzinfo=UTC)


def parse_period(start: str | None, end: str | None, now: datetime) -> Period:
    """`from` and `to` as YYYY-MM-DD (`to` excluded); by default the calendar year of `now`."""
    year = now.astimezone(UTC).year
    first = _day(start, "from") if start else date(year, 1, 1)
    last = _day(end, "to") if end else date(first.year + 1, 1, 1)
    if first >= last:
        raise Refusal("invalid-parameter", "from must be a day before to", parameter="from")
    return Period(first, last)


def _day(text: str, name: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise Refusal("invalid-parameter", f"{name} must be a date as YYYY-MM-DD", parameter=name) from None


@dataclass(frozen=True)
class RecipientReferral:
    message_id: str
    message_type: str
    recipient: str
    country: str
    state: str
    told_at: datetime
    acknowledged_at: datetime | None
    decided_at: datetime | None


# A match-report's outcomes (schemas/match-report), in the order the figures list them.
SIGNAL_OUTCOMES = ("matched-removed", "matched-not-ncii", "not-found")


@dataclass(frozen=True)
class StatsRows:
    referrals: Sequence[RecipientReferral] = ()
    categories: Mapping[str, str] = field(default_factory=dict)  # takedown message id -> category
    messages_by_type: Mapping[str, int] = field(default_factory=dict)
    act_deadlines: Mapping[str, tuple[int, int]] = field(
        default_factory=dict
    )  # jurisdiction -> met, breached
    escalations: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # -> breaches, reminders
    deliveries: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # channel -> count, dead
    signal_outcomes: Mapping[str, int] = field(default_factory=dict)  # matchers' outcome -> signals
    located_copies: int = 0  # located copies matchers reported (each starts the takedown's clocks)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile by linear interpolation between closest ranks (type 7); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _hours(start: datetime, end: datetime) -> float:
    return (end - start) / timedelta(hours=1)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def summary(values: Sequence[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "median_hours": _round(percentile(values, 0.5)),
        "p90_hours": _round(percentile(values, 0.9)),
    }


def outcome(state: str) -> str:
    return state if state in ("actioned", "declined", "withdrawn") else "open"


def share(met: int, breached: int) -> dict[str, Any]:
    settled = met + breached
    return {"met": met, "breached": breached, "share": _round(met / settled, 4) if settled else None}


def compute(rows: StatsRows, period: Period, *, scope: str) -> dict[str, Any]:
    """Every figure for the period, as one JSON-ready mapping of sections."""
    referrals = list(rows.referrals)
    return {
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat(), "scope": scope},
        "messages": {
            "total": sum(rows.messages_by_type.values()),
            "by_type": dict(sorted(rows.messages_by_type.items())),
        },
        "referrals": _referrals(referrals, rows.categories),
        "response_times": {
            "acknowledgement": _times(referrals, "acknowledged_at"),
            "action": {**_times(referrals, "decided_at"), "distribution": _distribution(referrals)},
        },
        "deadlines": {"act_within_deadline": _deadline_shares(rows.act_deadlines)},
        "escalations": {
            "breaches": sum(b for b, _ in rows.escalations.values()),
            "reminders": sum(r for _, r in rows.escalations.values()),
            "by_jurisdiction": {
                j: {"breaches": b, "reminders": r} for j, (b, r) in sorted(rows.escalations.items())
            },
        },
        "matches": {
            "by_outcome": {o: rows.signal_outcomes.get(o, 0) for o in SIGNAL_OUTCOMES},
            "located_copies": rows.located_copies,
        },
        "deliveries": {
            "total": sum(n for n, _ in rows.deliveries.values()),
            "by_channel": {c: n for c, (n, _) in sorted(rows.deliveries.items())},
            "dead_letters": sum(dead for _, dead in rows.deliveries.values()),
        },
    }


def _count(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def _referrals(referrals: Sequence[RecipientReferral], categories: Mapping[str, str]) -> dict[str, Any]:
    outcomes = Counter(outcome(r.state) for r in referrals)
    per_recipient: dict[str, Counter[str]] = {}
    for r in referrals:
        per_recipient.setdefault(r.recipient, Counter())[outcome(r.state)] += 1
    return {
        "total": len({r.message_id for r in referrals}),
        "recipient_referrals": len(referrals),
        "by_recipient": _count(r.recipient for r in referrals),
        "by_country": _count(r.country for r in referrals),
        "by_category": _count(categories.values()),
        "by_outcome": {o: outcomes[o] for o in OUTCOMES},
        "outcomes_by_recipient": {
            recipient: {o: counts[o] for o in OUTCOMES} for recipient, counts in sorted(per_recipient.items())
        },
    }


def _elapsed(referral: RecipientReferral, attribute: str) -> float | None:
    moment: datetime | None = getattr(referral, attribute)
    return None if moment is None else max(0.0, _hours(referral.told_at, moment))


def _times(referrals: Sequence[RecipientReferral], attribute: str) -> dict[str, Any]:
    overall: list[float] = []
    per_recipient: dict[str, list[float]] = {}
    for r in referrals:
        hours = _elapsed(r, attribute)
        if hours is not None:
            overall.append(hours)
            per_recipient.setdefault(r.recipient, []).append(hours)
    return {
        **summary(overall),
        "by_recipient": {recipient: summary(values) for recipient, values in sorted(per_recipient.items())},
    }


def _distribution(referrals: Sequence[RecipientReferral]) -> dict[str, int]:
    counts = dict.fromkeys((key for key, _, _ in ACTION_BUCKETS), 0)
    for r in referrals:
        hours = _elapsed(r, "decided_at")
        if hours is not None:
            key = next(key for key, _, bound in ACTION_BUCKETS if hours < bound)
            counts[key] += 1
    return counts


def _deadline_shares(act: Mapping[str, tuple[int, int]]) -> dict[str, Any]:
    return {
        **share(sum(m for m, _ in act.values()), sum(b for _, b in act.values())),
        "by_jurisdiction": {j: share(m, b) for j, (m, b) in sorted(act.items())},
    }


def csv_rows(figures: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """One (section, key, value) row per figure. The section is the first two levels of the figures
    (fixed names, never an id); the key is the rest, joined by '/'. A figure with no value is empty."""
    rows: list[tuple[str, str, str]] = []

    def walk(path: tuple[str, ...], value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                walk((*path, str(key)), inner)
            return
        section, key = (path[0], path[1]) if len(path) <= 2 else (".".join(path[:2]), "/".join(path[2:]))
        rows.append((section, key, "" if value is None else str(value)))

    walk((), figures)
    return rows


def to_csv(figures: Mapping[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("section", "key", "value"))
    writer.writerows(csv_rows(figures))
    return out.getvalue()
