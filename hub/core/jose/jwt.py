"""Bearer tokens (RFC 7519) that participants sign with their own Ed25519 key.

There are no shared secrets: a participant proves who it is by signing a short-lived JWT with the key the
directory holds for it. The contract fixes the claims: ``iss`` (participant id), ``aud`` (the hub's
``HUB_ID``), integer ``iat`` and ``exp`` at most five minutes apart, and a ``jti`` the hub remembers so
each token is used once. This module is pure: ``read_token`` parses, ``check_claims`` judges the claims
against a given clock; looking up the key by ``iss``/``kid``, verifying the signature and spending the
``jti`` are the caller's steps, in that order.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.core.jose.errors import InvalidTokenError, MalformedJwsError
from hub.core.jose.jwk import PrivateSigningJwk
from hub.core.jose.jws import ParsedJws, parse_jws, sign_compact

MAX_TOKEN_LIFETIME = 300
MAX_TOKEN_ID_LENGTH = 200


@dataclass(frozen=True)
class TokenClaims:
    """The accepted claims of a bearer token, and the ``kid`` of the key that signed it."""

    issuer: str
    audience: str
    issued_at: int
    expires_at: int
    token_id: str
    kid: str


def issue_token(
    key: PrivateSigningJwk,
    *,
    issuer: str,
    audience: str,
    now: int,
    lifetime: int = 120,
    token_id: str | None = None,
) -> str:
    """Sign a bearer token valid from ``now`` for ``lifetime`` seconds (at most ``MAX_TOKEN_LIFETIME``)."""
    if not 0 < lifetime <= MAX_TOKEN_LIFETIME:
        raise ValueError(f"a token lifetime must be between 1 and {MAX_TOKEN_LIFETIME} seconds")
    claims = {
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": token_id if token_id is not None else str(uuid.uuid4()),
    }
    payload = json.dumps(claims, separators=(",", ":")).encode("utf-8")
    return sign_compact(payload, key, {"typ": "JWT"})


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise InvalidTokenError(f"the token's claims have {key[:40]!r} more than once")
        out[key] = value
    return out


def _claims_object(payload: bytes) -> dict[str, Any]:
    try:
        claims = json.loads(payload.decode("utf-8"), object_pairs_hook=_reject_duplicates)
    except (UnicodeDecodeError, ValueError):
        raise InvalidTokenError("the token's payload is not valid JSON") from None
    if not isinstance(claims, dict):
        raise InvalidTokenError("the token's payload is not a JSON object")
    return claims


def read_token(token: str) -> tuple[ParsedJws, dict[str, Any]]:
    """Parse a bearer token (compact JWS, EdDSA, ``kid``) and its claims, without verifying anything."""
    if not isinstance(token, str):
        raise InvalidTokenError("the token is not a string")
    if token.strip().startswith("{"):
        raise InvalidTokenError("the token must use the JWS compact serialisation")
    try:
        jws = parse_jws(token)
    except MalformedJwsError as exc:
        raise InvalidTokenError(f"malformed token: {exc}") from None
    typ = jws.signatures[0].protected.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.upper() not in ("JWT", "APPLICATION/JWT")):
        raise InvalidTokenError("the token's typ header must be 'JWT'")
    return jws, _claims_object(jws.payload)


def _string_claim(claims: Mapping[str, Any], name: str, max_length: int | None = None) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidTokenError(f"the token's {name!r} claim must be a non-empty string")
    if max_length is not None and len(value) > max_length:
        raise InvalidTokenError(f"the token's {name!r} claim is longer than {max_length} characters")
    return value


def _int_claim(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidTokenError(f"the token's {name!r} claim must be an integer number of seconds")
    return value


def _check_audience(claims: Mapping[str, Any], audience: str) -> None:
    aud = claims.get("aud")
    if isinstance(aud, list) and all(isinstance(item, str) for item in aud):
        accepted = audience in aud
    elif isinstance(aud, str):
        accepted = aud == audience
    else:
        raise InvalidTokenError("the token's 'aud' claim must be a string or a list of strings")
    if not accepted:
        raise InvalidTokenError("the token is not meant for this hub (wrong 'aud')")


def _check_times(claims: Mapping[str, Any], now: int, leeway: int) -> tuple[int, int]:
    issued_at = _int_claim(claims, "iat")
    expires_at = _int_claim(claims, "exp")
    if expires_at <= issued_at:
        raise InvalidTokenError("the token expires before it was issued")
    if expires_at - issued_at > MAX_TOKEN_LIFETIME:
        raise InvalidTokenError(f"the token's lifetime exceeds {MAX_TOKEN_LIFETIME} seconds")
    if now >= expires_at + leeway:
        raise InvalidTokenError("token expired")
    if issued_at > now + leeway:
        raise InvalidTokenError("the token is issued in the future")
    if "nbf" in claims and _int_claim(claims, "nbf") > now + leeway:
        raise InvalidTokenError("the token is not valid yet ('nbf')")
    return issued_at, expires_at


def check_claims(
    jws: ParsedJws, claims: Mapping[str, Any], *, audience: str, now: int, leeway: int = 30
) -> TokenClaims:
    """Judge a token's claims at time ``now``; the signature must be verified separately."""
    if jws.serialization != "compact" or len(jws.signatures) != 1:
        raise InvalidTokenError("the token must be a compact JWS with one signature")
    issuer = _string_claim(claims, "iss")
    _check_audience(claims, audience)
    issued_at, expires_at = _check_times(claims, now, leeway)
    token_id = _string_claim(claims, "jti", MAX_TOKEN_ID_LENGTH)
    return TokenClaims(issuer, audience, issued_at, expires_at, token_id, jws.signatures[0].kid)
