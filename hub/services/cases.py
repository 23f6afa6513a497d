"""Reading and sharing a case, as the caller may see it.

The originator and the participants a case was shared with see all of it. A recipient sees its own
state and the events that concern it, not what other recipients did (in a fan-out, one platform must
not learn about another's handling). Anyone else is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from hub.core.case_state import RecipientState, case_status
from hub.core.clock import rfc3339
from hub.core.refusal import Refusal
from hub.store import deadlines, directory
from hub.store.database import Conn
from hub.store.events import record_event
from hub.store.queries import query


async def read_case(
    pool: asyncpg.Pool, case_id: UUID, caller: str, now: datetime | None = None
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return await _read(conn, case_id, caller, now or datetime.now(UTC))


async def read_case_for_operator(conn: Conn, case_id: UUID, now: datetime) -> dict[str, Any]:
    """The whole case, as its originator sees it (the operator's tools: evidence export)."""
    return await _read(conn, case_id, None, now)


async def _viewer(
    conn: Conn, case_id: UUID, caller: str | None
) -> tuple[asyncpg.Record, list[asyncpg.Record], str, str | None, str]:
    """The case, its parties, the caller's role, and whose view it gets (perspective, scope)."""
    case = await conn.fetchrow(query("get_case"), case_id)
    if case is None:
        raise Refusal("case-not-found", "no such case")
    parties = await conn.fetch(query("case_parties"), case_id)
    role = (
        "operator"
        if caller is None
        else next((p["role"] for p in parties if p["participant_id"] == caller), None)
    )
    if role is None:
        raise Refusal("not-a-party", "only the parties to a case and those it was shared with may read it")
    # A liaison a recipient shared the case with sees it as that recipient does: a platform cannot hand
    # out the originator's whole view (the other platforms of a fan-out and their handling).
    perspective, scope = caller, role
    if role == "shared":
        sharer = next(p for p in parties if p["participant_id"] == caller)["added_by"]
        sharer_role = next((p["role"] for p in parties if p["participant_id"] == sharer), None)
        if sharer_role == "recipient":
            perspective, scope = sharer, "shared-by-recipient"
    return case, list(parties), role, perspective, scope


async def _read(conn: Conn, case_id: UUID, caller: str | None, now: datetime) -> dict[str, Any]:
    case, parties, role, perspective, scope = await _viewer(conn, case_id, caller)
    events = await conn.fetch(query("case_events"), case_id)
    clocks = await deadlines.case_deadlines(conn, case_id)
    return _view(case, parties, events, clocks, role, perspective, now, scope)


async def audit_entry_filter(conn: Conn, case_id: UUID, caller: str) -> Callable[[Mapping[str, Any]], bool]:
    """Which of the case's audit entries the caller may be given whole, with their inclusion proofs (for
    its evidence bundle). A leaf covers every field, so an entry is given only if the caller's timeline
    shows all of it: every entry to those who see the whole case; to a recipient (and those it shared
    with) the entries that concern it and name no other recipient."""
    _, _, _, perspective, scope = await _viewer(conn, case_id, caller)
    if scope in ("originator", "shared", "operator"):
        return lambda entry: True

    def concerns_only_it(entry: Mapping[str, Any]) -> bool:
        to = (entry["detail"] or {}).get("to")
        names_others = isinstance(to, list) and any(r != perspective for r in to)
        return _concerns(entry, perspective) and not names_others

    return concerns_only_it


def _view(
    case: asyncpg.Record,
    parties: list[asyncpg.Record],
    events: list[asyncpg.Record],
    clocks: list[asyncpg.Record],
    role: str,
    caller: str | None,
    now: datetime,
    scope: str | None = None,
) -> dict[str, Any]:
    case_id = case["id"]
    sees_all = (scope or role) in ("originator", "shared", "operator")
    owed = [d for d in clocks if sees_all or d["recipient_id"] == caller]
    recipients = [
        _recipient_view(p, [d for d in owed if d["recipient_id"] == p["participant_id"]], now)
        for p in parties
        if p["role"] == "recipient" and (sees_all or p["participant_id"] == caller)
    ]
    status = case_status(RecipientState(r["state"]) for r in recipients)
    view: dict[str, Any] = {
        "case_id": str(case_id),
        "case_type": case["case_type"],
        "opened_by": case["opened_by"],
        "opened_at": rfc3339(case["opened_at"]),
        "status": "closed" if case["closed_at"] is not None else status,
        "jurisdictions": list(case["jurisdictions"]),
        "overdue": any(_overdue(d, now) for d in owed),
        "your_role": role,
        "recipients": recipients,
        "deadlines_owed_by_originator": [
            _deadline_view(d, now) for d in owed if d["recipient_id"] == case["opened_by"]
        ],
        "shared_with": [
            {
                "participant_id": p["participant_id"],
                "shared_by": p["added_by"],
                "shared_at": rfc3339(p["added_at"]),
            }
            for p in parties
            if p["role"] == "shared" and sees_all
        ],
        "timeline": [
            _event_view(e, None if sees_all else caller) for e in events if sees_all or _concerns(e, caller)
        ],
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


def _overdue(deadline: asyncpg.Record, now: datetime) -> bool:
    if deadline["state"] == "breached":
        return deadline["answered_late_at"] is None
    return bool(deadline["state"] == "open" and deadline["due_at"] <= now)


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
    if party["deletion_requested_at"] is not None:
        view["deletion"] = {
            "requested_at": rfc3339(party["deletion_requested_at"]),
            "confirmed": party["deletion_confirmed_at"] is not None,
        }
        if party["deletion_confirmed_at"] is not None:
            view["deletion"]["confirmed_at"] = rfc3339(party["deletion_confirmed_at"])
    return view


def _concerns(event: Mapping[str, Any] | asyncpg.Record, caller: str | None) -> bool:
    if caller in (event["actor"], event["subject"]) or event["event"] == "case.opened":
        return True
    return caller in (event["detail"] or {}).get("to", ())


def _event_view(event: asyncpg.Record, only: str | None = None) -> dict[str, Any]:
    """An event for the timeline; for a recipient's view (`only`), recipient lists cut down to itself."""
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
    if only is not None and isinstance(view.get("to"), list):
        view["to"] = [r for r in view["to"] if r == only]
    return view


async def share_case(
    pool: asyncpg.Pool, case_id: UUID, caller: str, participant_id: str, now: datetime
) -> bool:
    """Share the case with another participant; False if it already was a party."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchrow(query("get_case"), case_id) is None:
            raise Refusal("case-not-found", "no such case")
        role = await conn.fetchval(query("party_role"), case_id, caller)
        if role not in ("originator", "recipient"):
            raise Refusal("not-a-party", "only the originator or a recipient of a case may share it")
        if await directory.get_participant(conn, participant_id) is None:
            raise Refusal("unknown-recipient", f"no participant '{participant_id}' in the directory")
        if await conn.fetchval(query("party_role"), case_id, participant_id) is not None:
            return False
        await conn.execute(query("insert_party"), case_id, participant_id, "shared", None, caller, now)
        await record_event(conn, case_id, now, "case.shared", caller, subject=participant_id)
    return True
