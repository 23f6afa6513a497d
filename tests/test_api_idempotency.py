"""Idempotency under concurrency: the same message submitted at once is stored once, and every
submission gets the same receipt."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.api.app import create_app
from tests.conftest import table_counts
from tests.factories import jose, takedown


async def test_concurrent_duplicates_store_one_message(
    aiohttp_client: Any, settings: Any, directory: Any, db: Any
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    client = await aiohttp_client(create_app(settings, background=False))
    signed = hotline.sign(takedown(hotline, platform))

    responses = await asyncio.gather(*(client.post("/v1/messages", **jose(signed)) for _ in range(8)))
    assert [r.status for r in responses] == [202] * 8
    receipts = {(await r.json())["receipt"] for r in responses}
    assert len(receipts) == 1
    counts = await table_counts(db)
    assert (counts["cases"], counts["messages"], counts["deliveries"]) == (1, 1, 1)


async def test_a_refused_duplicate_leaves_the_original_untouched(
    aiohttp_client: Any, settings: Any, directory: Any, db: Any
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    client = await aiohttp_client(create_app(settings, background=False))
    original = takedown(hotline, platform)
    first = await (await client.post("/v1/messages", **jose(hotline.sign(original)))).json()
    before = await table_counts(db)

    altered = {**original, "body": {**original["body"], "notes": "changed after sending"}}
    conflict = await client.post("/v1/messages", **jose(hotline.sign(altered)))
    assert conflict.status == 409
    assert (await conflict.json())["type"] == "urn:referral-hub:problem:duplicate-id"
    assert await table_counts(db) == before
    again = await (await client.post("/v1/messages", **jose(hotline.sign(original)))).json()
    assert again == first
