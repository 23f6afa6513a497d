"""The inbox: what reached this organisation, newest first, each with its signature check and deadline.

Opening the page pulls the hub's inbox (`HubGateway.pull_inbox`): verified messages are kept and marked
retrieved, so they stay listed here afterwards; a message that does not verify is listed apart, with
the reason, and left in the hub's inbox. Each row shows the case's state and the nearest open deadline
this organisation can see, counting down.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web

from hub.client import HubError
from hub.console.archive import Kept
from hub.console.gateway import HubGateway
from hub.console.keys import CONFIG, GATEWAY, JINJA
from hub.console.render import render

MAX_CASES_LOOKED_UP = 40


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


async def inbox(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    config = request.app[CONFIG]
    problem = ""
    unverified = []
    try:
        unverified = await gateway.pull_inbox()
    except HubError as exc:
        problem = f"The hub refused to hand over the inbox: {exc.problem.get('title', exc.status)}."
    except (aiohttp.ClientError, TimeoutError):
        problem = f"The hub at {config.hub_url} cannot be reached; showing the messages kept here."
    kept: list[Kept] = await asyncio.to_thread(gateway.archive.received)
    case_ids = list(dict.fromkeys(k.case_id for k in kept))
    cases = {} if problem else await _cases(gateway, case_ids)
    rows = [
        {
            "kept": k,
            "case": cases.get(k.case_id),
            "deadline": nearest_deadline(cases[k.case_id], gateway.me) if k.case_id in cases else None,
        }
        for k in kept
    ]
    context = {
        "title": "Inbox",
        "rows": rows,
        "unverified": unverified,
        "problem": problem,
        "participant_id": config.participant_id,
    }
    return render(request.app[JINJA], request, "inbox.html", context)
