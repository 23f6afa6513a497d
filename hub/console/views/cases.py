"""The case list (with filters), the case page (recipients, deadlines, timeline, messages, what to do
next) and the case's evidence bundle. URLs carry case ids and filter values only, never content."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from typing import Any

import aiohttp
from aiohttp import web

from hub.client import HubError
from hub.console.archive import Kept
from hub.console.auth import redirect
from hub.console.evidence import bundle as evidence_bundle_of
from hub.console.gateway import HubGateway
from hub.console.keys import CATALOG, CONFIG, GATEWAY, JINJA
from hub.console.language import language_of, say
from hub.console.next_steps import steps
from hub.console.render import render
from hub.console.sealing import open_all
from hub.console.search import Found, find_in_messages
from hub.console.shown_body import labelled_body
from hub.core.case_reference import CaseReferenceError
from hub.core.clock import rfc3339, utc_now
from hub.core.content_url import looks_like_url
from hub.core.global_id import home_hub_of
from hub.core.jose import JoseError, parse_jws

STATUSES = ("open", "actioned", "declined", "partially-actioned", "withdrawn", "closed")
SORTS = {"opened": "Newest first", "due": "Next due first"}  # the hub's orders (GET /v1/cases?sort=)
REFERRALS = ("takedown-request", "assistance-request")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PARTICIPANT = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
MAX_WANTED = 2048  # what "Find a case" reads of what was typed (a URL may be long)


def case_id_of(request: web.Request) -> str:
    try:
        return str(uuid.UUID(request.match_info["case_id"]))
    except ValueError:
        raise web.HTTPNotFound(text="No such case.") from None


def _filters(request: web.Request) -> tuple[dict[str, Any], list[str]]:
    query = request.query
    state = query.get("state", "")
    sort = query.get("sort", "")
    country = query.get("country", "").strip().upper()
    recipient = query.get("recipient", "").strip()
    errors = []
    if state and state not in STATUSES:
        errors.append(say(request, "State: choose one of the listed states."))
    if country and not _COUNTRY.match(country):
        errors.append(say(request, "Country: give a two-letter country code, e.g. IE."))
    if recipient and not _PARTICIPANT.match(recipient):
        errors.append(say(request, "Recipient: give a participant id, e.g. ie-platform."))
    if sort and sort not in SORTS:
        errors.append(say(request, "Order: choose one of the listed orders."))
    chosen = {
        "sort": sort or None,
        "state": state or None,
        "overdue": True if query.get("overdue") == "true" else None,
        "country": country or None,
        "recipient": recipient or None,
    }
    return chosen, errors


async def case_list(request: web.Request) -> web.Response:
    """The list; `?q=` finds a case by its id or a prefix of it (the search form posts: `case_search`)."""
    return await _list_page(request, request.query.get("q", "").strip()[:MAX_WANTED], in_archive=False)


async def case_search(request: web.Request) -> web.Response:
    """ "Find a case" (POST, so that what was typed, a URL perhaps, is in no address): by the case's id or
    a prefix of it, else by a reference or a content URL in the messages this console holds."""
    wanted = (await request.post()).get("q", "")
    return await _list_page(request, str(wanted).strip()[:MAX_WANTED], in_archive=True)


async def _find(request: web.Request, wanted: str, in_archive: bool) -> tuple[str | None, list[Found], str]:
    """Where the search leads: one case, the cases found (several), or why none."""
    gateway = request.app[GATEWAY]
    why = ""
    if not looks_like_url(wanted):
        # a case id or its first digits, looked up among the cases this participant may read (the hub's list)
        try:
            return await gateway.client.resolve_case(wanted), [], ""
        except CaseReferenceError as exc:
            why = say(request, "Find a case: {why}.", why=say(request, exc.text, **exc.values))
        except HubError as exc:
            refusal = exc.problem.get("detail", exc.problem.get("title"))
            return None, [], say(request, "Find a case: the hub refused: {why}", why=refusal)
    if not in_archive:  # an address carries no content URL: only the form's search looks for one
        return None, [], why or say(request, "Find a case: look for a content URL with the Find button.")
    found = find_in_messages(await asyncio.to_thread(gateway.archive.every), wanted)
    if looks_like_url(wanted):  # the hub matches its keyed digests too (messages this console never held)
        found = merged(found, await _found_at_hub(gateway, wanted))
    if len(found) == 1:
        return found[0].case_id, [], ""
    if not found and looks_like_url(wanted):
        why = say(
            request,
            "Find a case: no message you sent or received names this content URL, in this console or at the hub.",  # noqa: E501
        )
    elif not found:
        nor = say(request, "nor is it a reference in the messages this console holds")
        why = f"{why.removesuffix('.')}; {nor}."
    return None, found, why


async def _found_at_hub(gateway: HubGateway, url: str) -> list[Found]:
    """The cases the hub finds by the URL's keyed digest; none when it cannot be asked (the console's
    own record still answers)."""
    try:
        cases = await gateway.client.cases_by_content_url(url)
    except (HubError, aiohttp.ClientError, TimeoutError):
        return []
    return [
        Found(str(c["case_id"]), "content URL", str(c.get("message_type", "")), str(c.get("accepted_at", "")))
        for c in cases
        if c.get("case_id")
    ]


def merged(kept: list[Found], at_hub: list[Found]) -> list[Found]:
    """One entry per case, the console's own first, newest first."""
    found = {f.case_id: f for f in at_hub}
    found.update({f.case_id: f for f in kept})
    return sorted(found.values(), key=lambda f: f.accepted_at, reverse=True)


