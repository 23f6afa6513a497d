"""Forms for new referrals and for answers on a case, from the templates, checked before signing.

GET shows the form (with a fresh message id, and "now" in the required timestamps); POST either adds or
removes an entry of a repeated group and shows the form again, or sends: the values become an envelope,
the template's schema checks it (sealed values stand in as placeholders) and every fault is shown next
to its field; only a valid envelope is sealed to the recipients' keys, signed with the organisation's
key and submitted. A refusal by the hub is shown with its title and detail (and its faults at their
fields). A hub that cannot be reached at any step of sending (reading the case, the recipients' keys,
submitting) sends nothing: the form comes back as it was filled in, saying that nothing was sent, and
a message already signed is kept to be sent again unchanged.

A decision (status-update) is not signed in one click: a valid one is shown first ("Review and sign",
`review.py`) exactly as it will be signed, with a warning when an EU platform restricts content
without a DSA Art. 17 statement of reasons; "Sign and send" signs it, "Change" goes back to the form.
Only the timestamps a form always asks for are filled in with "now", in sight; a time asked for only in
some cases (`decided_at`) is the person's to give. The form token (`form_token`) makes every POST of
one form the one message it was rendered for; a new takedown request that repeats an open case's URL
and platform is held back with a warning (`duplicates`). A new takedown request to several platforms is
sent as one signed message per platform under one case (`referral_parts`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from datetime import tzinfo
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from hub.client import HubError
from hub.console.archive import Kept
from hub.console.auth import SESSION, redirect
from hub.console.compose_target import Compose
from hub.console.duplicates import Duplicate, open_duplicates
from hub.console.form_data import (
    FormErrors,
    FormValues,
    collect,
    counts_of,
    first,
    form_values,
    map_faults,
    placeholder_sealed,
    replace_sealed,
    shift_entries,
)
from hub.console.form_token import FormTokenError, issue_token, message_id_of
from hub.console.keys import CATALOG, CONFIG, GATEWAY, JINJA
from hub.console.labels import MESSAGE_TYPES
from hub.console.language import language_of, say
from hub.console.local_time import shown_time
from hub.console.next_steps import access_of, may_send, recipients
from hub.console.referral_parts import UnsplittableError, accepted_before, partly_sent, parts_of, send_parts
from hub.console.render import local_when, render
from hub.console.schema_form import MAX_REPEAT, Field, FormBuilder, TemplateForm, Widget, humanise
from hub.console.sealing import SealingError
from hub.console.views.cases import case_id_of, my_kind
from hub.console.views.review import review
from hub.core import inputs
from hub.core.case_view import MESSAGE_ACTIONS
from hub.core.clock import rfc3339, time_zone, utc_now
from hub.core.templates import SchemaFault
from hub.core.wording import DEFAULT_LANGUAGE

log = structlog.get_logger("hub.console")
SEND_ANYWAY = "send-anyway"  # the person saw the duplicate warning and sends all the same
SIGN = "sign"  # pressed on the review page: what it showed is signed and sent
REVIEWED = ("status-update",)  # a decision is reviewed before it is signed ("Review and sign")
NEW_REFERRALS = ("takedown-request", "assistance-request")
NOT_THIS_SESSION = "This form was not opened in this session (the console restarted, or you signed in again). Nothing was signed or sent: open the form again."  # noqa: E501


# What the form says when the hub does not answer at send: nothing left the console, what was typed stays.
UNREACHABLE = {
    "heading": "The hub cannot be reached: nothing was sent",
    "detail": "What you filled in is kept below. When the hub answers again, press 'Check, sign and send' once more: the very same message goes, never a second one.",  # noqa: E501
}


def unreachable(
    request: web.Request, heading: str = UNREACHABLE["heading"], more: str = ""
) -> dict[str, str]:
    """The problem shown when the hub does not answer at send, in the viewer's language."""
    return {"heading": say(request, heading), "detail": say(request, UNREACHABLE["detail"]) + more}


def latest_version(request: web.Request, message_type: str) -> str:
    versions = [v for name, v in request.app[CATALOG].templates() if name == message_type]
    if not versions:
        raise web.HTTPNotFound(text="No such form.")
    return max(versions, key=lambda v: tuple(int(p) for p in v.split(".")))


async def _new_referral(request: web.Request) -> Compose:
    message_type = request.match_info["message_type"]
    if message_type not in NEW_REFERRALS:
        raise web.HTTPNotFound(text="No such form.")
    gateway = request.app[GATEWAY]
    options = [
        (p["id"], f"{p['name']} ({say(request, humanise(str(p['kind'])))}, {p['country']})")
        for p in await gateway.participants()
        if message_type in p.get("accepts", ()) and p["id"] != gateway.me
    ]
    version = latest_version(request, message_type)
    return Compose(message_type, version, f"/new/{message_type}", options=options)


