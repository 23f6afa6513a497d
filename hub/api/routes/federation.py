"""Hub-to-hub endpoints (docs/federation.md): the vouching feed of the participants this hub speaks for."""

from __future__ import annotations

from aiohttp import web

from hub.api.keys import CLOCK, HUB, POOL
from hub.services import vouching


async def vouching_feed(request: web.Request) -> web.Response:
    """`GET /v1/federation/participants`: the hub-signed feed (compact JWS, `application/jose`); public,
    like the directory it is made from."""
    async with request.app[POOL].acquire() as conn:
        feed = await vouching.own_feed(conn, request.app[HUB], int(request.app[CLOCK]().timestamp()))
    return web.Response(text=feed, content_type="application/jose")
