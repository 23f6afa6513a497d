"""What every handler needs from a request: the caller, a JSON body, a bounded integer parameter."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from hub.api.keys import CLOCK, POOL, SETTINGS
from hub.core.refusal import Refusal
from hub.services.access import Caller, authenticate

JSON_TYPES = ("application/json",)


async def caller_of(request: web.Request) -> Caller:
    app = request.app
    return await authenticate(
        app[POOL], request.headers.get("Authorization"), audience=app[SETTINGS].hub_id, now=app[CLOCK]()
    )


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type not in JSON_TYPES:
        raise Refusal("unsupported-media-type", "send the request body as application/json")
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refusal("malformed-json", f"the request body is not JSON: {exc.__class__.__name__}") from None
    if not isinstance(body, dict):
        raise Refusal("malformed-json", "the request body must be a JSON object")
    return body


def int_parameter(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise Refusal("invalid-parameter", f"{name} must be an integer from {low} to {high}", parameter=name)
    return int(raw)
