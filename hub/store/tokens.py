"""Used bearer-token ids (`jti`), shared by every hub process so that a token is accepted once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from hub.store.queries import query


async def consume_token(pool: asyncpg.Pool, issuer: str, token_id: str, remember_until: datetime) -> bool:
    """Record the token as used, kept until `remember_until`; False if it already was."""
    return await pool.fetchval(query("consume_token"), issuer, token_id, remember_until) is not None


@dataclass(frozen=True)
class TokenUse:
    issuer: str
    jti: str
    remember_until: datetime


async def consume_tokens(pool: asyncpg.Pool, uses: Sequence[TokenUse]) -> list[bool]:
    """Several requests' tokens in one statement (issue 21): True for each not used before, and only for
    the first of the same (issuer, jti) in `uses`."""
    rows = await pool.fetch(
        query("consume_tokens"),
        [u.issuer for u in uses],
        [u.jti for u in uses],
        [u.remember_until for u in uses],
    )
    fresh = {(row["issuer"], row["jti"]) for row in rows}
    answers: list[bool] = []
    for use in uses:
        key = (use.issuer, use.jti)
        answers.append(key in fresh)
        fresh.discard(key)
    return answers


async def purge_used_tokens(pool: asyncpg.Pool, now: datetime) -> None:
    """Forget the ids of tokens that would be refused as expired anyway."""
    await pool.execute(query("purge_tokens"), now)
