"""A platform the hub delivers to by webhook sees its referrals in its own console (issue 17): nothing
waits in its pull inbox, yet "Fetch new messages" copies the messages of its cases, checked as any
fetched one, and its case page shows the referral it is asked to act on. Over HTTP, a real hub on a
real PostgreSQL (its webhook never called: the delivery worker is off)."""

from __future__ import annotations

import html as html_lib
from pathlib import Path
from typing import Any

from tests.console_helpers import (
    CONTENT_URL,
    MESSAGE_ID,
    console_for,
    csrf_of,
    form_body,
    hub,
    takedown_values,
)
from tests.factories import add_with_endpoint

__all__ = ["hub"]


async def test_a_platform_served_by_webhook_reads_its_referral_in_its_console(
    hub: Any, directory: Any, db: Any, aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline = await directory.add("de-hotline-pushing", "hotline", "DE")
    platform = await add_with_endpoint(db, "ie-platform-webhook", "platform", "IE")
    hotline_console = await console_for(aiohttp_client, hub, hotline, tmp_path / "hotline")
    platform_console = await console_for(aiohttp_client, hub, platform, tmp_path / "platform")
    form = await (await hotline_console.get("/new/takedown-request")).text()
    values = {**takedown_values(platform.id), "message_id": MESSAGE_ID.search(form).group(1)}  # type: ignore[union-attr]
    sent = await hotline_console.post(
        "/new/takedown-request", data=form_body(values, csrf_of(form)), allow_redirects=False
    )
    assert sent.status == 303, await sent.text()
    case_id = sent.headers["Location"].removeprefix("/cases/")

    inbox = html_lib.unescape(await (await platform_console.get("/inbox")).text())
    assert "Nothing has arrived yet" in inbox
    assert "The hub delivers your organisation's messages by webhook" in inbox
    fetched = await platform_console.post("/inbox/fetch", data={"csrf": csrf_of(inbox), "next": "/inbox"})
    inbox = html_lib.unescape(await fetched.text())
    assert "Fetched 1 new message." in inbox
    assert f'href="/cases/{case_id}"' in inbox
    assert "Takedown request" in inbox

    page = html_lib.unescape(await (await platform_console.get(f"/cases/{case_id}")).text())
    assert CONTENT_URL in page
    assert "signature and hub receipt verified" in page
    assert "Report a decision" in page
    again = await platform_console.post("/inbox/fetch", data={"csrf": csrf_of(page), "next": "/inbox"})
    assert "No new messages." in await again.text()  # copied once, kept once


async def test_the_case_page_copies_what_reached_the_platform_by_webhook(
    hub: Any, directory: Any, db: Any, aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline = await directory.add("de-hotline-pushing", "hotline", "DE")
    platform = await add_with_endpoint(db, "ie-platform-webhook", "platform", "IE")
    hotline_console = await console_for(aiohttp_client, hub, hotline, tmp_path / "hotline")
    platform_console = await console_for(aiohttp_client, hub, platform, tmp_path / "platform")
    form = await (await hotline_console.get("/new/takedown-request")).text()
    values = {**takedown_values(platform.id), "message_id": MESSAGE_ID.search(form).group(1)}  # type: ignore[union-attr]
    sent = await hotline_console.post(
        "/new/takedown-request", data=form_body(values, csrf_of(form)), allow_redirects=False
    )
    case_id = sent.headers["Location"].removeprefix("/cases/")

    page = html_lib.unescape(await (await platform_console.get(f"/cases/{case_id}")).text())
    assert "This console holds no signed message of this case." not in page
    assert CONTENT_URL in page
    assert list((tmp_path / "platform" / "messages" / case_id).glob("*.json"))
