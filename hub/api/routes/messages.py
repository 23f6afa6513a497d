"""`POST /v1/messages`: submit one signed message; `202` with the hub's signed receipt once committed."""

from __future__ import annotations

from aiohttp import web

from hub.api.keys import ACCEPTED, CLOCK, INTAKE
from hub.core import inputs
from hub.core.receipt import read_receipt
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
    return accepted_response(accepted.receipt)


def accepted_response(receipt: str) -> web.Response:
    """`202` with the hub's receipt and what it names: the answer to a message taken, posted by its
    sender or forwarded by a peer hub (`hub.api.routes.federation`)."""
    claims = read_receipt(receipt)
    body = {
        "message_id": claims.message_id,
        "case_id": claims.case_id,
        "payload_sha256": claims.payload_sha256,
        "accepted_at": claims.accepted_at,
        "receipt": receipt,
    }
    response = web.json_response(body, status=202, headers={"Location": f"/v1/cases/{claims.case_id}"})
    response[ACCEPTED] = claims  # the counter's message type, without reading the answer back
    return response


def _require_json(raw: bytes) -> None:
    """A JSON serialisation that is not (strict) JSON is a JSON problem, not a JWS one."""
    try:
        inputs.loads(raw, what="the body")
    except inputs.JsonFault as fault:
        raise Refusal(fault.code, str(fault)) from None
