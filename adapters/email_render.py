"""The e-mail notice: a referral rendered for the people who read a platform's abuse mailbox.

One template set under `templates/email/`: `subject.txt.j2`, `notice.txt.j2`, `notice.html.j2`
(autoescaped), `legal.j2` (what each jurisdiction's law asks, what each clock asks), the parking and
unreadable-reply notices. Each text in them is English, said in the notice's language through the one
catalogue the console uses too (`hub.core.wording`, German in `hub/wording/de.json`): `t(text, ...)` in
a template, `tm` where the sentence holds markup (HTML); dates in words come from the same catalogue.
The notice is built from the signed message's own payload (the hub verified it when it accepted it),
never from anything else, and reads no sealed field: it says which fields are sealed and to which key.
The subject names the message type and a short case id only: no URL, no name, no content.
URLs of reported content appear in the body, as text rather than links, so that a mail scanner that
follows links does not fetch the content.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from markupsafe import Markup, escape

from adapters.base import OutboundMessage
from hub.core.clock import rfc3339
from hub.core.envelope import NEW_REFERRAL_TYPES
from hub.core.jose import parse_jws
from hub.core.wording import LANGUAGES
from hub.settings import MailSettings
from hub.wording import load_wording

if TYPE_CHECKING:
    import jinja2

TEMPLATE_ROOT = Path(__file__).parent / "templates" / "email"


def languages() -> tuple[str, ...]:
    """The languages a notice can be written in: the catalogue's."""
    return tuple(sorted(LANGUAGES))


@cache
def _environment() -> jinja2.Environment:
    """The templates' environment, built once, when the first notice is rendered (not at import)."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_ROOT),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # the texts the notices share with the console, in a language the macros are given
    environment.globals["say"] = load_wording().say
    return environment


def render_notice(
    message: OutboundMessage,
    to: str,
    language: str,
    settings: MailSettings,
    reply_to: str,
    now: datetime,
) -> EmailMessage:
    context = notice_context(message, reply_to) | {
        "clocks": _clocks(message, language),
        "keys_url": f"{settings.public_url}/.well-known/jwks.json",
        "directory_url": f"{settings.public_url}/v1/participants/{message.sender}",
    }
    subject = " ".join(_render(language, "subject.txt.j2", context).split())
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = to
    mail["Reply-To"] = reply_to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(now)
    # The same id on every attempt, so a mail system that gets the notice twice can drop the repeat.
    mail["Message-ID"] = notice_message_id(message.message_id, message.recipient, settings)
    if message.earlier:  # a later notice on a case already mailed: threaded under the ones before
        earlier = [notice_message_id(m, message.recipient, settings) for m in message.earlier]
        mail["In-Reply-To"] = earlier[-1]
        mail["References"] = " ".join(earlier[-MAX_REFERENCES:])
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this, please
    mail.set_content(_render(language, "notice.txt.j2", context), charset="utf-8")
    mail.add_alternative(_render(language, "notice.html.j2", context), subtype="html", charset="utf-8")
    for name, form in (("message.jws", message.signed_form), ("receipt.jws", message.receipt)):
        # RFC 7515 section 9.2: compact serialisation is application/jose, JSON is application/jose+json.
        subtype = "jose+json" if form.lstrip().startswith("{") else "jose"
        mail.add_attachment(form.encode("utf-8"), maintype="application", subtype=subtype, filename=name)
    mail["Content-Language"] = language  # after the body: setting the content replaces Content-* headers
    return mail


MAX_REFERENCES = 20  # message ids kept in References (RFC 5322 3.6.4 allows trimming the middle)
_MESSAGE_ID = re.compile(r"<[!-;=?-~]{1,250}@[!-;=?-Z^-~]{1,250}>")  # msg-id, no spaces, no CR/LF


def notice_message_id(message_id: UUID, recipient: str, settings: MailSettings) -> str:
    """The Message-ID of the notice of `message_id` to `recipient` (the same on every attempt)."""
    return f"<{message_id}.{recipient}@{settings.reply_domain}>"


def answering_headers(message_id: object, references: object) -> dict[str, str]:
    """In-Reply-To and References (RFC 5322 3.6.4) of an answer to a mail with these headers, so
    ticket systems thread it; only well-formed message ids are carried over."""
    parent = str(message_id or "").strip()
    if not _MESSAGE_ID.fullmatch(parent):
        return {}
    before = [r for r in str(references or "").split() if _MESSAGE_ID.fullmatch(r)]
    chain = [*before, parent][-MAX_REFERENCES:]
    return {"In-Reply-To": parent, "References": " ".join(chain)}


def _render(language: str, name: str, context: Mapping[str, Any]) -> str:
    """`name` in `language`: its texts said through the catalogue (`t`; `tm` keeps markup values)."""
    wording = load_wording()

    def with_markup(text: str, /, **values: object) -> Markup:
        return escape(wording.words(language, text)).format(**values)  # values escaped unless markup

    said = {"language": language, "t": partial(wording.say, language), "tm": with_markup}
    return _environment().get_template(name).render({**context, **said})


def notice_context(message: OutboundMessage, reply_to: str) -> dict[str, Any]:
    payload = json.loads(parse_jws(message.signed_form).payload)
    body: Mapping[str, Any] = payload.get("body") or {}
    illegality = body.get("illegality") or {}
    referral = message.message_type in NEW_REFERRAL_TYPES
    return {
        "sender": message.sender,
        "platform": message.recipient,
        "case_id": str(message.case_id),
        "case_short": message.case_id.hex[:8],
        "message_id": str(message.message_id),
        "message_type": message.message_type,
        "accepted_at": rfc3339(message.accepted_at),
        "referral": referral,
        "category": body.get("category"),
        "content": [_locator(item) for item in body.get("content") or ()],
        "identical_copies": body.get("identical_copies") is True,
        "jurisdictions": [str(j) for j in body.get("jurisdictions") or ()],
        "laws": [
            {"jurisdiction": str(law.get("jurisdiction", "")), "citation": str(law.get("citation", ""))}
            for law in illegality.get("laws") or ()
        ],
        "explanation": illegality.get("explanation"),
        "non_consent": (body.get("non_consent_statement") or {}).get("text"),
        "accuracy": (body.get("accuracy_statement") or {}).get("text"),
        "authorisation": _authorisation(body.get("authorisation")),
        "notes": body.get("notes"),
        "other_fields": [] if "content" in body else _plain_fields(body),
        "sealed": [{"field": path, "kid": kid} for path, kid in sealed_fields(body, message.recipient)],
        "reply_to": reply_to,
        "answers_by_mail": referral or message.message_type == "withdrawal",
        "withdrawal": message.message_type == "withdrawal",  # answered by DELETED: its deletion clock
    }


def plain_date(moment: datetime, language: str) -> str:
    """A due time in words, in UTC to the minute, as the console says one (`hub.core.wording`)."""
    return load_wording().long_date(moment, language, UTC)


def _clocks(message: OutboundMessage, language: str) -> list[dict[str, Any]]:
    return [
        {
            "kind": c.kind,
            "jurisdiction": c.jurisdiction,
            "legal_basis": c.legal_basis,
            "due_at": rfc3339(c.due_at),
            "due_words": plain_date(c.due_at, language),
            "starts": c.starts,
        }
        for c in message.clocks
    ]


def _locator(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "url": item.get("url"),
        "platform_item_id": item.get("platform_item_id"),
        "description": item.get("description"),
        "hashes": [{"alg": h.get("alg"), "value": h.get("value")} for h in item.get("hashes") or ()],
    }


def _authorisation(value: object) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        return None
    return {k: value.get(k) for k in ("signatory", "method", "signed_at", "reference")}


def _plain_fields(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The readable fields of a message that is not a takedown request (withdrawal, information
    request, assistance request...): strings, numbers, booleans and lists of them; sealed ones are
    listed apart."""
    fields = []
    for name, value in body.items():
        if isinstance(value, bool):
            fields.append((name, "yes" if value else "no"))
        elif isinstance(value, str | int | float):
            fields.append((name, str(value)))
        elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
            fields.append((name, ", ".join(str(v) for v in value)))
    return fields


