"""`/healthz`: the process answers. `/readyz`: the database answers and its schema is current."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from hub.api.keys import POOL, SETTINGS
from hub.store.migrate import current_version, latest_version


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "hub_id": request.app[SETTINGS].hub_id})


async def readyz(request: web.Request) -> web.Response:
    try:
        async with request.app[POOL].acquire(timeout=2) as conn:
            version = await current_version(conn)
    except (OSError, TimeoutError, asyncpg.PostgresError):
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    expected = latest_version()
    if version != expected:
        body = {"status": "unavailable", "schema_version": version, "expected": expected}
        return web.json_response(body, status=503)
    return web.json_response({"status": "ready", "schema_version": version})
