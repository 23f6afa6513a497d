"""JWS (RFC 7515) with ``alg`` ``EdDSA`` only: parse, verify, sign.

Every message to the hub is a JWS whose payload is the exact JSON bytes the sender wrote, so nothing
needs canonicalising: the signature is checked over the base64url text as received, and that text is
what the hub stores as evidence. The parser accepts the compact, flattened and general serialisations
but is deliberately narrow, because anything a verifier might read differently from the signer is a way
to smuggle content: ``alg`` and ``kid`` must be in the *protected* header, ``alg`` must be ``EdDSA``,
``crit`` (and with it RFC 7797 unencoded payloads) is refused, headers and JSON serialisations are
read by the strict JSON parser (``hub.core.inputs``: no duplicate member names, UTF-8 only, bounded
numbers and depth), and detached or empty payloads are refused. Parsing never verifies; callers pick the
key named by ``kid`` from the directory and call ``verify_signature``. What participants submit must
also pass ``check_all_signed``: nothing unprotected, no key or key URL beside the ``kid``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hub.core import inputs
from hub.core.jose.base64url import b64url_decode, b64url_encode
from hub.core.jose.errors import MalformedJwsError
from hub.core.jose.jwk import PrivateSigningJwk, PublicJwk, verify_ed25519

MAX_SIGNATURES = 8
_ENTRY_MEMBERS = frozenset({"protected", "header", "signature"})
_DOCUMENT_MEMBERS = {
    "general": frozenset({"payload", "signatures"}),
    "flattened": _ENTRY_MEMBERS | {"payload"},
}
# Header parameters that carry a key or say where to fetch one (RFC 7515 4.1.2-4.1.8). The hub's keys
# come from its directory, by kid, and nowhere else.
KEY_HEADERS = ("jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256")
KEY_HEADER_FAULT = "jws-key-header"  # problem types (hub/api/problems.py) of check_all_signed's refusals
UNPROTECTED_FAULT = "jws-unprotected-content"
_SIGNATURE_LENGTH = 64
_WHITESPACE = " \t\r\n"


@dataclass(frozen=True)
class JwsSignature:
    """One signature of a JWS with its headers, as received."""

    protected_b64: str
    protected: dict[str, Any]
    header: dict[str, Any]
    signature: bytes

    @property
    def kid(self) -> str:
        kid = self.protected.get("kid")
        if not isinstance(kid, str) or not kid:
            raise MalformedJwsError("the protected header's kid must be a non-empty string")
        return kid


@dataclass(frozen=True)
class ParsedJws:
    """A parsed (not yet verified) JWS."""

    payload: bytes
    payload_b64: str
    signatures: tuple[JwsSignature, ...]
    serialization: str
    # Members of the JSON serialisation that RFC 7515 does not define (as "name" or "signatures[i].name"):
    # ignored by verifiers, covered by no signature. ``check_all_signed`` refuses them.
    unknown_members: tuple[str, ...] = ()


def _loads(data: bytes | str, what: str) -> Any:
    """Strict JSON (``hub.core.inputs``); a syntax error is a malformed JWS, any other fault keeps its
    own problem type."""
    try:
        return inputs.loads(data, what=what)
    except inputs.JsonFault as fault:
        raise MalformedJwsError(str(fault), fault=fault.specific) from None


def _json_object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedJwsError(f"{what} is not a JSON object")
    return value


def _decode_protected(protected_b64: object) -> dict[str, Any]:
    if not isinstance(protected_b64, str):
        raise MalformedJwsError("the signature has no protected header")
    raw = b64url_decode(protected_b64, what="the protected header")
    return _json_object(_loads(raw, "the protected header"), "the protected header")


def _check_required(name: str, protected: Mapping[str, Any], header: Mapping[str, Any]) -> None:
    if name not in protected:
        where = "in the unprotected header, but it must be protected" if name in header else "missing"
        raise MalformedJwsError(f"the JWS header parameter {name!r} is {where}")


def _check_headers(protected: Mapping[str, Any], header: Mapping[str, Any]) -> None:
    both = sorted(set(protected) & set(header))
    if both:
        raise MalformedJwsError(f"the header parameter {both[0][:40]!r} is both protected and unprotected")
    if "crit" in protected or "crit" in header:
        raise MalformedJwsError("the 'crit' header parameter is not supported")
    if protected.get("b64", True) is not True or header.get("b64", True) is not True:
        raise MalformedJwsError("unencoded payloads ('b64': false) are not supported")
    _check_required("alg", protected, header)
    if protected["alg"] != "EdDSA":
        raise MalformedJwsError(f"the JWS alg {str(protected['alg'])[:40]!r} is not supported; only EdDSA is")
    _check_required("kid", protected, header)
    kid = protected["kid"]
    if not isinstance(kid, str) or not kid:
        raise MalformedJwsError("the protected header's kid must be a non-empty string")


def _make_signature(protected_b64: object, header: object, signature_b64: object) -> JwsSignature:
    protected = _decode_protected(protected_b64)
    unprotected = {} if header is None else _json_object(header, "the unprotected header")
    _check_headers(protected, unprotected)
    if not isinstance(signature_b64, str):
        raise MalformedJwsError("the signature is missing or not a string")
    signature = b64url_decode(signature_b64, what="the signature")
    if len(signature) != _SIGNATURE_LENGTH:
        raise MalformedJwsError(f"an EdDSA signature is {_SIGNATURE_LENGTH} bytes, not {len(signature)}")
    return JwsSignature(str(protected_b64), protected, unprotected, signature)


def _decode_payload(payload_b64: object) -> bytes:
    if payload_b64 is None:
        raise MalformedJwsError("detached payloads are not supported: the JWS has no payload")
    if not isinstance(payload_b64, str):
        raise MalformedJwsError("the payload is not a base64url string")
    if not payload_b64:
        raise MalformedJwsError("the payload is empty (detached payloads are not supported)")
    return b64url_decode(payload_b64, what="the payload")


def _parse_compact(text: str) -> ParsedJws:
    if not text.isascii():
        raise MalformedJwsError("a compact JWS must be ASCII")
    parts = text.split(".")
    if len(parts) != 3:
        raise MalformedJwsError(f"a compact JWS has 3 dot-separated parts, not {len(parts)}")
    payload = _decode_payload(parts[1])
    return ParsedJws(payload, parts[1], (_make_signature(parts[0], None, parts[2]),), "compact")


def _parse_json(text: str) -> ParsedJws:
    document = _json_object(_loads(text, "the JWS"), "the JWS")
    if "signatures" in document:
        mixed = sorted({"protected", "header", "signature"} & set(document))
        if mixed:
            raise MalformedJwsError(
                f"the JWS mixes the general and flattened forms: {mixed[0]!r} and 'signatures'"
            )
        entries = document["signatures"]
        if not isinstance(entries, list):
            raise MalformedJwsError("the JWS 'signatures' member is not a list")
        serialization = "general"
    elif "signature" in document:
        entries, serialization = [document], "flattened"
    else:
        raise MalformedJwsError("the JWS has no signatures")
    if not entries:
        raise MalformedJwsError("the JWS has no signatures")
    if len(entries) > MAX_SIGNATURES:
        raise MalformedJwsError(f"the JWS has {len(entries)} signatures; the limit is {MAX_SIGNATURES}")
    payload = _decode_payload(document.get("payload"))
    signatures = []
    unknown = [name for name in document if name not in _DOCUMENT_MEMBERS[serialization]]
    for index, entry in enumerate(entries):
        item = _json_object(entry, "a JWS signature entry")
        signatures.append(_make_signature(item.get("protected"), item.get("header"), item.get("signature")))
        if serialization == "general":
            unknown += [f"signatures[{index}].{name}" for name in item if name not in _ENTRY_MEMBERS]
    return ParsedJws(payload, document["payload"], tuple(signatures), serialization, tuple(unknown))


def _as_text(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.strip(_WHITESPACE)
    stripped = data.strip(_WHITESPACE.encode("ascii"))
    try:
        return stripped.decode("utf-8" if stripped.startswith(b"{") else "ascii")
    except UnicodeDecodeError:
        raise MalformedJwsError("a compact JWS must be ASCII and a JSON JWS must be UTF-8") from None


def parse_jws(data: bytes | str) -> ParsedJws:
    """Parse a JWS in compact, flattened or general serialisation, without verifying it."""
    if not isinstance(data, bytes | str):
        raise MalformedJwsError("a JWS must be given as text or bytes")
    text = _as_text(data)
    if not text:
        raise MalformedJwsError("the JWS is empty")
    return _parse_json(text) if text.startswith("{") else _parse_compact(text)


def check_all_signed(jws: ParsedJws) -> None:
    """Refuse what a JWS carries outside its signatures, or a key it names beside its ``kid``.

    For what participants submit (messages and tokens): the hub stores and forwards the exact form it
    received, so anything unprotected in it (an unprotected ``header``, a member RFC 7515 does not
    define) would travel to recipients as if it were the sender's without the sender's signature; and
    a ``jku``, ``jwk`` or ``x5*`` header invites a recipient's library to verify with a key the
    attacker chose (as node-jose once did with embedded ``jwk``s). Both are refused, not stripped:
    stripping would store something other than what was signed and sent."""
    for index, signature in enumerate(jws.signatures):
        where = "" if len(jws.signatures) == 1 else f" of signature {index + 1}"
        headers = signature.protected.keys() | signature.header.keys()
        key_headers = [name for name in KEY_HEADERS if name in headers]
        if key_headers:
            raise MalformedJwsError(
                f"the JWS header{where} names a key by {key_headers[0]!r}: the hub takes keys only from its "
                "directory, by kid",
                fault=KEY_HEADER_FAULT,
            )
        if signature.header:
            raise MalformedJwsError(
                f"the JWS has an unprotected header{where} ({_names(signature.header)}): every header "
                "parameter must be in the protected header",
                fault=UNPROTECTED_FAULT,
            )
    if jws.unknown_members:
        raise MalformedJwsError(
            f"the JWS has members outside its signatures ({_names(jws.unknown_members)}): only payload, "
            "protected, signature and signatures are accepted",
            fault=UNPROTECTED_FAULT,
        )


def _names(names: Iterable[str]) -> str:
    listed = sorted(names)
    shown = ", ".join(repr(name[:40]) for name in listed[:3])
    return shown + (f" and {len(listed) - 3} more" if len(listed) > 3 else "")


def verify_signature(jws: ParsedJws, signature: JwsSignature, key: PublicJwk) -> None:
    """Raise ``BadSignatureError`` unless ``signature`` (one of ``jws``'s) verifies with ``key``."""
    signing_input = f"{signature.protected_b64}.{jws.payload_b64}".encode("ascii")
    verify_ed25519(key, signing_input, signature.signature)


# The encoded protected header of each (kid, extra header) the hub signs with: the same few for every
# receipt, token and evidence it signs (`_signed_protected`), so each is made once, not per signature.
_PROTECTED: dict[tuple[str, tuple[tuple[str, Any], ...]], str] = {}
_PROTECTED_MAX = 256


def _signed_protected(key: PrivateSigningJwk, extra_header: Mapping[str, Any] | None) -> str:
    items = tuple(extra_header.items()) if extra_header else ()
    if all(type(value) is str for _, value in items):  # a header of plain strings can be kept
        cache_key = (key.kid, items)
        cached = _PROTECTED.get(cache_key)
        if cached is None:
            if len(_PROTECTED) >= _PROTECTED_MAX:
                _PROTECTED.clear()
            cached = _PROTECTED[cache_key] = _encoded_protected(key, extra_header)
        return cached
    return _encoded_protected(key, extra_header)


def _encoded_protected(key: PrivateSigningJwk, extra_header: Mapping[str, Any] | None) -> str:
    extra = dict(extra_header or {})
    if "alg" in extra or "kid" in extra:
        raise ValueError("extra_header must not set 'alg' or 'kid'")
    protected = {"alg": "EdDSA", "kid": key.kid, **extra}
    _check_headers(protected, {})
    return b64url_encode(json.dumps(protected, separators=(",", ":")).encode("ascii"))


def sign_compact(
    payload: bytes, key: PrivateSigningJwk, extra_header: Mapping[str, Any] | None = None
) -> str:
    """Sign ``payload`` as a compact JWS with protected header ``{"alg":"EdDSA","kid":..., **extra}``."""
    if not payload:
        raise MalformedJwsError("the payload is empty")
    protected_b64 = _signed_protected(key, extra_header)
    payload_b64 = b64url_encode(payload)
    signature = key.sign(f"{protected_b64}.{payload_b64}".encode("ascii"))
    return f"{protected_b64}.{payload_b64}.{b64url_encode(signature)}"


def sha256_hex(data: bytes) -> str:
    """The lowercase hex SHA-256 digest of ``data`` (how receipts name a message)."""
    return hashlib.sha256(data).hexdigest()
