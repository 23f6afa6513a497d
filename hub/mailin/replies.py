"""Reading a platform's e-mail reply to a notice (pure: bytes in, a reading out).

The notice asks for a first line of ACKNOWLEDGED, REMOVED, or DECLINED: <reason> (a withdrawal's notice:
DELETED, the platform deleted what it received for the case). The first line that
is not empty, not quoted (`>`), not a greeting ("Hello team,") and not an attribution ("On ... wrote:")
decides; everything after it is ignored, except that a decline's reason runs on to the end of its
paragraph. Keywords are matched in any case, followed by nothing but optional punctuation, or (for
ACKNOWLEDGED, REMOVED and DELETED) by a remark after a punctuation mark ("REMOVED - all three items"):
"Removed nothing" is not a removal. A reason shorter than 10 characters, the template's minimum, is no
decline. Anything else is unrecognised: kept as evidence and shown to the sender, never guessed at.

Who sent it is not read here: `headers.strict_from` and `hub.core.mail_auth` decide that.

The text read is the reply's plain-text body, or its HTML body reduced to text without the quoted
blocks (`<blockquote>`) when it has no plain text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser

from hub.core.attested_answer import MAX_REASON, MIN_REASON, Answer, Reading


@dataclass(frozen=True)
class MailReply:
    reading: Reading


_GREETING = re.compile(
    r"(hi|hello|hey|dear|greetings|good (morning|afternoon|evening|day)|to whom it may concern|hallo|moin"
    r"|servus|guten (morgen|tag|abend)|sehr geehrte[rs]?|liebe[rs]?|bonjour|hola)\b[^.?]{0,60}[,!:]?",
    re.IGNORECASE,
)
_ATTRIBUTION = re.compile(r"(on|am) .{0,200}(wrote|schrieb)\s*:", re.IGNORECASE)
_DASHES = "\u2013\u2014"  # en and em dash, as mail clients like to turn "-" into
_PLAIN = re.compile(rf"(ACKNOWLEDGED|REMOVED|DELETED)\s*(?:[.!,;:\-{_DASHES}].*)?", re.IGNORECASE)
_DECLINED = re.compile(rf"DECLINED\s*[:\-{_DASHES}]\s*(.*)", re.IGNORECASE)
_SIGNATURE = "-- "


def read_answer(text: str) -> Reading:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line or line.startswith(">") or _skippable(line):
            continue
        plain = _PLAIN.fullmatch(line)
        if plain:
            return Reading(Answer(plain.group(1).lower()))
        declined = _DECLINED.fullmatch(line)
        if declined:
            return _decline(declined.group(1), lines[index + 1 :])
        return Reading(Answer.UNRECOGNISED)
    return Reading(Answer.UNRECOGNISED)


def _skippable(line: str) -> bool:
    return bool(_GREETING.fullmatch(line) or _ATTRIBUTION.fullmatch(line))


def _decline(first: str, rest: list[str]) -> Reading:
    """The reason: the rest of the DECLINED line and the lines of the same paragraph after it."""
    parts = [first.strip()]
    for raw in rest:
        if not raw.strip() or raw.startswith(">") or raw.rstrip() == _SIGNATURE.rstrip():
            break
        parts.append(raw.strip())
    reason = "\n".join(p for p in parts if p)[:MAX_REASON]
    if len(reason) < MIN_REASON:
        return Reading(Answer.UNRECOGNISED)
    return Reading(Answer.DECLINED, reason)


def read_reply(raw: bytes) -> MailReply:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if not isinstance(message, EmailMessage):  # policy.default makes EmailMessage objects
        return MailReply(Reading(Answer.UNRECOGNISED))
    return MailReply(read_answer(reply_text(message)))


def reply_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if not isinstance(part, EmailMessage):
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, KeyError):  # an unknown or lying charset
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    return html_text(content) if part.get_content_subtype() == "html" else content


class _TextOfHtml(HTMLParser):
    _BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table"})
    _HIDDEN = frozenset({"blockquote", "style", "script", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self.hidden += 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)
