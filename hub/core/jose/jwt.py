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

from hub.core import inputs
from hub.core.jose.errors import InvalidTokenError, MalformedJwsError
from hub.core.jose.jwk import PrivateSigningJwk
from hub.core.jose.jws import ParsedJws, check_all_signed, parse_jws, sign_compact

MAX_TOKEN_LIFETIME = 300
MAX_TOKEN_ID_LENGTH = 200
# Seconds of clock skew forgiven on iat, nbf and exp. A token is accepted until exp + LEEWAY, so its jti
# is remembered until then (``TokenClaims.remember_until``), never only until exp.
LEEWAY = 30


@dataclass(frozen=True)
class TokenClaims:
    """The accepted claims of a bearer token, and the ``kid`` of the key that signed it."""

    issuer: str
    audience: str
    issued_at: int
    expires_at: int
    token_id: str
    kid: str
    # The first instant (seconds) at which ``check_claims`` refuses this token as expired: until then
    # its jti must be remembered, or the token could be replayed in the leeway after its exp.
    remember_until: int


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


def _claims_object(payload: bytes) -> dict[str, Any]:
    try:
        claims = inputs.loads(payload, what="the token's payload")
    except inputs.JsonFault as fault:
        raise InvalidTokenError(str(fault), fault=fault.specific) from None
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
        check_all_signed(jws)
    except MalformedJwsError as exc:
        raise InvalidTokenError(f"malformed token: {exc}", fault=exc.fault) from None
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
    jws: ParsedJws, claims: Mapping[str, Any], *, audience: str, now: int, leeway: int = LEEWAY
) -> TokenClaims:
    """Judge a token's claims at time ``now``; the signature must be verified separately."""
    if jws.serialization != "compact" or len(jws.signatures) != 1:
        raise InvalidTokenError("the token must be a compact JWS with one signature")
    issuer = _string_claim(claims, "iss")
    _check_audience(claims, audience)
    issued_at, expires_at = _check_times(claims, now, leeway)
    token_id = _string_claim(claims, "jti", MAX_TOKEN_ID_LENGTH)
    kid = jws.signatures[0].kid
    return TokenClaims(issuer, audience, issued_at, expires_at, token_id, kid, expires_at + leeway)
