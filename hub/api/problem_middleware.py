"""The middleware that answers every error, ours or aiohttp's, as an RFC 9457 problem
(`hub/api/problems.py` holds the problem types and builds the response).

An unexpected error is logged by class name and where it arose, never its text (it may quote stored values).
"""

from __future__ import annotations

import traceback
from typing import Any

import structlog
from aiohttp import web

from hub.api.keys import POOL
from hub.api.problems import DATABASE_UNAVAILABLE, problem_response
from hub.core.refusal import Refusal

log = structlog.get_logger("hub.api")

_HTTP_CODES = {
    400: "malformed-json",
    404: "not-found",
    405: "method-not-allowed",
    413: "body-too-large",
    415: "unsupported-media-type",
}


@web.middleware
async def problem_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except Refusal as refusal:
        log.info("request.refused", problem=refusal.code, method=request.method, route=_route(request))
        refused = problem_response(refusal.code, refusal.detail, instance=request.path, **refusal.extra)
        if refusal.retry_after is not None:
            refused.headers["Retry-After"] = str(refusal.retry_after)
        return refused
    except DATABASE_UNAVAILABLE as exc:
        log.warning("request.database_unavailable", error=exc.__class__.__name__, route=_route(request))
        pool = request.app.get(POOL)
        if pool is not None:
            await pool.expire_connections()  # renew connections that broke mid-operation
        response = problem_response(
            "service-unavailable", "the hub's database is unavailable: retry shortly", instance=request.path
        )
        response.headers["Retry-After"] = "1"
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status)
        if code is None:
            raise
        response = problem_response(code, exc.reason, instance=request.path)
        if "Allow" in exc.headers:  # RFC 9110 15.5.6: a 405 says what is allowed
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:
        # The exception's text may quote stored values: log its class and where it arose, never its text.
        log.error(
            "request.failed",
            error=exc.__class__.__name__,
            where=[
                f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in traceback.extract_tb(exc.__traceback__)
            ],
            method=request.method,
            route=_route(request),
        )
        return problem_response(
            "internal-error", "the hub could not complete this request", instance=request.path
        )


def _route(request: web.Request) -> str:
    info = request.match_info.route.resource
    return info.canonical if info is not None else "?"
