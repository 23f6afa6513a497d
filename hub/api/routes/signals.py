"""`GET /v1/signals`: the calling platform's hash-signal feed, read from an opaque cursor."""

from __future__ import annotations

from aiohttp import web

from hub.api.keys import CLOCK, POOL
from hub.api.parameters import SIGNALS_LIMIT
from hub.api.request import caller_of
from hub.services.signal_feed import parse_cursor, read_signals


async def feed(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    after = parse_cursor(request.query.get("cursor"))
    limit = SIGNALS_LIMIT.read(request)
    page = await read_signals(request.app[POOL], caller.participant_id, after, limit, request.app[CLOCK]())
    return web.json_response({"signals": page.signals, "cursor": page.cursor, "more": page.more})
