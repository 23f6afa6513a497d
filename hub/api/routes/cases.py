"""`GET /v1/cases/{case_id}`, its `/messages` and `/proofs`, `POST /v1/cases/{case_id}/shares`, and
`POST /v1/search/cases` (by a content URL, in the body so that it is in no address or access log)."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from hub.api.keys import CLOCK, INTAKE, POOL
from hub.api.parameters import CASES_LIMIT
from hub.api.request import caller_of, json_body
from hub.core.clock import time_zone
from hub.core.refusal import Refusal
from hub.services.case_list import CaseFilter, list_cases
from hub.services.case_search import cases_by_content_url
from hub.services.cases import read_case, share_case
from hub.services.inbox import case_messages
from hub.services.proofs import proofs_for_party


def _case_id(request: web.Request) -> UUID:
    try:
        return UUID(request.match_info["case_id"])
    except ValueError:
        raise Refusal("case-not-found", "no such case") from None


async def read(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    app = request.app
    return web.json_response(
        await read_case(app[POOL], _case_id(request), caller.participant_id, app[CLOCK]())
    )


async def messages(request: web.Request) -> web.Response:
    """The case's signed messages addressed to the caller, however they were delivered."""
    caller = await caller_of(request)
    found = await case_messages(
        request.app[POOL], _case_id(request), caller.participant_id, request.app[INTAKE].keyring
    )
    return web.json_response({"messages": found})


async def proofs(request: web.Request) -> web.Response:
    """The case's audit entries this party may see whole, each with its inclusion proof (evidence)."""
    caller = await caller_of(request)
    case_id = _case_id(request)
    found = await proofs_for_party(request.app[POOL], case_id, caller.participant_id)
    return web.json_response(found.document(case_id))


async def list_all(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    overdue = request.query.get("overdue")
    if overdue not in (None, "true", "false"):
        raise Refusal("invalid-parameter", "overdue must be true or false", parameter="overdue")
    filters = CaseFilter(
        status=request.query.get("state"),
        overdue=None if overdue is None else overdue == "true",
        country=request.query.get("country"),
        recipient=request.query.get("recipient"),
    )
    try:
        zone = time_zone(request.query.get("time_zone", "UTC"))
    except ValueError as exc:
        raise Refusal("invalid-parameter", str(exc), parameter="time_zone") from None
    listing = await list_cases(
        request.app[POOL],
        viewer=caller.participant_id,
        filters=filters,
        cursor=request.query.get("cursor"),
        limit=CASES_LIMIT.read(request),
        now=request.app[CLOCK](),
        sort=request.query.get("sort", "opened"),
        zone=zone,
    )
    return web.json_response(listing)


async def search(request: web.Request) -> web.Response:
    """The caller's cases whose takedown requests name this content URL (matched by its keyed digest)."""
    caller = await caller_of(request)
    body = await json_body(request)
    found = await cases_by_content_url(
        request.app[POOL], request.app[INTAKE].keyring, caller.participant_id, body.get("content_url")
    )
    return web.json_response({"cases": found})


async def share(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    case_id = _case_id(request)
    body = await json_body(request)
    participant = body.get("participant_id")
    if not isinstance(participant, str) or not participant:
        raise Refusal(
            "invalid-parameter", "participant_id must name a participant", parameter="participant_id"
        )
    added = await share_case(
        request.app[POOL], case_id, caller.participant_id, participant, request.app[CLOCK]()
    )
    return web.json_response(
        {"case_id": str(case_id), "shared_with": participant}, status=201 if added else 200
    )
