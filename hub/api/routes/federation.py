"""Hub-to-hub endpoints (docs/federation.md): the vouching feed of the participants this hub speaks for,
and the forwarding of messages from a peer hub."""

from __future__ import annotations

from aiohttp import web

from hub.api.keys import CLOCK, HUB, INTAKE, POOL
from hub.api.request import caller_of, json_body
from hub.api.routes.messages import accepted_response
from hub.services import vouching
from hub.services.federation import check_peer, receive_forwarded


async def vouching_feed(request: web.Request) -> web.Response:
    """`GET /v1/federation/participants`: the hub-signed feed (compact JWS, `application/jose`); public,
    like the directory it is made from."""
    async with request.app[POOL].acquire() as conn:
        feed = await vouching.own_feed(conn, request.app[HUB], int(request.app[CLOCK]().timestamp()))
    return web.Response(text=feed, content_type="application/jose")


async def forwarded_message(request: web.Request) -> web.Response:
    """`POST /v1/federation/messages`: a peer hub forwards a message (docs/federation.md, section 4);
    `202` with this hub's receipt once committed, as `POST /v1/messages` answers."""
    caller = await caller_of(request)
    await check_peer(request.app[POOL], caller.participant_id)  # check 1, before the body is read
    body = await json_body(request)
    accepted = await receive_forwarded(request.app[INTAKE], caller.participant_id, body, request.app[CLOCK]())
    return accepted_response(accepted.receipt)
