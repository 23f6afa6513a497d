"""The inbox: what reached this organisation, newest first, each with its signature check and deadline.

Opening the page (GET) only reads: the messages this console already fetched, and the cases' state. The
"Fetch new messages" button (POST, with the session's CSRF token) pulls the hub's inbox
(`HubGateway.pull_inbox`): verified messages are kept and marked retrieved, so they stay listed here
afterwards; a message that does not verify is listed apart, with the reason, and left in the hub's inbox.
A participant the hub delivers to by webhook or e-mail has nothing in that inbox: the button copies the
messages of its newest cases instead (`HubGateway.copy_recent_cases`), checked the same way.
Marking messages retrieved starts nothing a page elsewhere should be able to start, hence the POST.
Each row shows the case's state and the nearest open deadline this organisation can see, counting down.

A row is unread until its case page was shown (`Archive.mark_read`); the inbox shows 25 rows a page,
newest or oldest first, all of them or only the unread ones, and looks up only the cases of its page.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from hub.client import HubError
from hub.console.archive import Kept
from hub.console.auth import SESSION, redirect
from hub.console.gateway import Fetched, HubGateway
from hub.console.keys import CONFIG, GATEWAY, JINJA
from hub.console.language import say
from hub.console.render import render
from hub.core import inputs

MAX_CASES_LOOKED_UP = 40
PAGE_SIZE = 25  # inbox rows per page
BACK_TO = re.compile(r"^/(inbox|cases/[0-9a-f-]{36})$")  # where a fetch may return to: the console's own


def nearest_deadline(case: dict[str, Any], me: str) -> dict[str, Any] | None:
    """The open deadline due first: the ones this organisation owes come before the others'."""
    found = [
        {**d, "owed_by": r["participant_id"]}
        for r in case.get("recipients", [])
        for d in r.get("deadlines", [])
        if d.get("state") == "open" or d.get("overdue")
    ]
    found += [
        {**d, "owed_by": case.get("opened_by")}
        for d in case.get("deadlines_owed_by_originator", [])
        if d.get("state") == "open"
    ]
    if not found:
        return None
    return min(found, key=lambda d: (d["owed_by"] != me, str(d["due_at"])))


async def _cases(gateway: HubGateway, case_ids: list[str]) -> dict[str, dict[str, Any]]:
    async def one(case_id: str) -> tuple[str, dict[str, Any] | None]:
        try:
            return case_id, await gateway.client.case(case_id)
        except HubError:
            return case_id, None

    found = await asyncio.gather(*(one(c) for c in case_ids[:MAX_CASES_LOOKED_UP]))
    return {case_id: case for case_id, case in found if case is not None}


def fold_acknowledgements(kept: list[Kept]) -> list[tuple[Kept, list[Kept]]]:
    """The inbox's rows in the archive's order (newest first), each with the acknowledgements folded
    into it. A verified acknowledgement takes no row of its own: it goes with its case's newest other
    message here, or, when the case has none, the case's newest acknowledgement is its one row and holds
    the others. A message that did not verify always keeps its own row."""
    acks: dict[str, list[Kept]] = {}
    for k in kept:
        if _is_ack(k):
            acks.setdefault(k.case_id, []).append(k)
    with_other = {k.case_id for k in kept if not _is_ack(k)}
    rows: list[tuple[Kept, list[Kept]]] = []
    given: set[str] = set()
    for k in kept:
        if _is_ack(k) and (k.case_id in with_other or k.case_id in given):
            continue
        folded = [] if k.case_id in given else [a for a in acks.get(k.case_id, []) if a is not k]
        rows.append((k, folded))
        given.add(k.case_id)
    return rows


async def pushed_to(gateway: HubGateway) -> str:
    """How the hub pushes this participant's messages (its adapter, e.g. webhook or email), as its directory
    entry says; empty if it takes them from the pull inbox."""
    entry = await gateway.participant(gateway.me)
    return str(entry.get("adapter") or "webhook") if entry.get("push_delivery") else ""


def _is_ack(k: Kept) -> bool:
    return k.message_type == "acknowledgement" and k.verified


