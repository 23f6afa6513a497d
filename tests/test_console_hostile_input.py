"""Hostile input to the participant console (issue 14, finding 7): its form fields and the sealed values
another participant wrote (which the hub cannot read, so cannot check) never make it answer `500`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.console_helpers import form_body, takedown_values
from tests.factories import Member, sealed_for, takedown
from tests.test_console_http import (  # noqa: F401  (hub and parties are fixtures)
    console_for,
    fetch_inbox,
    hub,
    open_form,
    parties,
)

DIGITS_5000 = "1" * 5000  # beyond Python's 4,300-digit int conversion limit


async def test_a_repeat_count_of_5000_digits_is_ignored(
    hub: Any,  # noqa: F811
    parties: tuple[Member, Member],  # noqa: F811
    aiohttp_client: Any,
    tmp_path: Path,
) -> None:
    hotline, platform = parties
    console = await console_for(aiohttp_client, hub, hotline, tmp_path)
    csrf, message_id = await open_form(console, "/new/takedown-request")
    values = {**takedown_values(platform.id), "message_id": message_id, "count:/body/content": DIGITS_5000}
    page = await console.post("/new/takedown-request", data=form_body(values, csrf, "add:/body/content"))
    assert page.status == 200, await page.text()
    assert 'name="/body/content/0/url"' in await page.text()


async def test_removing_entry_5000_digits_long_is_ignored(
    hub: Any,  # noqa: F811
    parties: tuple[Member, Member],  # noqa: F811
    aiohttp_client: Any,
    tmp_path: Path,
) -> None:
    hotline, platform = parties
    console = await console_for(aiohttp_client, hub, hotline, tmp_path)
    csrf, message_id = await open_form(console, "/new/takedown-request")
    values = {**takedown_values(platform.id), "message_id": message_id}
    posted = form_body(values, csrf, f"remove:/body/content/{DIGITS_5000}")
    page = await console.post("/new/takedown-request", data=posted)
    assert page.status == 200, await page.text()
    assert 'name="/body/content/0/url"' in await page.text()


async def test_a_sealed_value_nested_5000_deep_is_shown_as_unreadable(
    hub: Any,  # noqa: F811
    parties: tuple[Member, Member],  # noqa: F811
    aiohttp_client: Any,
    tmp_path: Path,
) -> None:
    """The hub forwards sealed values it cannot open; the recipient's console reads them strictly."""
    hotline, platform = parties
    hostile = ("[" * 5000 + "]" * 5000).encode()
    envelope = takedown(hotline, platform, contact=sealed_for(platform, plaintext=hostile))
    accepted = await hub.post(
        "/v1/messages", data=hotline.sign(envelope).encode(), headers={"Content-Type": "application/jose"}
    )
    assert accepted.status == 202, await accepted.text()
    case_id = (await accepted.json())["case_id"]
    console = await console_for(aiohttp_client, hub, platform, tmp_path)
    await fetch_inbox(console)  # takes the referral in (a POST)
    page = await console.get(f"/cases/{case_id}")
    html = await page.text()
    assert page.status == 200, html
    assert "it opens, but what it holds is not JSON" in html