async def _list_page(request: web.Request, wanted: str, *, in_archive: bool) -> web.Response:
    gateway = request.app[GATEWAY]
    chosen, errors = _filters(request)
    not_found: list[str] = []  # a search that finds nothing still shows the list
    found: list[Found] = []
    if wanted:
        case_id, found, why = await _find(request, wanted, in_archive)
        if case_id is not None:
            return redirect(f"/cases/{case_id}")
        not_found += [why] if why and not found else []
    listing: dict[str, Any] = {"cases": [], "next_cursor": None}
    if not errors:
        try:
            listing = await gateway.client.cases(
                **chosen,
                cursor=request.query.get("cursor") or None,
                time_zone=request.app[CONFIG].time_zone,  # "due today" by the viewer's day
            )
        except HubError as exc:
            refusal = exc.problem.get("detail", exc.problem.get("title"))
            errors.append(say(request, "The hub refused these filters: {why}", why=refusal))
    errors += not_found
    next_query = {k: v for k, v in request.query.items() if k not in ("cursor", "q") and v}
    first_query = dict(next_query)
    if listing.get("next_cursor"):
        next_query["cursor"] = listing["next_cursor"]
    context = {
        "title": say(request, "Cases"),
        "cases": listing.get("cases", []),
        "due_today": listing.get("due_today"),
        "next_query": next_query if listing.get("next_cursor") else None,
        "first_query": first_query if request.query.get("cursor") else None,
        "filters": {
            **chosen,
            "state": chosen["state"] or "",
            "sort": chosen["sort"] or "opened",
            "overdue": bool(chosen["overdue"]),
        },
        "statuses": STATUSES,
        "sorts": SORTS,
        "errors": errors,
        "wanted": wanted,
        "found": found,
        "participants": await gateway.participants(),
        "unread_cases": {k.case_id for k in await asyncio.to_thread(gateway.archive.unread)},
        # a platform is the recipient of its cases: filtering them by recipient or its country finds nothing
        "recipient_filters": await my_kind(gateway) != "platform",
    }
    return render(request.app[JINJA], request, "cases.html", context, status=422 if errors else 200)


def referral_id(case: dict[str, Any], kept: list[Kept]) -> str | None:
    """The id of the message that opened the case: what answers reply to."""
    for event in case.get("timeline", []):
        if event.get("message_type") in REFERRALS and event.get("message_id"):
            return str(event["message_id"])
    return next((k.message_id for k in kept if k.message_type in REFERRALS), None)


async def _shown(gateway: HubGateway, kept: Kept, request: web.Request) -> dict[str, Any]:
    config = request.app[CONFIG]
    try:
        envelope = json.loads(parse_jws(kept.message).payload)
    except (JoseError, ValueError):
        envelope = {}
    problem = await gateway.verify(kept)
    sent = kept.direction == "sent"
    # each answer from a list in the form's words; then what was sealed to this participant, opened
    words = labelled_body(
        request.app[CATALOG],
        str(envelope.get("type", "")),
        str(envelope.get("version", "")),
        envelope.get("body", {}),
        language_of(request),
    )
    body = open_all(words, config.participant_id, config.enc_key, sent=sent)
    return {"kept": kept, "envelope": envelope, "body": body, "problem": problem}