@dataclass(frozen=True)
class InboxView:
    """What the person asked of the inbox: only the unread rows or all, which end first, which page."""

    unread_only: bool
    oldest_first: bool
    page: int

    @classmethod
    def of(cls, query: Any) -> InboxView:
        page = inputs.parse_decimal(query.get("page", "1"), 1, 10**6) or 1
        return cls(query.get("show") == "unread", query.get("order") == "oldest", page)

    def url_query(self, **changes: Any) -> str:
        """This view's address parameters, with some changed (the pager's and the filters' links)."""
        chosen = {"unread_only": self.unread_only, "oldest_first": self.oldest_first, "page": self.page}
        chosen.update(changes)
        params = {
            "show": "unread" if chosen["unread_only"] else "",
            "order": "oldest" * chosen["oldest_first"],
        }
        params["page"] = str(chosen["page"]) if chosen["page"] > 1 else ""
        return urlencode({k: v for k, v in params.items() if v})


def inbox_rows(kept: list[Kept], shown: set[str], view: InboxView) -> list[tuple[Kept, list[Kept], bool]]:
    """The inbox's rows for this view, before paging: each with its folded acknowledgements and whether
    anything in it is unread (not shown on its case page yet)."""
    rows = [
        (k, acks, any(m.message_id not in shown for m in (k, *acks)))
        for k, acks in fold_acknowledgements(kept)
    ]
    if view.unread_only:
        rows = [row for row in rows if row[2]]
    return rows[::-1] if view.oldest_first else rows


async def inbox(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    config = request.app[CONFIG]
    view = InboxView.of(request.query)
    kept: list[Kept] = await asyncio.to_thread(gateway.archive.received)
    shown = await asyncio.to_thread(gateway.archive.read_ids)
    every_row = inbox_rows(kept, shown, InboxView(False, False, 1))
    listed = inbox_rows(kept, shown, view)
    pages = max(1, -(-len(listed) // PAGE_SIZE))
    page = min(view.page, pages)
    on_page = listed[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    case_ids = list(dict.fromkeys(k.case_id for k, _, _ in on_page))
    problem = ""
    cases: dict[str, dict[str, Any]] = {}
    pushed = ""
    try:
        cases = await _cases(gateway, case_ids)
        pushed = await pushed_to(gateway)
    except (aiohttp.ClientError, TimeoutError):
        problem = say(
            request, "The hub at {url} cannot be reached; showing the messages kept here.", url=config.hub_url
        )
    rows = [
        {
            "kept": k,
            "acknowledged_by": acknowledged,
            "unread": unread,
            "case": cases.get(k.case_id),
            "deadline": nearest_deadline(cases[k.case_id], gateway.me) if k.case_id in cases else None,
        }
        for k, acknowledged, unread in on_page
    ]
    context = {
        "title": say(request, "Inbox"),
        "rows": rows,
        "view": view,
        "page": page,
        "pages": pages,
        "listed": len(listed),
        "unread_count": sum(1 for row in every_row if row[2]),
        "previous_query": view.url_query(page=page - 1) if page > 1 else None,
        "next_query": view.url_query(page=page + 1) if page < pages else None,
        "unverified": gateway.unverified,
        "fetched_at": gateway.fetched_at,
        "problem": problem,
        "participant_id": config.participant_id,
        "pushed": pushed,
    }
    return render(request.app[JINJA], request, "inbox.html", context)


async def fetch(request: web.Request) -> web.Response:
    """Pull the hub's inbox (POST only), say what came, and go back to the page the button was on."""
    gateway, config = request.app[GATEWAY], request.app[CONFIG]
    back = (await request.post()).get("next")
    where = back if isinstance(back, str) and BACK_TO.match(back) else "/inbox"
    notes = request[SESSION].flash
    try:
        fetched = await gateway.pull_inbox()
        if await pushed_to(gateway):  # its messages went by webhook or e-mail: copied from its cases
            copied = await gateway.copy_recent_cases()
            gateway.unverified = fetched.unverified + copied.unverified
            fetched = Fetched(fetched.kept + copied.kept, gateway.unverified)
    except HubError as exc:
        why = exc.problem.get("title", exc.status)
        notes.append(say(request, "The hub refused to hand over the inbox: {why}.", why=why))
        return redirect(where)
    except (aiohttp.ClientError, TimeoutError):
        notes.append(
            say(request, "The hub at {url} cannot be reached; nothing was fetched.", url=config.hub_url)
        )
        return redirect(where)
    if fetched.kept:
        text = "Fetched {count} new message." if fetched.kept == 1 else "Fetched {count} new messages."
        notes.append(say(request, text, count=fetched.kept))
    else:
        notes.append(say(request, "No new messages."))
    if fetched.unverified:
        notes.append(say(request, "{count} did not verify: see the inbox.", count=len(fetched.unverified)))
    return redirect(where)
