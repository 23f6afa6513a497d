"""Strict parsing of what arrives from outside: JSON texts and decimal integers.

One JSON parser for everything the hub reads as JSON from a participant or anyone on the network: JWS
headers and JSON serialisations, message payloads, bearer-token claims, request bodies. It reads
RFC 8259 JSON under the I-JSON profile (RFC 7493), because the hub stores and forwards the exact bytes a
sender signed and every recipient must read them as the hub did:

- UTF-8 only (RFC 8259 8.1): no byte order mark, no UTF-16 or UTF-32 (which Python's ``json.loads``
  of bytes would otherwise detect and accept, and a Node.js recipient would not);
- no duplicate member names (RFC 7493 2.3): parsers disagree on which one wins;
- no ``NaN``/``Infinity`` (not JSON) and no number a double cannot hold (``1e400`` reads as infinity);
  no integer beyond +/-(2**53 - 1) (RFC 7493 2.2: a JavaScript recipient would read another number), so
  an integer literal is never converted digit by digit (Python refuses more than 4,300 digits);
- no string with a lone surrogate (RFC 7493 2.1) or a NUL character (PostgreSQL text holds neither);
- at most ``MAX_DEPTH`` levels of nesting (the templates need 6), so no later recursion can overflow.

Each refusal is a ``JsonFault`` whose ``code`` is the API's problem type (``hub/api/problems.py``).
The checks cost little on the hot path: the hooks run per object or number, and the depth and string
checks walk the value only when a cheap scan of the text says they might fail.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1

MALFORMED = "malformed-json"
NOT_UTF8 = "json-not-utf8"
BYTE_ORDER_MARK = "json-byte-order-mark"
DUPLICATE_MEMBER = "json-duplicate-member"
NON_FINITE_NUMBER = "json-non-finite-number"
NUMBER_OUT_OF_RANGE = "json-number-out-of-range"
TOO_DEEP = "json-too-deep"
INVALID_STRING = "json-invalid-string"
FAULT_CODES = (
    MALFORMED,
    NOT_UTF8,
    BYTE_ORDER_MARK,
    DUPLICATE_MEMBER,
    NON_FINITE_NUMBER,
    NUMBER_OUT_OF_RANGE,
    TOO_DEEP,
    INVALID_STRING,
)

_UTF8_BOM = b"\xef\xbb\xbf"
_WIDE_BOMS = {
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\xfe\xff": "UTF-16",
    b"\xff\xfe": "UTF-16",
}
# An escape that may decode to a surrogate or to NUL; only then are the strings looked at one by one.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")
_MAX_INTEGER_DIGITS = len(str(MAX_SAFE_INTEGER))


class JsonFault(ValueError):
    """A JSON text the hub refuses; ``code`` names the problem type, the message says what is wrong."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def specific(self) -> str | None:
        """The code of a profile violation; None for a plain syntax error (callers name their own)."""
        return None if self.code == MALFORMED else self.code


class _Refused(Exception):
    """Raised inside the decoder's hooks; carries the fault out of ``json``'s own error handling."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(DUPLICATE_MEMBER, f"has the member {_short(key)} more than once")
            seen.add(key)
    return out


def _refuse_constant(name: str) -> Any:
    raise _Refused(NON_FINITE_NUMBER, f"is not valid JSON: {name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Refused(NON_FINITE_NUMBER, "has a number too large for a double (it would read as infinity)")
    return value


def _safe_integer(text: str) -> int:
    digits = len(text) - text.startswith("-")
    if digits > _MAX_INTEGER_DIGITS or abs(value := int(text)) > MAX_SAFE_INTEGER:
        raise _Refused(
            NUMBER_OUT_OF_RANGE,
            f"has an integer beyond +/-{MAX_SAFE_INTEGER} (RFC 7493 2.2): send such a number as a string",
        )
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_object,
    parse_constant=_refuse_constant,
    parse_float=_finite_float,
    parse_int=_safe_integer,
)


def loads(data: bytes | str, *, what: str = "the JSON text") -> Any:
    """Parse ``data`` (bytes must be UTF-8) strictly; raise ``JsonFault`` naming ``what`` was refused."""
    text = _text(data, what) if isinstance(data, bytes | bytearray) else data
    if text.startswith("\ufeff"):
        raise JsonFault(BYTE_ORDER_MARK, f"{what} starts with a byte order mark; JSON is sent without one")
    try:
        value = _DECODER.decode(text)
    except _Refused as refused:
        raise JsonFault(refused.code, f"{what} {refused.reason}") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise JsonFault(MALFORMED, f"{what} is not valid JSON: {exc.msg} at {where}") from None
    except RecursionError:
        raise JsonFault(TOO_DEEP, f"{what} is nested more than {MAX_DEPTH} levels deep") from None
    if text.count("{") + text.count("[") > MAX_DEPTH and _depth_exceeds(value, MAX_DEPTH):
        raise JsonFault(TOO_DEEP, f"{what} is nested more than {MAX_DEPTH} levels deep")
    if "\\u" in text and _SUSPECT_ESCAPE.search(text) is not None:
        _check_strings(value, what)
    return value


def _text(data: bytes | bytearray, what: str) -> str:
    raw = bytes(data)
    if raw.startswith(_UTF8_BOM):
        raise JsonFault(BYTE_ORDER_MARK, f"{what} starts with a byte order mark; JSON is sent without one")
    wide = _wide_encoding(raw)
    if wide is not None:
        raise JsonFault(NOT_UTF8, f"{what} is {wide}; JSON is exchanged as UTF-8 (RFC 8259 8.1)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonFault(MALFORMED, f"{what} is not valid JSON: it is not UTF-8") from None


def _wide_encoding(raw: bytes) -> str | None:
    """'UTF-16' or 'UTF-32' when ``raw`` is a JSON text in one of them (by BOM or by its NUL pattern)."""
    for bom, name in _WIDE_BOMS.items():
        if raw.startswith(bom):
            return name if _decodes_to_json(raw, name.lower()) else None
    if b"\x00" not in raw:  # JSON in UTF-8 never holds a raw NUL byte (outside strings it is not JSON,
        return None  # inside them it must be escaped)
    for name in ("UTF-32", "UTF-16"):
        for order in ("-le", "-be"):
            if _decodes_to_json(raw, name.lower() + order):
                return name
    return None


def _decodes_to_json(raw: bytes, encoding: str) -> bool:
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    start = text.lstrip("\ufeff \t\r\n")[:1]
    return start != "" and start in '{["-0123456789tfn'


def _depth_exceeds(value: Any, limit: int) -> bool:
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _check_strings(value: Any, what: str) -> None:
    pending = [value]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            pending.extend(node.keys())
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, str) and (not node.isascii() or "\x00" in node):
            _check_string(node, what)


def _check_string(text: str, what: str) -> None:
    if "\x00" in text:
        raise JsonFault(INVALID_STRING, f"{what} has a string with a NUL character (\\u0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JsonFault(
            INVALID_STRING, f"{what} has a string with a lone surrogate escape (RFC 7493 2.1)"
        ) from None


def _short(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def parse_decimal(text: str, low: int, high: int) -> int | None:
    """``text`` as an integer from ``low`` to ``high`` (ASCII digits, optional leading '-'), else None.

    The length is checked before converting, so a number of thousands of digits costs nothing (and
    never reaches Python's 4,300-digit conversion limit)."""
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()):
        return None
    if len(digits) > max(len(str(abs(low))), len(str(abs(high)))):
        return None
    value = int(text)
    return value if low <= value <= high else None
