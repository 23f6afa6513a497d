"""The public directory: participants with their keys as a JWK Set (RFC 7517), and the hub's own keys.

Each JWK carries, beside the standard members, its validity window and status, so a recipient can
verify an old message with a key that has since expired and see that a key was revoked. A
participant's delivery endpoint and contact address are not published (its own entry,
`GET /v1/directory/self`, shows them to it).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from aiohttp import web

from hub.api.keys import CLOCK, HUB_KEY, POOL, SETTINGS
from hub.api.request import caller_of, int_parameter, json_body
from hub.core.binding import delivery_document, destination_document
from hub.core.clock import rfc3339
from hub.core.refusal import Refusal
from hub.services import directory_log, proofs, witnesses
from hub.services.bindings import BindingRefused, apply_binding
from hub.store import audit, destinations, directory
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
    # how the key entered the directory, and the participant's signed binding (issue 18): a client
    # trusts a key only through its participant's registered key (hub.core.key_chain)
    view["origin"] = key.origin
    view["epoch"] = key.epoch
    view["binding"] = key.binding
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
        # whether the hub can tell it things at a contact address (parking); the address is not public
        "contact_email_registered": participant.contact_email is not None,
        # a participant of a peer hub, mirrored from that hub's vouching feed (docs/federation.md)
        "home_hub": participant.home_hub,
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
    if participant.home_hub is not None:  # its home hub's log proof of those keys (hub/core/home_chain.py)
        view["home_proof"] = (await directory.home_proofs_of(pool, [participant.id])).get(participant.id)
    return web.json_response(view)


async def history(request: web.Request) -> web.Response:
    """`GET /v1/participants/{participant_id}/log`: the participant's directory changes as the audit
    log holds them, each with its inclusion proof to the latest checkpoint (hub/services/directory_log.py)."""
    return web.json_response(
        await directory_log.participant_log(request.app[POOL], request.match_info["participant_id"])
    )


async def publish_binding(request: web.Request) -> web.Response:
    """`POST /v1/directory/bindings`: the caller's signed change to its own entry."""
    caller = await caller_of(request)
    body = await json_body(request)
    text = body.get("binding")
    if not isinstance(text, str):
        raise Refusal("invalid-binding", 'send {"binding": "<compact JWS>"} (hub keys bind prints one)')
    async with request.app[POOL].acquire() as conn, conn.transaction():
        try:
            applied = await apply_binding(
                conn,
                hub_id=request.app[SETTINGS].hub_id,
                text=text,
                now=request.app[CLOCK](),
                caller=caller.participant_id,
            )
        except BindingRefused as exc:
            raise Refusal(exc.code, exc.detail) from None
    return web.json_response(applied.document(), status=201)


async def own_entry(request: web.Request) -> web.Response:
    """`GET /v1/directory/self`: the caller's entry as the hub uses it, delivery address included, so
    that `hub keys monitor` can compare it with what the participant signed."""
    caller = await caller_of(request)
    pool = request.app[POOL]
    participant = await directory.get_participant(pool, caller.participant_id)
    if participant is None:
        raise Refusal("not-found", "no such participant")
    now = request.app[CLOCK]()
    delivery = await directory.delivery_of(pool, participant.id)
    view = participant_view(participant)
    view["jwks"] = {"keys": [key_view(k, now) for k in await directory.keys_of(pool, participant.id)]}
    view["delivery"] = delivery_document(
        participant.endpoint, participant.adapter, participant.adapter_config
    )
    view["delivery_binding"] = None if delivery is None else delivery["delivery_binding"]
    view["destinations"] = [  # further destinations (issue 19), each with the binding that added it
        {
            **destination_document(d.name, d.endpoint, d.adapter, d.adapter_config),
            "binding": d.binding,
        }
        for d in await destinations.destinations_of(pool, participant.id)
    ]
    view["contact_email"] = participant.contact_email  # its own: it can check where it is told
    view["epoch"] = 0 if delivery is None else int(delivery["epoch"])
    return web.json_response(view)


async def latest_checkpoint(request: web.Request) -> web.Response:
    """`GET /v1/directory/checkpoint`: the hub's latest signed tree head of its audit log, with the
    witnesses' cosignatures of it; `?tree_size=N` the head of exactly N entries, `?cosigned_by=ID` the
    largest head witness ID cosigned (a client then checks the latest extends it)."""
    witness = request.query.get("cosigned_by")
    if "tree_size" in request.query and witness is not None:
        raise Refusal("invalid-parameter", "give tree_size or cosigned_by, not both")
    async with request.app[POOL].acquire() as conn:
        if witness is not None:
            size = await audit.latest_cosigned_by(conn, witness[:200])
            if size is None:
                raise Refusal("unknown-checkpoint", f"{witness[:60]!r} has cosigned no checkpoint yet")
            row = await audit.checkpoint_at(conn, size)
        elif "tree_size" in request.query:
            size = int_parameter(request, "tree_size", 1, 1, 2**62)
            row = await audit.checkpoint_at(conn, size)
            if row is None:
                raise Refusal("unknown-checkpoint", f"the hub signed no checkpoint of {size} entries")
        else:
            row = await audit.latest_checkpoint(conn)
        if row is None:
            raise Refusal(
                "unknown-checkpoint", "the hub has signed no checkpoint yet: ask again in a few seconds"
            )
        cosignatures = await witnesses.cosignatures_of(conn, int(row["tree_size"]))
    return web.json_response(
        {
            "tree_size": int(row["tree_size"]),
            "checkpoint": str(row["checkpoint"]),
            "cosignatures": cosignatures,
        }
    )


async def publish_cosignature(request: web.Request) -> web.Response:
    """`POST /v1/directory/checkpoint/cosignatures`: a witness's cosignature of a checkpoint it checked."""
    caller = await caller_of(request)
    text = (await json_body(request)).get("cosignature")
    if not isinstance(text, str):
        raise Refusal(
            "invalid-cosignature", 'send {"cosignature": "<compact JWS>"} (hub keys check-log --cosign)'
        )
    async with request.app[POOL].acquire() as conn, conn.transaction():
        accepted = await witnesses.accept_cosignature(
            conn,
            hub_id=request.app[SETTINGS].hub_id,
            text=text,
            caller=caller.participant_id,
            now=request.app[CLOCK](),
        )
    return web.json_response(accepted, status=201)


async def consistency(request: web.Request) -> web.Response:
    """`GET /v1/directory/consistency?first=M&second=N`: the RFC 9162 consistency proof between two
    checkpointed sizes, with both checkpoints."""
    if "first" not in request.query or "second" not in request.query:
        raise Refusal("invalid-parameter", "give both tree sizes: ?first=M&second=N")
    first = int_parameter(request, "first", 1, 1, 2**62)
    second = int_parameter(request, "second", 1, 1, 2**62)
    if first > second:
        raise Refusal("invalid-parameter", "first must not exceed second")
    async with (
        request.app[POOL].acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        rows = [await audit.checkpoint_at(conn, size) for size in (first, second)]
        for size, row in zip((first, second), rows, strict=True):
            if row is None:
                raise Refusal("unknown-checkpoint", f"the hub signed no checkpoint of {size} entries")
        hashes = await proofs.consistency(conn, first, second) if first < second else []
    return web.json_response(
        {
            "first": first,
            "second": second,
            "first_checkpoint": str(rows[0]["checkpoint"]),  # type: ignore[index]
            "second_checkpoint": str(rows[1]["checkpoint"]),  # type: ignore[index]
            "proof": [base64.b64encode(h).decode() for h in hashes],
        }
    )


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