async def _answer(request: web.Request, posted: FormValues | None) -> Compose:
    message_type = request.match_info["message_type"]
    if message_type not in MESSAGE_ACTIONS:
        raise web.HTTPNotFound(text="No such form.")
    case_id = case_id_of(request)
    gateway = request.app[GATEWAY]
    case = await gateway.client.case(case_id)
    access = access_of(case, gateway.me, await my_kind(gateway))
    if not may_send(access, message_type):
        heading = say(request, MESSAGE_TYPES.get(message_type, message_type))
        raise web.HTTPForbidden(
            text=say(request, "Your part in this case does not let you send: {what}.", what=heading)
        )
    raw = first(posted, "in_reply_to") if posted is not None else request.query.get("in_reply_to", "")
    in_reply_to = None
    if raw:
        try:
            in_reply_to = str(uuid.UUID(raw))
        except ValueError:
            raise web.HTTPBadRequest(text="in_reply_to must be a message id.") from None
    version = latest_version(request, message_type)
    compose = Compose(message_type, version, f"/cases/{case_id}/reply/{message_type}", case, in_reply_to)
    compose.to = recipients(message_type, case, in_reply_to)
    return compose


def _form(request: web.Request, compose: Compose, counts: dict[str, int]) -> TemplateForm:
    envelope: list[Field] = []
    if compose.to is None:
        hint = say(request, "The participants this goes to. Sealed details are sealed to each one's key.")
        label = say(request, "Send to")
        envelope.append(
            Field("/to", "to", label, hint, Widget.RECIPIENTS, True, options=tuple(compose.options))
        )
    builder = FormBuilder(request.app[CATALOG], counts, language_of(request))
    return builder.template(compose.message_type, compose.version, envelope)


def _page(
    request: web.Request,
    compose: Compose,
    form: TemplateForm,
    values: FormValues,
    errors: FormErrors | None = None,
    *,
    problem: dict[str, Any] | None = None,
    duplicates: list[Duplicate] | None = None,
    status: int = 200,
) -> web.Response:
    case = compose.case
    heading = say(request, MESSAGE_TYPES.get(compose.message_type, form.title))
    if case:
        title = say(request, "{what} for case {case}", what=heading, case=case["case_id"][:8])
    else:
        what = heading.lower() if language_of(request) == DEFAULT_LANGUAGE else heading
        title = say(request, "New {what}", what=what)
    context = {
        "title": title,
        "form": form,
        "compose": compose,
        "values": values,
        "errors": errors or FormErrors(),
        "problem": problem,
        "duplicates": duplicates or [],
    }
    return render(request.app[JINJA], request, "compose.html", context, status=status)


def _prefill(form: TemplateForm, values: FormValues, zone: tzinfo) -> None:
    """ "Now" in the timestamps the form always asks for, in sight and in the viewer's zone; a time asked
    for only in some cases (a decision's `decided_at`) is left for the person to give."""
    now = shown_time(utc_now(), zone)
    for made in form.fields():
        if made.timestamp and made.required and made.pointer not in values:
            values[made.pointer] = [now]


async def compose_new(request: web.Request) -> web.Response:
    if request.method != "POST":
        return await _show_or_send(request, await _new_referral(request))
    try:
        compose = await _new_referral(request)
    except (aiohttp.ClientError, TimeoutError):  # the recipients offered are the ones chosen
        chosen = form_values((await request.post()).items()).get("/to", [])
        message_type = request.match_info["message_type"]
        compose = Compose(
            message_type,
            latest_version(request, message_type),
            f"/new/{message_type}",
            options=[(one, one) for one in chosen],
            unreachable=True,
        )
    return await _show_or_send(request, compose)


async def compose_answer(request: web.Request) -> web.Response:
    posted = form_values((await request.post()).items()) if request.method == "POST" else None
    if posted is None:
        return await _show_or_send(request, await _answer(request, None))
    try:
        compose = await _answer(request, posted)
    except (aiohttp.ClientError, TimeoutError):  # the case cannot be read: the form as it was posted
        message_type, case_id = request.match_info["message_type"], case_id_of(request)
        if message_type not in MESSAGE_ACTIONS:
            raise web.HTTPNotFound(text="No such form.") from None
        compose = Compose(
            message_type,
            latest_version(request, message_type),
            f"/cases/{case_id}/reply/{message_type}",
            {"case_id": case_id},
            _message_id_or_none(first(posted, "in_reply_to")),
            to=[],
            unreachable=True,
        )
    return await _show_or_send(request, compose)