def sealed_fields(value: object, recipient: str, path: str = "") -> Iterator[tuple[str, str | None]]:
    """(field path, the kid of the recipient's copy) for every sealed value, however deep."""
    if isinstance(value, Mapping):
        copies = value.get("sealed")
        if isinstance(copies, list) and path:
            mine = [c.get("kid") for c in copies if isinstance(c, Mapping) and c.get("to") == recipient]
            yield path, str(mine[0]) if mine else None
            return
        for name, inner in value.items():
            yield from sealed_fields(inner, recipient, f"{path}.{name}" if path else str(name))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from sealed_fields(inner, recipient, f"{path}[{index}]")


def render_unreadable_answer(
    why: str,
    case_id: UUID,
    to: str,
    language: str,
    settings: MailSettings,
    reply_to: str,
    now: datetime,
    answering: Mapping[str, str] | None = None,
) -> EmailMessage:
    """The hub's answer to a reply it could not read: why (`why`: the mail-in verdict) and what to
    write. It never quotes the reply; `answering` (`answering_headers` of the reply) threads it."""
    context = {"why": why, "case_short": case_id.hex[:8], "case_id": str(case_id), "reply_to": reply_to}
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = to
    mail["Reply-To"] = reply_to
    mail["Subject"] = " ".join(_render(language, "unreadable_subject.txt.j2", context).split())
    mail["Date"] = format_datetime(now)
    mail["Auto-Submitted"] = "auto-replied"  # RFC 3834: an automatic answer, not to be answered itself
    for name, value in (answering or {}).items():
        mail[name] = value
    mail.set_content(_render(language, "unreadable.txt.j2", context), charset="utf-8")
    mail["Content-Language"] = language
    return mail


def render_parking_notice(
    destination: str,
    parked_at: datetime,
    reason: str | None,
    refusals: int,
    held: int,
    to: str,
    language: str,
    settings: MailSettings,
    now: datetime,
) -> EmailMessage:
    """Issue 16.9: the recipient's push destination was parked after repeated refusals. Says why (the
    HTTP status, never a URL), how many deliveries wait and what to do; one per parking."""
    context = {
        "destination": destination,
        "parked_at": rfc3339(parked_at),
        "reason": reason or "refused",
        "refusals": refusals,
        "held": held,
        "directory_url": f"{settings.public_url}/v1/directory/self",
    }
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = to
    mail["Subject"] = " ".join(_render(language, "parked_subject.txt.j2", context).split())
    mail["Date"] = format_datetime(now)
    # The same id for the same parking: a mail system that gets it twice can drop the repeat.
    stamp = parked_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%f")
    mail["Message-ID"] = f"<parked.{destination}.{stamp}@{settings.reply_domain}>"
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(_render(language, "parked.txt.j2", context), charset="utf-8")
    mail["Content-Language"] = language
    return mail
