"""Retention: when a case's personal data is purged (pure).

A case becomes final when it is closed, or when every recipient has decided or been withdrawn; its
personal data is kept for the retention period after that, then purged. The period comes from the
retention policy (`policies/retention.json`): a default, overridden per case type, overridden per final
status (a withdrawn case is forgotten sooner). What is kept after a purge: identifiers, times, states,
digests, the hub's receipts and evidences, the audit trail and the statistics: nothing that names or
locates a victim or the content.

E-mail to no known reply address belongs to no case: it is kept only for a short period from its
arrival (`unmatched_mail_cutoff`), then deleted. E-mail to a case is purged with the case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

FINAL_RECIPIENT_STATES = frozenset({"actioned", "declined", "withdrawn"})


@dataclass(frozen=True)
class RetentionPolicy:
    default_days: int = 180
    by_case_type: Mapping[str, int] = field(default_factory=dict)
    by_final_status: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> RetentionPolicy:
        def days(value: object) -> int:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3650:
                raise ValueError("retention periods are whole days from 0 to 3650")
            return value

        return cls(
            default_days=days(document.get("default_days", 180)),
            by_case_type={str(k): days(v) for k, v in document.get("by_case_type", {}).items()},
            by_final_status={str(k): days(v) for k, v in document.get("by_final_status", {}).items()},
        )

    def period(self, case_type: str, final_status: str) -> timedelta:
        if final_status in self.by_final_status:
            return timedelta(days=self.by_final_status[final_status])
        return timedelta(days=self.by_case_type.get(case_type, self.default_days))


def final_at(
    closed_at: datetime | None, recipient_states: Iterable[tuple[str, datetime | None]]
) -> datetime | None:
    """When the case became final: its closure, else the last decision once every recipient decided."""
    if closed_at is not None:
        return closed_at
    states = list(recipient_states)
    if not states or any(state not in FINAL_RECIPIENT_STATES or at is None for state, at in states):
        return None
    return max(at for _, at in states if at is not None)


def purge_at(
    policy: RetentionPolicy,
    *,
    case_type: str,
    final_status: str,
    closed_at: datetime | None,
    recipient_states: Iterable[tuple[str, datetime | None]],
) -> datetime | None:
    """When the case's retention period ends (None while it is not final: no purge date yet)."""
    final = final_at(closed_at, recipient_states)
    return None if final is None else final + policy.period(case_type, final_status)


def purge_due(
    policy: RetentionPolicy,
    *,
    case_type: str,
    final_status: str,
    closed_at: datetime | None,
    recipient_states: Iterable[tuple[str, datetime | None]],
    now: datetime,
) -> bool:
    at = purge_at(
        policy,
        case_type=case_type,
        final_status=final_status,
        closed_at=closed_at,
        recipient_states=recipient_states,
    )
    return at is not None and now >= at


def unmatched_mail_cutoff(now: datetime, retention_hours: int) -> datetime:
    """Mail to no known reply address received before this is past its retention."""
    return now - timedelta(hours=retention_hours)
