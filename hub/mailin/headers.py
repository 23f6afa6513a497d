"""Reading the origin headers of a reply strictly (pure): the From mailbox and Authentication-Results.

From: exactly one From header, holding exactly one mailbox (no group, no list), parsed without any
defect, whose addr-spec is a plain address (the narrow form the directory registers: no quoted local
part, no domain literal). Only the addr-spec is returned; the display name is never read, so
`From: abuse@platform.example <attacker@evil.example>` (a defect: an unquoted '@' in a phrase) and
`"abuse@platform.example" <attacker@evil.example>` (the addr-spec is the attacker's) never pass for the
platform.

Authentication-Results (RFC 8601): each header in order, topmost first, as its authserv-id and its
results (method, result, and properties such as `header.d` or `header.from`); comments are dropped,
quoted values unquoted, names and domains lower-cased. A header that does not parse is left out.
"""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser

from adapters.email import plausible_address
from hub.core.mail_auth import AuthenticationResults, MethodResult

MAX_RESULTS_HEADERS = 20


def parse_headers(raw: bytes) -> EmailMessage:
    message = BytesHeaderParser(policy=policy.default).parsebytes(raw)
    return message if isinstance(message, EmailMessage) else EmailMessage()  # policy.default makes them


def strict_from(message: EmailMessage) -> str | None:
    """The From header's one addr-spec, lower case; None unless there is exactly one plain mailbox."""
    values = message.get_all("From", [])
    if len(values) != 1:
        return None
    try:
        header = values[0]
        groups = header.groups
        defects = header.defects
    except (AttributeError, TypeError, ValueError, IndexError):
        return None
    if defects or len(groups) != 1 or groups[0].display_name is not None:
        return None
    addresses = groups[0].addresses
    if len(addresses) != 1:
        return None
    address = addresses[0].addr_spec
    return address.lower() if plausible_address(address) else None


def addressed_in(message: EmailMessage, address: str) -> frozenset[str]:
    """Which of the To and Cc headers hold `address` (case-insensitive); none when either header
    appears more than once (RFC 5322 allows one each: with two, a signature covers only one of them)."""
    found = set()
    for name in ("to", "cc"):
        values = message.get_all(name, [])
        if len(values) > 1:
            return frozenset()
        try:
            listed = {a.addr_spec.lower() for a in values[0].addresses} if values else set()
        except (AttributeError, TypeError, ValueError, IndexError):
            return frozenset()
        if address.strip().strip("<>").lower() in listed:
            found.add(name)
    return frozenset(found)


def authentication_results(message: EmailMessage) -> tuple[AuthenticationResults, ...]:
    found = []
    for value in message.get_all("Authentication-Results", [])[:MAX_RESULTS_HEADERS]:
        parsed = parse_authentication_results(str(value))
        if parsed is not None:
            found.append(parsed)
    return tuple(found)


def parse_authentication_results(value: str) -> AuthenticationResults | None:
    """One header's payload (RFC 8601 section 2.2), or None if it is not one."""
    segments = _split(_without_comments(value))
    if segments is None or not segments[0]:
        return None
    head = segments[0].split()
    if len(head) > 2 or (len(head) == 2 and not head[1].isdigit()):
        return None
    authserv_id = _unquote(head[0]).lower()
    results = []
    for segment in segments[1:]:
        if segment.strip().lower() == "none":
            continue
        result = _resinfo(segment)
        if result is None:
            return None
        results.append(result)
    return AuthenticationResults(authserv_id, tuple(results))


_METHOD = re.compile(r"([a-z0-9_-]+)(?:/[0-9]+)?=([a-z0-9_-]+)")
_PROPERTY = re.compile(r"([a-z0-9_-]+)\.([a-z0-9_.-]+)=(\"(?:[^\"\\]|\\.)*\"|\S+)")
_SPACED = re.compile(r"\s*([=./])\s*")
_QUOTED = re.compile(r"\"(?:[^\"\\]|\\.)*\"?")


def _resinfo(segment: str) -> MethodResult | None:
    tokens = _tokens(segment)
    if not tokens:
        return None
    method = _METHOD.fullmatch(tokens[0].lower())
    if method is None:
        return None
    properties: dict[str, str] = {}
    for token in tokens[1:]:
        if token.lower().startswith("reason="):
            continue
        prop = _PROPERTY.fullmatch(token)
        if prop is None:
            return None
        name = f"{prop.group(1).lower()}.{prop.group(2).lower()}"
        properties.setdefault(name, _unquote(prop.group(3)).lower())
    return MethodResult(method.group(1), method.group(2), properties)


def _tokens(segment: str) -> list[str]:
    """The segment's words outside quoted strings, with `a = b` and `a . b` joined (CFWS may stand there)."""
    parts = re.findall(r"\"(?:[^\"\\]|\\.)*\"|[^\"]+", segment)
    joined = "".join(p if p.startswith('"') else _SPACED.sub(r"\1", p) for p in parts)
    return re.findall(r"(?:\"(?:[^\"\\]|\\.)*\"|[^\s\"])+", joined)


def _without_comments(value: str) -> str:
    """The value with its (nested) comments replaced by a space, quoted strings left as they are."""
    text = value.replace("\r", " ").replace("\n", " ")
    out: list[str] = []
    depth, index = 0, 0
    while index < len(text):
        char = text[index]
        if char == "\\" or (char == '"' and depth == 0):
            end = index + 2 if char == "\\" else _QUOTED.match(text, index).end()  # type: ignore[union-attr]
            out.append(text[index:end] if depth == 0 else "")
            index = end
            continue
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
            out.append(" " if depth == 0 else "")
        elif depth == 0:
            out.append(char)
        index += 1
    return "".join(out)


def _split(value: str) -> list[str] | None:
    """The value split at semicolons outside quoted strings; None if a quote is left open."""
    parts: list[str] = []
    current: list[str] = []
    quoted, escaped = False, False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    if quoted:
        return None
    parts.append("".join(current).strip())
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value
