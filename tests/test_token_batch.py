"""Issue 21: concurrent requests' jtis are consumed in one statement, with the single-use rule kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hub.services.batcher import Batcher
from hub.store.database import create_pool
from hub.store.tokens import TokenUse, consume_tokens

LATER = datetime.now(UTC) + timedelta(minutes=10)


async def test_a_batch_consumes_each_jti_once(database_url: str) -> None:
    pool = await create_pool(database_url)
    try:
        first = await consume_tokens(
            pool, [TokenUse("hotline-a", "j1", LATER), TokenUse("hotline-b", "j1", LATER)]
        )
        assert first == [True, True]  # the same jti of two issuers: two tokens
        again = await consume_tokens(
            pool,
            [
                TokenUse("hotline-a", "j1", LATER),  # used in the batch before
                TokenUse("hotline-a", "j2", LATER),
                TokenUse("hotline-a", "j2", LATER),  # twice in one batch: only the first has it
            ],
        )
        assert again == [False, True, False]
        assert await pool.fetchval("SELECT count(*) FROM used_tokens") == 3
    finally:
        await pool.close()


async def test_concurrent_requests_share_one_statement(database_url: str) -> None:
    pool = await create_pool(database_url)
    batcher: Batcher[TokenUse, bool] = Batcher(max_batch=64, parallel=1)
    try:
        uses = [TokenUse("hotline-a", f"jti-{i % 5}", LATER) for i in range(20)]
        answers = await asyncio.gather(
            *(batcher.submit(u, lambda batch: consume_tokens(pool, batch)) for u in uses)
        )
        assert sum(answers) == 5  # each jti answered fresh exactly once
        assert batcher.items == 20
        assert batcher.batches < 20
    finally:
        await pool.close()
