"""Unpadded base64url (RFC 7515 section 2), decoded strictly.

JWS signing inputs are computed over the base64url *text*, so a lenient decoder would let two different
texts stand for the same bytes: one signed message could then be stored or deduplicated under several
spellings. The decoder therefore accepts exactly one spelling per byte string: no padding, no
whitespace, nothing outside the URL-safe alphabet, and no stray bits in the last character.
"""

from __future__ import annotations

import base64
import binascii
import re

from hub.core.jose.errors import MalformedJwsError

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    """Encode ``data`` as base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, *, what: str = "value") -> bytes:
    """Decode unpadded base64url ``text``; ``what`` names the value in the error message."""
    if not isinstance(text, str):
        raise MalformedJwsError(f"{what} is not a base64url string")
    if "=" in text:
        raise MalformedJwsError(f"{what} is not valid base64url: padding '=' is not allowed")
    if _ALPHABET.fullmatch(text) is None:
        raise MalformedJwsError(f"{what} is not valid base64url: a character is outside A-Za-z0-9-_")
    if len(text) % 4 == 1:
        raise MalformedJwsError(f"{what} is not valid base64url: its length is impossible")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:  # unreachable after the checks above, kept as a guard
        raise MalformedJwsError(f"{what} is not valid base64url") from exc
    if b64url_encode(data) != text:
        raise MalformedJwsError(f"{what} is not valid base64url: its last character has non-zero spare bits")
    return data
