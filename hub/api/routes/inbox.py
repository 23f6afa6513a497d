"""`GET /v1/inbox` (cursor, long-poll `wait`) and `POST /v1/inbox/ack`, for the calling recipient."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from hub.api.keys import CLOCK, HUB, INTAKE, NOTIFIER, POOL
from hub.api.parameters import INBOX_LIMIT, INBOX_WAIT
from hub.api.request import caller_of, json_body
from hub.core.refusal import Refusal
from hub.services.inbox import MAX_PAGE, acknowledge, parse_cursor, read_inbox


async def read(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    after = parse_cursor(request.query.get("cursor"))
    limit = INBOX_LIMIT.read(request)
    wait = INBOX_WAIT.read(request)
    pool = request.app[POOL]
    page = await read_inbox(pool, caller.participant_id, after, limit, request.app[INTAKE].keyring)
    if not page.items and wait:
        await request.app[NOTIFIER].wait(caller.participant_id, wait)
        page = await read_inbox(pool, caller.participant_id, after, limit, request.app[INTAKE].keyring)
    return web.json_response({"messages": page.items, "cursor": page.cursor})


async def ack(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    body = await json_body(request)
    ids = body.get("message_ids")
    if not isinstance(ids, list) or not ids or len(ids) > MAX_PAGE:
        raise Refusal(
            "invalid-parameter", f"message_ids must be a list of 1 to {MAX_PAGE} ids", parameter="message_ids"
        )
    try:
        message_ids = [UUID(str(i)) for i in ids]
    except ValueError:
        raise Refusal("invalid-parameter", "message_ids must be UUIDs", parameter="message_ids") from None
    app = request.app
    retrieved = await acknowledge(
        app[POOL],
        caller.participant_id,
        message_ids,
        app[CLOCK](),
        hub=app[HUB],
    )
    return web.json_response({"retrieved": retrieved})
