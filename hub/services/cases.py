"""Reading and sharing a case, as the caller may see it.

What each caller sees and may do is `hub/core/case_view.py`'s rule: the originator, the operator and
those the originator shared the case with see all of it; a recipient sees its own state and the events
that concern it, not what other recipients did (in a fan-out, one platform must not learn about
another's handling); whom a recipient shared the case with sees that recipient's part, no more.
Anyone else is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from hub.core.case_state import RecipientState, case_status
from hub.core.case_view import CaseAccess, Member, case_access, share_part
from hub.core.clock import rfc3339
from hub.core.global_id import home_hub_of
from hub.core.overdue import is_overdue
from hub.core.refusal import Refusal
from hub.store import cases as case_rows
from hub.store import deadlines, directory
from hub.store.database import Conn
from hub.store.events import record_event


async def read_case(
    pool: asyncpg.Pool, case_id: UUID, caller: str, now: datetime | None = None
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return await _read(conn, case_id, caller, now or datetime.now(UTC))


async def read_case_for_operator(conn: Conn, case_id: UUID, now: datetime) -> dict[str, Any]:
    """The whole case, as its originator sees it (the operator's tools: evidence export)."""
    return await _read(conn, case_id, None, now)


def members_of(parties: list[asyncpg.Record]) -> dict[str, Member]:
    """The case's parties as the access rule reads them."""
    return {
        p["participant_id"]: Member(
            p["role"], p["kind"], None if p["sees_parts"] is None else frozenset(p["sees_parts"])
        )
        for p in parties
    }


async def party_access(conn: Conn, case_id: UUID, caller: str) -> CaseAccess:
    """What the caller may see and do on the case; refused as on the case page if it is no party."""
    _, _, access = await _viewer(conn, case_id, caller)
    return access


async def _viewer(
    conn: Conn, case_id: UUID, caller: str | None
) -> tuple[asyncpg.Record, list[asyncpg.Record], CaseAccess]:
    """The case, its parties, and what the caller may see and do on it (refused if nothing)."""
    case = await case_rows.get_case(conn, case_id)
    if case is None:
        raise Refusal("case-not-found", "no such case")
    parties = await case_rows.case_parties(conn, case_id)
    access = case_access(caller, members_of(parties))
    if access is None:
        raise Refusal("not-a-party", "only the parties to a case and those it was shared with may read it")
    return case, parties, access


async def _read(conn: Conn, case_id: UUID, caller: str | None, now: datetime) -> dict[str, Any]:
    case, parties, access = await _viewer(conn, case_id, caller)
    events = await case_rows.case_events(conn, case_id)
    clocks = await deadlines.case_deadlines(conn, case_id)
    return _view(case, parties, events, clocks, access, now)


async def audit_entry_filter(conn: Conn, case_id: UUID, caller: str) -> Callable[[Mapping[str, Any]], bool]:
    """Which of the case's audit entries the caller may be given whole, with their inclusion proofs (for
    its evidence bundle). A leaf covers every field, so an entry is given only if the caller's timeline
    shows all of it: every entry to those who see the whole case; to a recipient (and those it shared
    with) the entries that concern it and name no other recipient."""
    _, _, access = await _viewer(conn, case_id, caller)
    if access.whole:
        return lambda entry: True

    def concerns_only_it(entry: Mapping[str, Any]) -> bool:
        to = (entry["detail"] or {}).get("to")
        names_others = isinstance(to, list) and any(not access.sees(r) for r in to)
        return _concerns(entry, access) and not names_others

    return concerns_only_it


def _view(
    case: asyncpg.Record,
    parties: list[asyncpg.Record],
    events: list[asyncpg.Record],
    clocks: list[asyncpg.Record],
    access: CaseAccess,
    now: datetime,
) -> dict[str, Any]:
    case_id = case["id"]
    owed = [d for d in clocks if access.sees(d["recipient_id"])]
    recipients = [
        _recipient_view(p, [d for d in owed if d["recipient_id"] == p["participant_id"]], now)
        for p in parties
        if p["role"] == "recipient" and access.sees(p["participant_id"])
    ]
    status = case_status(RecipientState(r["state"]) for r in recipients)
    members = members_of(parties)
    visible = [e for e in events if _concerns(e, access)]
    view: dict[str, Any] = {
        "case_id": str(case_id),
        "case_type": case["case_type"],
        "opened_by": case["opened_by"],
        "opened_at": rfc3339(case["opened_at"]),
        "status": "closed" if case["closed_at"] is not None else status,
        "jurisdictions": list(case["jurisdictions"]),
        "overdue": any(_overdue(d, now) for d in owed),
        "your_role": access.role,
        "recipients": recipients,
        "deadlines_owed_by_originator": [
            _deadline_view(d, now) for d in owed if d["recipient_id"] == case["opened_by"]
        ],
        "shared_with": _shares(parties, members, visible, access),
        "timeline": [_event_view(e, access) for e in visible],
    }
    if case["purged_at"] is not None:
        view["purged_at"] = rfc3339(case["purged_at"])
    if case["closed_at"] is not None:
        view["closed"] = {
            "at": rfc3339(case["closed_at"]),
            "by": case["closed_by"],
            "reason": case["close_reason"],
        }
    return view


def _shares(
    parties: list[asyncpg.Record],
    members: dict[str, Member],
    visible: list[asyncpg.Record],
    access: CaseAccess,
) -> list[dict[str, Any]]:
    """Whom the case was shared with, as the viewer may see it. A viewer of some parts sees the shares of
    those parts, each with the first share it sees (another recipient may have shared with the same
    liaison first: that one is not named)."""
    seen = {}
    for event in visible:
        if event["event"] == "case.shared" and event["subject"] not in seen:
            seen[event["subject"]] = (event["actor"], event["occurred_at"])
    shown = []
    for p in parties:
        if p["role"] != "shared" or not access.sees_share(members[p["participant_id"]]):
            continue
        by, at = (p["added_by"], p["added_at"])
        if not access.whole:
            by, at = seen.get(p["participant_id"], (by, at))
        shown.append({"participant_id": p["participant_id"], "shared_by": by, "shared_at": rfc3339(at)})
    return shown


def _overdue(deadline: asyncpg.Record, now: datetime) -> bool:
    return is_overdue(deadline["state"], deadline["due_at"], deadline["answered_late_at"], now)


def _deadline_view(deadline: asyncpg.Record, now: datetime) -> dict[str, Any]:
    view: dict[str, Any] = {
        "deadline": deadline["kind"],
        "state": deadline["state"],
        "due_at": rfc3339(deadline["due_at"]),
        "told_at": rfc3339(deadline["started_at"]),
        "overdue": _overdue(deadline, now),
        "jurisdiction": deadline["jurisdiction"],
        "rule": deadline["rule_id"],
        "legal_basis": deadline["legal_basis"],
        "message_id": str(deadline["message_id"]),
    }
    for name in ("met_at", "breached_at", "answered_late_at", "cancelled_at"):
        if deadline[name] is not None:
            view[name] = rfc3339(deadline[name])
    if deadline["escalation_id"] is not None:
        view["escalation_id"] = str(deadline["escalation_id"])
    return view


def _recipient_view(party: asyncpg.Record, clocks: list[asyncpg.Record], now: datetime) -> dict[str, Any]:
    view: dict[str, Any] = {
        "participant_id": party["participant_id"],
        "state": party["state"],
        "since": rfc3339(party["state_changed_at"]),
        "deadlines": [_deadline_view(d, now) for d in clocks],
    }
    home = home_hub_of(party["participant_id"])
    if home is not None:  # a participant of a peer hub, reached through it (docs/federation.md)
        view["home_hub"] = home
        if party["state"] == RecipientState.QUEUED:  # its hub has not confirmed (no verified receipt yet)
            view["waiting_for_hub"] = home
    if party["deletion_requested_at"] is not None:
        view["deletion"] = {
            "requested_at": rfc3339(party["deletion_requested_at"]),
            "confirmed": party["deletion_confirmed_at"] is not None,
        }
        if party["deletion_confirmed_at"] is not None:
            view["deletion"]["confirmed_at"] = rfc3339(party["deletion_confirmed_at"])
    return view


def _concerns(event: Mapping[str, Any] | asyncpg.Record, access: CaseAccess) -> bool:
    to = (event["detail"] or {}).get("to", ())
    return access.sees_event(
        event["actor"], event["subject"], to if isinstance(to, list) else (), event["event"]
    )


def _event_view(event: asyncpg.Record, access: CaseAccess) -> dict[str, Any]:
    """An event for the timeline; for a view of one part, recipient lists cut down to that part."""
    view: dict[str, Any] = {
        "at": rfc3339(event["occurred_at"]),
        "event": event["event"],
        "actor": event["actor"],
    }
    for name in ("subject", "from_state", "to_state"):
        if event[name] is not None:
            view[name] = event[name]
    if event["message_id"] is not None:
        view["message_id"] = str(event["message_id"])
    view.update(event["detail"] or {})
    if isinstance(view.get("to"), list):
        view["to"] = access.addressees(view["to"])
    return view


async def share_case(
    pool: asyncpg.Pool, case_id: UUID, caller: str, participant_id: str, now: datetime
) -> bool:
    """Share the case with another participant, as `hub/core/case_view.py` `share_part` allows: it sees
    what the sharer sees, and the timeline records the share and that. False if it already was a party."""
    async with pool.acquire() as conn, conn.transaction():
        if await case_rows.get_case(conn, case_id) is None:
            raise Refusal("case-not-found", "no such case")
        members = members_of(await case_rows.case_parties(conn, case_id, lock=True))
        sharer = case_access(caller, members)
        if sharer is None:
            raise Refusal("not-a-party", "only the originator or a recipient of a case may share it")
        target = await directory.get_participant(conn, participant_id)
        existing = members.get(participant_id)
        share = share_part(sharer, participant_id, None if target is None else target.kind, existing)
        if not share.changes:
            return False
        if existing is None:
            added = await case_rows.insert_share(conn, case_id, participant_id, caller, now, share.stored())
            if not added:  # shared by someone else meanwhile: this one is not recorded
                return False
        else:
            await case_rows.set_party_sight(conn, case_id, participant_id, share.stored())
        await record_event(
            conn, case_id, now, "case.shared", caller, subject=participant_id, detail=share.detail(sharer)
        )
    return True
