"""Reading a case and its parties, the case list's pages, and recording a share.

Only rows come out of here: what a viewer may see and do is `hub/core/case_view.py`'s rule, applied by
`hub/services/cases.py` and `case_list.py` (the list's SQL filters by what that rule names; the
differential test in tests/test_case_rules_differential.py feeds both the same cases).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from hub.store.database import Conn
from hub.store.queries import query


async def get_case(conn: Conn, case_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(query("get_case"), case_id)


async def case_parties(conn: Conn, case_id: UUID, *, lock: bool = False) -> list[asyncpg.Record]:
    """The case's parties (role, kind, the parts each sees); `lock` holds them for a share."""
    return list(await conn.fetch(query("lock_case_parties" if lock else "case_parties"), case_id))


async def case_events(conn: Conn, case_id: UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(query("case_events"), case_id))


async def insert_share(
    conn: Conn, case_id: UUID, participant_id: str, sharer: str, now: datetime, sees: Any
) -> bool:
    """Add a liaison the case was shared with; False if another share added it meanwhile."""
    return await conn.fetchval(query("insert_share"), case_id, participant_id, sharer, now, sees) is not None


async def set_party_sight(conn: Conn, case_id: UUID, participant_id: str, sees: Any) -> None:
    await conn.execute(query("set_party_sight"), case_id, participant_id, sees)


async def page_candidates(
    conn: Conn | asyncpg.Pool, viewer: str | None, position: tuple[datetime, UUID], chunk: int
) -> list[asyncpg.Record]:
    """The next `chunk` cases after `position` in keyset order (newest first): all of them for the
    operator (`viewer` None), else those the viewer is a party to."""
    name = "case_page_candidates_all" if viewer is None else "case_page_candidates_of_participant"
    return list(await conn.fetch(query(name), viewer, *position, chunk))


async def due_candidates(
    conn: Conn | asyncpg.Pool, viewer: str | None, position: tuple[datetime, UUID], chunk: int
) -> list[asyncpg.Record]:
    """The next `chunk` cases with a clock running that the viewer sees, after `position` in the order of
    their earliest such clock (`due_at`), soonest first."""
    name = "case_due_candidates_all" if viewer is None else "case_due_candidates_of_participant"
    return list(await conn.fetch(query(name), viewer, *position, chunk))


async def count_due_by(conn: Conn | asyncpg.Pool, viewer: str | None, until: datetime) -> int:
    """How many of the viewer's cases have a clock it sees running and due before `until`."""
    return int(await conn.fetchval(query("count_cases_due_by"), viewer, until))


async def list_rows(
    conn: Conn | asyncpg.Pool,
    viewer: str | None,
    case_ids: list[UUID],
    now: datetime,
    *,
    status: str | None,
    overdue: bool | None,
    country: str | None,
    recipient: str | None,
) -> list[asyncpg.Record]:
    """The listed form of those candidates that pass the filters, as the viewer sees them."""
    return list(
        await conn.fetch(query("list_cases"), viewer, case_ids, now, status, overdue, country, recipient)
    )
