""" "Review and sign": a decision shown exactly as it will be signed, before it is (issue 17).

The recipients and the body that will be signed, sealed parts shown as what they seal, and a warning
when a platform in the EU restricts content without a DSA Art. 17 statement of reasons. "Sign and send"
posts the same form with the action `sign`; "Change" goes back to it as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.console.form_data import FormValues, replace_sealed
from hub.console.keys import CATALOG, GATEWAY, JINJA
from hub.console.labels import MESSAGE_TYPES
from hub.console.language import language_of, say
from hub.console.render import render
from hub.console.shown_body import labelled_body
from hub.core.wording import DEFAULT_LANGUAGE
from hub.stats.dsa import EU_COUNTRIES
from hub.wording import load_wording

if TYPE_CHECKING:
    from hub.console.compose_target import Compose


async def review(
    request: web.Request, compose: Compose, envelope: dict[str, Any], values: FormValues
) -> web.Response:
    """ "Review and sign": exactly what will be signed, with what the person should know before."""
    me = await request.app[GATEWAY].participant(request.app[GATEWAY].me)
    # each answer from a list in the form's words (the signed body keeps the values themselves)
    language = language_of(request)
    words = labelled_body(
        request.app[CATALOG], compose.message_type, compose.version, envelope["body"], language
    )
    body = replace_sealed(words, lambda m: {"sealed to the recipients": m.plaintext})
    heading = say(request, MESSAGE_TYPES.get(compose.message_type, compose.message_type))
    context = {
        "title": say(
            request,
            "Review and sign: {what} for case {case}",
            what=heading.lower() if language == DEFAULT_LANGUAGE else heading,
            case=envelope["case"][:8],
        ),
        "compose": compose,
        "envelope": envelope,
        "body": body,
        "values": values,
        "warnings": review_warnings(envelope, str(me.get("country", "")), language),
    }
    return render(request.app[JINJA], request, "review.html", context)


NO_REASONS = {
    "title": "No statement of reasons (EU DSA Art. 17)",
    "detail": "You restrict content as a platform in the EU: the DSA requires a statement of reasons to the uploader, and this decision gives none. Press Change to add it.",  # noqa: E501
}


def review_warnings(
    envelope: dict[str, Any], country: str, language: str = DEFAULT_LANGUAGE
) -> list[dict[str, str]]:
    body = envelope.get("body", {})
    if body.get("status") == "actioned" and country in EU_COUNTRIES and "statement_of_reasons" not in body:
        return [{k: load_wording().say(language, v) for k, v in NO_REASONS.items()}]
    return []
