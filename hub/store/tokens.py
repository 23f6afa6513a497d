"""Used bearer-token ids (`jti`), shared by every hub process so that a token is accepted once."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from hub.store.queries import query


async def consume_token(pool: asyncpg.Pool, issuer: str, token_id: str, remember_until: datetime) -> bool:
    """Record the token as used, kept until `remember_until`; False if it already was."""
    return await pool.fetchval(query("consume_token"), issuer, token_id, remember_until) is not None


async def purge_used_tokens(pool: asyncpg.Pool, now: datetime) -> None:
    """Forget the ids of tokens that would be refused as expired anyway."""
    await pool.execute(query("purge_tokens"), now)