def answered_by_me(kept: list[Kept]) -> list[str]:
    """The messages this console already answered (the `in_reply_to` of what it sent)."""
    found = []
    for k in kept:
        if k.direction != "sent":
            continue
        with contextlib.suppress(JoseError, ValueError, AttributeError):
            replied = json.loads(parse_jws(k.message).payload).get("in_reply_to")
            if isinstance(replied, str):
                found.append(replied)
    return found


async def my_kind(gateway: HubGateway) -> str:
    return str((await gateway.participant(gateway.me)).get("kind", ""))


async def actions(request: web.Request, case: dict[str, Any], kept: list[Kept]) -> list[dict[str, str]]:
    """What this organisation may send next on the case, as links to the forms."""
    gateway = request.app[GATEWAY]
    due = steps(case, gateway.me, await my_kind(gateway), answered_by_me(kept), referral_id(case, kept))
    return [
        {"href": step.href(case["case_id"]), "label": say(request, step.label, **step.values)} for step in due
    ]


async def case_page(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    case_id = case_id_of(request)
    case = await gateway.client.case(case_id)
    # what reached this participant some other way (webhook, e-mail, another tool) is held here too
    copied = await gateway.copy_case(case_id)
    kept = await asyncio.to_thread(gateway.archive.of_case, case_id)
    messages = [await _shown(gateway, k, request) for k in kept]
    shown_before = await asyncio.to_thread(gateway.archive.read_ids)
    for m in messages:  # "New" on this showing; from now on they are read
        m["new"] = m["kept"].direction == "received" and m["kept"].message_id not in shown_before
    received = [k.message_id for k in kept if k.direction == "received"]
    await asyncio.to_thread(gateway.archive.mark_read, case_id, received)
    context = {
        "unverified": copied.unverified,
        "title": say(request, "Case {id}", id=case_id[:8]),
        "case": case,
        "messages": messages,
        "actions": await actions(request, case, kept),
        "has_evidence": bool(kept),
        "enc_key": request.app[CONFIG].enc_key is not None,
    }
    return render(request.app[JINJA], request, "case.html", context)


async def evidence_bundle(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    case_id = case_id_of(request)
    case = await gateway.client.case(case_id)  # only a party may read the case, and so its bundle
    kept = await asyncio.to_thread(gateway.archive.of_case, case_id)
    if not kept:
        raise web.HTTPNotFound(text="This console holds no signed message of this case.")
    senders = {k.sender for k in kept}
    keys = {s: (await gateway.participant(s)).get("jwks", {}) for s in senders}
    # a sender of a peer hub is proven through its home hub: the bundle carries that hub's keys as this
    # hub registers it, with their key proof (hub/core/bundle_keys.py)
    homes = {home for s in senders if (home := home_hub_of(s)) is not None}
    for home in homes:
        keys[home] = (await gateway.participant(home)).get("jwks", {})
    proofs: dict[str, Any] | None = None
    with contextlib.suppress(HubError, aiohttp.ClientError, TimeoutError):
        proofs = await gateway.client.case_proofs(case_id)
    key_proofs: dict[str, dict[str, Any]] = {}
    for sender in (senders | homes) - {await gateway.client.hub_id()}:
        with contextlib.suppress(HubError, aiohttp.ClientError, TimeoutError):
            key_proofs[sender] = await gateway.client.participant_log(sender)
    data = evidence_bundle_of(
        case_id=case_id,
        hub_id=await gateway.client.hub_id(),
        participant=gateway.me,
        made_at=rfc3339(utc_now()),
        case=case,
        kept=kept,
        sender_keys=keys,
        hub_jwks=await gateway.hub_jwks(),
        proofs=proofs,
        key_proofs=key_proofs,
    )
    disposition = f'attachment; filename="case-{case_id}.zip"'
    return web.Response(
        body=data, content_type="application/zip", headers={"Content-Disposition": disposition}
    )
