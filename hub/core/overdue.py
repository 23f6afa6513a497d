"""Whether a legal clock is overdue: one rule for the case page, the case list and the metrics.

A clock is overdue when it is past due and nothing answered it: still `open` at or after its due time
(the clock worker has not marked the breach yet), or `breached` and not answered late since. A clock met,
cancelled, or answered after its breach is not overdue. A case is overdue when a clock the viewer sees is.

The case list (`hub/store/queries/cases.sql` `list_cases`) and the metrics (`hub/store/queries/metrics.sql`
`metrics_deadlines`) compute the same predicate in SQL over many rows; `tests/test_case_rules_differential.py`
feeds them and this function the same clocks.
"""

from __future__ import annotations

from datetime import datetime


def is_overdue(state: str, due_at: datetime, answered_late_at: datetime | None, now: datetime) -> bool:
    if state == "breached":
        return answered_late_at is None
    return state == "open" and due_at <= now
