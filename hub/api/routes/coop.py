"""`POST /v1/coop/{participant_id}/actions`: a platform's ROOST Coop calls back with a decision, taken as
the platform's hub-attested answer (`hub.services.coop_callbacks`). No bearer token: Coop signs the body
(`coop-signature`), and the signature is the only credential."""

from __future__ import annotations

from aiohttp import web

from hub.api.keys import CLOCK, INTAKE, KEYRING, POOL
from hub.services.coop_callbacks import CoopCallbacks, take_callback
from hub.services.issuer import Issuer


async def action_callback(request: web.Request) -> web.Response:
    raw = await request.read()  # within the size and time limits: hub/api/connections.py
    app = request.app
    callbacks = CoopCallbacks(Issuer(app[INTAKE]), app[POOL], app[KEYRING])
    taken = await take_callback(
        callbacks,
        request.match_info["participant_id"],
        raw,
        request.headers.get("coop-signature"),
        app[CLOCK](),
    )
    body = {"message_id": str(taken.message_id), "case_id": str(taken.case_id), "receipt": taken.receipt}
    return web.json_response(body)
