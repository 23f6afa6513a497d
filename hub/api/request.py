"""What every handler needs from a request: the caller, a JSON body, a bounded integer parameter."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.api.keys import ACCESS, CLOCK, POOL, SETTINGS
from hub.core import inputs
from hub.core.refusal import Refusal
from hub.services.access import Caller, authenticate

JSON_TYPES = ("application/json",)


async def caller_of(request: web.Request) -> Caller:
    app = request.app
    return await authenticate(
        app[POOL],
        request.headers.get("Authorization"),
        audience=app[SETTINGS].hub_id,
        now=app[CLOCK](),
        batches=app.get(ACCESS),
    )


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type not in JSON_TYPES:
        raise Refusal("unsupported-media-type", "send the request body as application/json")
    raw = await request.read()
    try:
        body = inputs.loads(raw, what="the request body")
    except inputs.JsonFault as fault:
        raise Refusal(fault.code, str(fault)) from None
    if not isinstance(body, dict):
        raise Refusal("malformed-json", "the request body must be a JSON object")
    return body


def int_parameter(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    value = inputs.parse_decimal(raw, low, high)
    if value is None:
        raise Refusal("invalid-parameter", f"{name} must be an integer from {low} to {high}", parameter=name)
    return value
