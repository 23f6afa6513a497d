"""`GET /openapi.json`: the API's OpenAPI 3.1 document ."""

from __future__ import annotations

from aiohttp import web

from hub.api.keys import CATALOG, SETTINGS
from hub.api.openapi import build_document


async def document(request: web.Request) -> web.Response:
    app = request.app
    return web.json_response(build_document(app[CATALOG], app[SETTINGS].hub_id))
