"""`GET /v1/stats` (JSON or CSV) and `GET /v1/stats/report.html`: the transparency figures for a period.

A regulator sees figures over every case; any other participant over what it sees of the cases it is
a party to (`hub/core/case_view.py`; the queries: `hub/store/queries/stats.sql`). The figures carry
organisation ids and counts only.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.api.keys import CLOCK, POOL
from hub.api.request import caller_of
from hub.core.case_view import figures_cover_every_case
from hub.core.refusal import Refusal
from hub.services.access import Caller
from hub.stats.figures import parse_period, to_csv
from hub.stats.report import render_report
from hub.store.directory import get_participant
from hub.store.stats import figures_for

FORMATS = ("json", "csv")
NO_STORE = {"Cache-Control": "no-store"}
# The report is self-contained: inline styles and SVG, no script, nothing fetched.
REPORT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


async def _figures(request: web.Request, caller: Caller) -> dict[str, Any]:
    app = request.app
    period = parse_period(request.query.get("from"), request.query.get("to"), app[CLOCK]())
    participant = await get_participant(app[POOL], caller.participant_id)
    every_case = figures_cover_every_case(None if participant is None else participant.kind)
    viewer = None if every_case else caller.participant_id
    return await figures_for(app[POOL], viewer, period)


async def figures(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    form = request.query.get("format", "json")
    if form not in FORMATS:
        raise Refusal("invalid-parameter", "format must be json or csv", parameter="format")
    found = await _figures(request, caller)
    if form == "csv":
        return web.Response(text=to_csv(found), content_type="text/csv", charset="utf-8", headers=NO_STORE)
    return web.json_response(found, headers=NO_STORE)


async def report(request: web.Request) -> web.Response:
    found = await _figures(request, await caller_of(request))
    page = render_report(found, generated_at=request.app[CLOCK]())
    headers = {**NO_STORE, "Content-Security-Policy": REPORT_POLICY}
    return web.Response(text=page, content_type="text/html", charset="utf-8", headers=headers)
