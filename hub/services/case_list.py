"""Listing cases: a participant's own (as originator, recipient, or liaison they were shared with), or
all of them for the operator; filtered by status, overdue deadlines, a recipient's country or a
recipient, and paged with an opaque cursor (keyset: stable while new cases arrive).

Two orders (`sort`): `opened`, newest first (every case); `due`, the cases with a clock running that the
viewer sees, the soonest due first, by the clock the list gives as `next_due` (a reviewer's work queue:
a case with nothing running has nothing to do and is not in it). A cursor belongs to its order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from uuid import UUID

import asyncpg

from hub.core.clock import end_of_today, rfc3339
from hub.core.jose import JoseError, b64url_decode, b64url_encode
from hub.core.refusal import Refusal
from hub.store import cases as case_rows
from hub.store.database import Conn

STATUSES = ("open", "actioned", "declined", "partially-actioned", "withdrawn", "closed")
SORTS = ("opened", "due")
_START = {
    "opened": (datetime.max.replace(tzinfo=UTC), UUID(int=(1 << 128) - 1)),  # newest first: from the top
    "due": (datetime.min.replace(tzinfo=UTC), UUID(int=0)),  # soonest first: from the bottom
}
CHUNK = 200  # candidates read at a time; a page with no filter needs one chunk


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    overdue: bool | None = None
    country: str | None = None
    recipient: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise Refusal(
                "invalid-parameter", f"state must be one of {', '.join(STATUSES)}", parameter="state"
            )
        if self.country is not None and not (
            len(self.country) == 2 and self.country.isascii() and self.country.isupper()
        ):
            raise Refusal(
                "invalid-parameter", "country must be an ISO 3166-1 alpha-2 code", parameter="country"
            )


def check_sort(sort: str) -> str:
    if sort not in SORTS:
        raise Refusal("invalid-parameter", f"sort must be one of {', '.join(SORTS)}", parameter="sort")
    return sort


def encode_cursor(moment: datetime, case_id: UUID, sort: str = "opened") -> str:
    prefix = "" if sort == "opened" else f"{sort}|"  # the newest-first cursors stay as they were
    return b64url_encode(f"{prefix}{moment.isoformat()}|{case_id}".encode())


def decode_cursor(cursor: str | None, sort: str = "opened") -> tuple[datetime, UUID]:
    if not cursor:
        return _START[sort]
    try:
        parts = b64url_decode(cursor).decode().split("|")
        if (parts[0] == sort) != (sort != "opened"):  # a cursor of the other order
            raise ValueError(sort)
        moment, case_id = parts[1:] if sort != "opened" else parts
        opened_at = datetime.fromisoformat(moment)
        if opened_at.tzinfo is None:  # the hub's cursors carry UTC; a naive time is not one of them
            raise ValueError(moment)
        # In UTC, as the database compares it: an offset that moves it out of datetime's range is refused
        # here rather than failing in the driver.
        return opened_at.astimezone(UTC), UUID(case_id)
    except (JoseError, UnicodeDecodeError, ValueError, OverflowError):
        raise Refusal(
            "invalid-parameter", "cursor must be a value the hub returned", parameter="cursor"
        ) from None


async def list_cases(
    conn: Conn | asyncpg.Pool,
    *,
    viewer: str | None,
    filters: CaseFilter,
    cursor: str | None,
    limit: int,
    now: datetime,
    sort: str = "opened",
    zone: tzinfo = UTC,
) -> dict[str, Any]:
    """A page of cases. Candidates come in keyset order from an index, a chunk at a time, and only they
    are filtered and given their status: a page costs the same with ten thousand cases or a million
    (a filter that matches few cases reads more chunks, never the whole table at once). By `due`, the
    candidates are the viewer's running clocks' cases, in the order of the earliest."""
    position = decode_cursor(cursor, check_sort(sort))
    by_due = sort == "due"
    chunk = max(limit, CHUNK)
    rows: list[asyncpg.Record] = []
    places: dict[UUID, datetime] = {}  # by due: each case's place, its earliest running clock
    while len(rows) < limit:
        if by_due:
            candidates = await case_rows.due_candidates(conn, viewer, position, chunk)
            places.update((row["id"], row["due_at"]) for row in candidates)
        else:
            candidates = await case_rows.page_candidates(conn, viewer, position, chunk)
        if not candidates:
            break
        listed = await case_rows.list_rows(
            conn,
            viewer,
            [row["id"] for row in candidates],
            now,
            status=filters.status,
            overdue=filters.overdue,
            country=filters.country,
            recipient=filters.recipient,
        )
        if by_due:  # the query lists newest first; here the candidates' order is the page's
            listed = sorted(listed, key=lambda row: (places[row["id"]], row["id"]))
        rows.extend(listed[: limit - len(rows)])
        if len(candidates) < chunk:
            break
        last = candidates[-1]
        position = (last["due_at"] if by_due else last["opened_at"], last["id"])
    cases = [_view(row, viewer) for row in rows]
    next_cursor = None
    if len(rows) == limit:
        last = rows[-1]
        next_cursor = encode_cursor(places[last["id"]] if by_due else last["opened_at"], last["id"], sort)
    # over all the viewer's cases, whatever the filters and page: "due today" by the viewer's clock
    due_today = await case_rows.count_due_by(conn, viewer, end_of_today(now, zone))
    return {"cases": cases, "next_cursor": next_cursor, "due_today": due_today}


def _view(row: asyncpg.Record, viewer: str | None) -> dict[str, Any]:
    recipients = list(row["recipients"])  # those the viewer sees (hub/core/case_view.py; see the query)
    view: dict[str, Any] = {
        "case_id": str(row["id"]),
        "case_type": row["case_type"],
        "opened_by": row["opened_by"],
        "opened_at": rfc3339(row["opened_at"]),
        "status": row["status"],
        "overdue": row["overdue"],
        "recipients": recipients,
    }
    # the earliest running clock the viewer sees: what the case page lists first, to act on next
    view["next_due"] = (
        None
        if row["next_due_at"] is None
        else {"deadline": row["next_due_kind"], "due_at": rfc3339(row["next_due_at"])}
    )
    if viewer is not None:
        view["your_role"] = row["your_role"]
    if row["closed_at"] is not None:
        view["closed_at"] = rfc3339(row["closed_at"])
    return view
