"""The templates, as published JSON Schemas."""

from __future__ import annotations

from aiohttp import web

from hub.api.keys import CATALOG
from hub.core.refusal import Refusal
from hub.core.templates import UnknownTemplateError


async def list_all(request: web.Request) -> web.Response:
    templates = [
        {"type": name, "version": version, "href": f"/v1/schemas/{name}/{version}"}
        for name, version in request.app[CATALOG].templates()
    ]
    return web.json_response({"schemas": templates})


async def show(request: web.Request) -> web.Response:
    try:
        schema = request.app[CATALOG].schema(request.match_info["name"], request.match_info["version"])
    except UnknownTemplateError:
        raise Refusal("not-found", "no such schema") from None
    return web.json_response(dict(schema), content_type="application/schema+json")