def _message_id_or_none(raw: str) -> str | None:
    try:
        return str(uuid.UUID(raw)) if raw else None
    except ValueError:
        return None


async def _show_or_send(request: web.Request, compose: Compose) -> web.Response:
    if request.method != "POST":
        values: FormValues = {"message_id": [issue_token(request[SESSION].csrf, compose.action)]}
        if compose.in_reply_to:
            values["in_reply_to"] = [compose.in_reply_to]
        form = _form(request, compose, {})
        _prefill(form, values, time_zone(request.app[CONFIG].time_zone))
        return _page(request, compose, form, values)
    values = form_values((await request.post()).items())
    try:
        message_id = message_id_of(request[SESSION].csrf, compose.action, first(values, "message_id"))
    except FormTokenError:
        raise web.HTTPBadRequest(text=say(request, NOT_THIS_SESSION)) from None
    action = first(values, "action")
    counts = counts_of(values)
    if action.startswith("add:"):
        pointer = action.removeprefix("add:")
        counts[pointer] = min(counts.get(pointer, 0) + 1, MAX_REPEAT)
    elif action.startswith("remove:"):
        pointer, _, index = action.removeprefix("remove:").rpartition("/")
        entry = inputs.parse_decimal(index, 0, MAX_REPEAT)
        if entry is not None:
            values = shift_entries(values, pointer, entry)
            counts[pointer] = max(counts.get(pointer, 1) - 1, 0)
    form = _form(request, compose, counts)
    if action not in ("send", SEND_ANYWAY, SIGN):
        return _page(
            request, compose, form, values, problem=unreachable(request) if compose.unreachable else None
        )
    return await _send_once(request, compose, form, values, message_id)


async def _send_once(
    request: web.Request, compose: Compose, form: TemplateForm, values: FormValues, message_id: str
) -> web.Response:
    """Send the form's message unless it was sent already; the hub down at any step sends nothing."""
    if compose.unreachable:
        return _page(request, compose, form, values, problem=unreachable(request), status=503)
    gateway = request.app[GATEWAY]
    # The same content sent from this form before (Back, and send again) is that message, or those parts.
    message_id = gateway.sent_from_form(compose.action, content_print(form, values)) or message_id
    already = await asyncio.to_thread(gateway.archive.sent, message_id)
    if already is not None:
        return await _sent_before(request, compose, already)
    try:
        return await _send(request, compose, form, values, message_id)
    except (aiohttp.ClientError, TimeoutError):  # the directory's keys, a duplicate check, the review
        return _page(request, compose, form, values, problem=unreachable(request), status=503)


def _envelope(
    request: web.Request, compose: Compose, form: TemplateForm, values: FormValues, message_id: str
) -> dict[str, Any]:
    zone = time_zone(request.app[CONFIG].time_zone)  # the times typed are the viewer's
    to = compose.to if compose.to is not None else collect(form.envelope[0], values, zone)
    body = collect(form.body, values, zone)
    envelope: dict[str, Any] = {
        "id": message_id,
        "type": compose.message_type,
        "version": compose.version,
        "from": request.app[GATEWAY].me,
        "to": to if isinstance(to, list) else [],
        "created_at": rfc3339(utc_now()),
        "body": body if isinstance(body, dict) else {},
    }
    if compose.case is not None:
        envelope["case"] = compose.case["case_id"]
    if compose.in_reply_to is not None:
        envelope["in_reply_to"] = compose.in_reply_to
    return envelope


def content_print(form: TemplateForm, values: FormValues) -> str:
    """What a person typed into the form, without its token and the times the console put in: the same
    form sent again after Back (which gives the page a fresh token) has the same content print."""
    times = {made.pointer for made in form.fields() if made.timestamp}
    kept = sorted((k, v) for k, v in values.items() if k not in ("csrf", "action", "message_id", *times))
    return hashlib.sha256(json.dumps(kept).encode("utf-8")).hexdigest()


def fingerprint(values: FormValues) -> str:
    kept = sorted((k, v) for k, v in values.items() if k not in ("csrf", "action"))
    return hashlib.sha256(json.dumps(kept).encode("utf-8")).hexdigest()


