"""The public directory: participants with their keys as a JWK Set (RFC 7517), and the hub's own keys.

Each JWK carries, beside the standard members, its validity window and status, so a recipient can
verify an old message with a key that has since expired and see that a key was revoked. A
participant's delivery endpoint is not published.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from hub.api.keys import CLOCK, HUB_KEY, POOL, SETTINGS
from hub.core.clock import rfc3339
from hub.core.refusal import Refusal
from hub.store import directory
from hub.store.directory import KeyRecord, Participant


def key_view(key: KeyRecord, now: datetime) -> dict[str, Any]:
    view = dict(key.jwk)
    problem = key.problem_at(now)
    view["status"] = "active" if problem is None else problem.replace(" ", "-")
    view["not_before"] = rfc3339(key.not_before)
    if key.not_after is not None:
        view["not_after"] = rfc3339(key.not_after)
    if key.revoked_at is not None:
        view["revoked_at"] = rfc3339(key.revoked_at)
    return view


def participant_view(participant: Participant) -> dict[str, Any]:
    return {
        "id": participant.id,
        "name": participant.name,
        "kind": participant.kind,
        "country": participant.country,
        "accepts": list(participant.accepts),
        "push_delivery": participant.adapter != "pull",
        "adapter": participant.adapter,
        "domains": list(participant.domains),
        "trusted_flagger": participant.trusted_flagger,
        "hash_signals": participant.hash_signals,
    }


async def list_all(request: web.Request) -> web.Response:
    participants = await directory.list_participants(request.app[POOL])
    return web.json_response({"participants": [participant_view(p) for p in participants]})


async def show(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    participant = await directory.get_participant(pool, request.match_info["participant_id"])
    if participant is None:
        raise Refusal("not-found", "no such participant")
    now = request.app[CLOCK]()
    view = participant_view(participant)
    view["jwks"] = {"keys": [key_view(k, now) for k in await directory.keys_of(pool, participant.id)]}
    return web.json_response(view)


async def hub_jwks(request: web.Request) -> web.Response:
    """The hub's current key and every earlier one it has not revoked: what it signed before a key
    rotation (receipts, evidences, checkpoints) keeps verifying, and so do tokens of replicas not yet
    restarted with the new key."""
    current = request.app[HUB_KEY].public().to_dict()
    keys = [current]
    now = request.app[CLOCK]()
    for record in await directory.keys_of(request.app[POOL], request.app[SETTINGS].hub_id):
        if record.kid != current["kid"] and record.use == "sig" and record.problem_at(now) is None:
            keys.append(dict(record.jwk))
    return web.json_response({"keys": keys})
