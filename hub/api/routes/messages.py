"""`POST /v1/messages`: submit one signed message; `202` with the hub's signed receipt once committed."""

from __future__ import annotations

import json

from aiohttp import web

from hub.api.keys import CLOCK, INTAKE
from hub.core.receipt import receipt_claims
from hub.core.refusal import Refusal
from hub.services.intake import submit_message

COMPACT_TYPES = ("application/jose",)
JSON_SERIALISATION_TYPES = ("application/jose+json", "application/json")


async def submit(request: web.Request) -> web.Response:
    content_type = request.content_type
    if content_type not in COMPACT_TYPES + JSON_SERIALISATION_TYPES:
        raise Refusal(
            "unsupported-media-type",
            "send a JWS as application/jose (compact) or application/jose+json (JSON serialisation)",
        )
    raw = await request.read()  # within the size and time limits: hub/api/connections.py
    if content_type in JSON_SERIALISATION_TYPES:
        _require_json(raw)
    accepted = await submit_message(request.app[INTAKE], raw, request.app[CLOCK]())
    claims = receipt_claims(accepted.receipt)
    body = {
        "message_id": claims["message_id"],
        "case_id": claims["case_id"],
        "payload_sha256": claims["payload_sha256"],
        "accepted_at": claims["accepted_at"],
        "receipt": accepted.receipt,
    }
    return web.json_response(body, status=202, headers={"Location": f"/v1/cases/{claims['case_id']}"})


def _require_json(raw: bytes) -> None:
    try:
        json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refusal(
            "malformed-json", f"the body is not JSON: {exc.__class__.__name__} at {_where(exc)}"
        ) from None


def _where(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno} column {exc.colno}"
    return "the start"