async def _sent_before(request: web.Request, compose: Compose, kept: Kept) -> web.Response:
    """This form's message was sent already: replay the very same signed bytes (the hub answers with the
    same receipt and makes nothing new) and show its case."""
    with contextlib.suppress(HubError, aiohttp.ClientError, TimeoutError):
        await request.app[GATEWAY].submit({"type": kept.message_type}, kept.message)
    heading = say(request, MESSAGE_TYPES.get(compose.message_type, compose.message_type))
    request[SESSION].flash.append(
        say(
            request,
            "This form was already sent: {what} {id}, accepted by the hub at {time}. Nothing new was sent; this is its case. To send another, open a new form.",  # noqa: E501
            what=heading.lower() if language_of(request) == DEFAULT_LANGUAGE else heading,
            id=kept.message_id[:8],
            time=local_when(request, kept.accepted_at),
        )
    )
    log.info("console.form_sent_again", message_id=kept.message_id)
    return redirect(f"/cases/{kept.case_id}")


async def _send(
    request: web.Request, compose: Compose, form: TemplateForm, values: FormValues, message_id: str
) -> web.Response:
    envelope = _envelope(request, compose, form, values, message_id)
    catalog, gateway = request.app[CATALOG], request.app[GATEWAY]
    faults = catalog.validate(replace_sealed(envelope, placeholder_sealed(envelope["to"])))
    if faults:
        return _page(
            request, compose, form, values, map_faults(form, faults, language_of(request)), status=422
        )
    if compose.message_type in REVIEWED and first(values, "action") != SIGN:
        return await review(request, compose, envelope, values)
    try:
        parts = await parts_of(gateway, envelope)
    except UnsplittableError as exc:
        errors = map_faults(form, [SchemaFault(exc.pointer, str(exc))], language_of(request))
        return _page(request, compose, form, values, errors, status=422)
    kept = await accepted_before(gateway, parts)
    if kept[0] is not None and all(kept):
        return await _sent_before(request, compose, kept[0])
    # A form some of whose parts were accepted repeats only itself: no duplicate warning then.
    if compose.case is None and first(values, "action") != SEND_ANYWAY and not any(kept):
        duplicates = await open_duplicates(gateway, envelope)
        if duplicates:
            return _page(request, compose, form, values, duplicates=duplicates, status=409)
    response = await _submit(request, compose, form, values, parts)
    if response.status == 303:
        gateway.sent_form(compose.action, content_print(form, values), envelope["id"])
    return response


async def _submit(
    request: web.Request,
    compose: Compose,
    form: TemplateForm,
    values: FormValues,
    parts: list[dict[str, Any]],
) -> web.Response:
    receipts: list[dict[str, Any]] = []  # one per part the hub accepted, whatever fails after
    try:
        await send_parts(request.app[GATEWAY], request.app[CONFIG].key, parts, fingerprint(values), receipts)
    except SealingError as exc:  # no key, or one its recipient did not bind (issue 18)
        errors = FormErrors()
        errors.add(
            form.envelope[0] if form.envelope else None,
            str(exc) + partly_sent(parts, receipts, language_of(request)),
        )
        return _page(request, compose, form, values, errors, status=422)
    except HubError as exc:
        log.warning("console.message_refused", message_id=parts[len(receipts)]["id"], problem=exc.code)
        faults = [
            SchemaFault(str(e.get("pointer", "")), str(e.get("detail", "")))
            for e in exc.problem.get("errors", [])
            if isinstance(e, dict)
        ]
        problem = {
            **exc.problem,
            "detail": f"{exc.problem.get('detail', '')}{partly_sent(parts, receipts, language_of(request))}",
        }
        errors = map_faults(form, faults, language_of(request))
        return _page(request, compose, form, values, errors, problem=problem, status=422)
    except (aiohttp.ClientError, TimeoutError):
        log.warning("console.hub_unreachable", message_id=parts[len(receipts)]["id"])
        heading = UNREACHABLE["heading"] if not receipts else "The hub cannot be reached"
        problem = unreachable(request, heading, partly_sent(parts, receipts, language_of(request)))
        return _page(request, compose, form, values, problem=problem, status=503)
    heading = say(request, MESSAGE_TYPES.get(compose.message_type, compose.message_type))
    last = receipts[-1]
    accepted = local_when(request, str(last["accepted_at"]))
    if len(parts) == 1:
        flash = say(
            request,
            "{what} sent and accepted by the hub at {time} (message {id}).",
            what=heading,
            time=accepted,
            id=last["message_id"],
        )
    else:
        flash = say(
            request,
            "{what} sent as {count} messages under one case, one per platform ({platforms}), each with only the items on its own service; accepted by the hub at {time}.",  # noqa: E501
            what=heading,
            count=len(parts),
            platforms=", ".join(str(p["to"][0]) for p in parts),
            time=accepted,
        )
    request[SESSION].flash.append(flash)
    return redirect(f"/cases/{last['case_id']}")
