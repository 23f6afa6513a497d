"""Who is calling: the participant's EdDSA-signed bearer token (RFC 7519), checked against the directory.

Claims follow the contract: `iss` the participant, `aud` this hub's id, `iat`, `exp` at most five
minutes later, `jti` single use. The token's key must belong to `iss` and be valid now; the `jti` is
consumed in the database (shared by every hub process), so a replayed token fails on any of them, and
kept there until the token could no longer be accepted anyway (exp plus the clock leeway).

Under load (issue 21) concurrent requests share their database work: the tokens' keys are read in one
query (the same `Batcher` as intake's message keys) and their jtis consumed in one statement, which is
one commit for all of them. A jti used twice in one such batch counts once: the first request has it.
A batch that fails fails every request of it (the database error, answered as any other), and stores
nothing of it: no token is used up by a request that was not answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from hub.core.jose import (
    BadSignatureError,
    JoseError,
    PublicJwk,
    check_claims,
    read_token,
    verify_signature,
)
from hub.core.refusal import Refusal
from hub.services.batcher import Batcher
from hub.store import directory, tokens
from hub.store.directory import KeyRecord
from hub.store.tokens import TokenUse


@dataclass(frozen=True)
class Caller:
    participant_id: str
    kid: str


@dataclass(frozen=True)
class AccessBatches:
    """Concurrent requests' key lookups and jti consumptions, each made in one round trip."""

    key_lookup: Batcher[str, KeyRecord | None]
    token_use: Batcher[TokenUse, bool]


async def authenticate(
    pool: asyncpg.Pool,
    authorization: str | None,
    *,
    audience: str,
    now: datetime,
    batches: AccessBatches | None = None,
) -> Caller:
    if not authorization:
        raise Refusal("missing-token", "this endpoint needs 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refusal("invalid-token", "the Authorization header must be 'Bearer <token>'")
    try:
        jws, raw_claims = read_token(token.strip())
        claims = check_claims(jws, raw_claims, audience=audience, now=int(now.timestamp()))
    except JoseError as exc:  # hostile JSON or an embedded key: its own problem type; else invalid-token
        raise Refusal(exc.fault or "invalid-token", f"invalid token: {exc}") from None
    record = await _key(pool, claims.kid, batches)
    if record is None or record.use != "sig" or record.participant_id != claims.issuer:
        raise Refusal("invalid-token", "the token's kid names no signing key of its issuer")
    if claims.issuer == audience:  # the hub's key signs what the hub issues; it is nobody's login
        raise Refusal("invalid-token", "the hub does not call its own API as a participant")
    problem = record.problem_at(now)
    if problem is not None:
        raise Refusal("key-not-valid", f"the token's signing key is {problem}")
    try:
        verify_signature(jws, jws.signatures[0], PublicJwk.from_dict(record.jwk))
    except BadSignatureError:
        raise Refusal("invalid-token", "the token's signature does not verify") from None
    # Remembered for as long as check_claims would accept the token (exp + leeway), so purging used jtis
    # never reopens a replay window.
    remember_until = datetime.fromtimestamp(claims.remember_until, UTC)
    if not await _consume(pool, TokenUse(claims.issuer, claims.token_id, remember_until), batches):
        raise Refusal("token-replay", "this token was already used: every request needs a new jti")
    return Caller(participant_id=claims.issuer, kid=claims.kid)


async def _key(pool: asyncpg.Pool, kid: str, batches: AccessBatches | None) -> KeyRecord | None:
    if batches is None:
        return await directory.get_key(pool, kid)
    return await batches.key_lookup.submit(kid, lambda kids: directory.keys_in_order(pool, kids))


async def _consume(pool: asyncpg.Pool, use: TokenUse, batches: AccessBatches | None) -> bool:
    """True if the jti was not used before (and is used now)."""
    if batches is None:
        return await tokens.consume_token(pool, use.issuer, use.jti, use.remember_until)
    return await batches.token_use.submit(use, lambda uses: tokens.consume_tokens(pool, uses))


async def purge_used_tokens(pool: asyncpg.Pool, now: datetime) -> None:
    await tokens.purge_used_tokens(pool, now)
