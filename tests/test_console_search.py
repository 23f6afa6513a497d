""" "Find a case" by what a person has at hand (issue 17): the sender's own reference or a content URL,
looked for in the messages the console holds, in memory; the search posts, so a URL is in no address and
no log line. Over HTTP, two consoles and a real hub on a real PostgreSQL."""

from __future__ import annotations

import html as html_lib
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from tests.console_helpers import (
    MESSAGE_ID,
    console_for,
    csrf_of,
    form_body,
    hub,
    takedown_values,
)
from tests.factories import Member

FIRST_URL = "https://photos.example.com/p/search-0001?size=Large"
SECOND_URL = "https://photos.example.com/p/search-0002"

__all__ = ["hub"]


async def refer(console: Any, platform: Member, reference: str, url: str) -> str:
    form = await (await console.get("/new/takedown-request")).text()
    values = {
        **takedown_values(platform.id, **{"/body/authorisation/reference": reference}),
        "/body/content/0/url": url,
        "message_id": MESSAGE_ID.search(form).group(1),  # type: ignore[union-attr]
    }
    sent = await console.post(
        "/new/takedown-request", data=form_body(values, csrf_of(form)), allow_redirects=False
    )
    assert sent.status == 303, await sent.text()
    return str(sent.headers["Location"].removeprefix("/cases/"))


async def find(console: Any, wanted: str) -> Any:
    csrf = csrf_of(await (await console.get("/cases")).text())
    return await console.post("/cases/find", data={"csrf": csrf, "q": wanted}, allow_redirects=False)


async def test_a_case_is_found_by_the_sender_s_reference_or_a_content_url(
    hub: Any, directory: Any, aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline = await directory.add("de-hotline-search", "hotline", "DE")
    platform = await directory.add("ie-platform-search", "platform", "IE")
    console = await console_for(aiohttp_client, hub, hotline, tmp_path / "hotline")
    first = await refer(console, platform, "DE-2026-02001", FIRST_URL)
    second = await refer(console, platform, "DE-2026-02002", SECOND_URL)
    again = await refer(console, platform, "DE-2026-02001", "https://photos.example.com/p/search-0003")

    with capture_logs() as logs:
        by_reference = await find(console, "  de-2026-02002 ")
        by_url = await find(console, "HTTPS://PHOTOS.EXAMPLE.COM/p/search-0001?size=Large#top")
        other_query = await find(console, "https://photos.example.com/p/search-0001?size=large")
        several = await find(console, "DE-2026-02001")
        nothing = await find(console, "DE-2026-09999")
    assert (by_reference.status, by_reference.headers["Location"]) == (303, f"/cases/{second}")
    assert (by_url.status, by_url.headers["Location"]) == (303, f"/cases/{first}")
    assert other_query.status == 422  # the query is the platform's: another one names other content
    assert "no message you sent or received names this content URL" in html_lib.unescape(
        await other_query.text()
    )
    listed = html_lib.unescape(await several.text())
    assert several.status == 200
    assert "Found in 2 cases" in listed
    assert f'<li><a href="/cases/{again}">' in listed
    assert f'<li><a href="/cases/{first}">' in listed
    assert f'<li><a href="/cases/{second}">' not in listed
    assert nothing.status == 422
    assert "nor is it a reference in the messages this console holds" in html_lib.unescape(
        await nothing.text()
    )
    assert "search-0001" not in repr(logs)  # a URL that was looked for is written nowhere
    # an address carries no content URL: only the form looks for one
    in_address = await console.get(f"/cases?q={SECOND_URL}", allow_redirects=False)
    assert in_address.status == 422
    assert "look for a content URL with the Find button" in await in_address.text()

    # The platform finds the referral it received by the hotline's reference
    platform_console = await console_for(aiohttp_client, hub, platform, tmp_path / "platform")
    inbox = await (await platform_console.get("/inbox")).text()
    await platform_console.post("/inbox/fetch", data={"csrf": csrf_of(inbox), "next": "/inbox"})
    found = await find(platform_console, "DE-2026-02002")
    assert (found.status, found.headers["Location"]) == (303, f"/cases/{second}")


async def test_a_console_that_holds_no_message_finds_the_case_at_the_hub(
    hub: Any, directory: Any, aiohttp_client: Any, tmp_path: Path
) -> None:
    """The hub's keyed digests answer for a URL the console's own record does not hold (another desk's
    console, a platform that receives by webhook); a stranger's console finds nothing."""
    hotline = await directory.add("de-hotline-search-hub", "hotline", "DE")
    platform = await directory.add("ie-platform-search-hub", "platform", "IE")
    stranger = await directory.add("nl-platform-search-hub", "platform", "NL")
    sender = await console_for(aiohttp_client, hub, hotline, tmp_path / "desk-1")
    case_id = await refer(sender, platform, "DE-2026-03001", FIRST_URL)
    other_desk = await console_for(aiohttp_client, hub, hotline, tmp_path / "desk-2")
    recipient = await console_for(aiohttp_client, hub, platform, tmp_path / "platform")
    outsider = await console_for(aiohttp_client, hub, stranger, tmp_path / "stranger")
    with capture_logs() as logs:
        at_desk_2 = await find(other_desk, "https://PHOTOS.example.com/p/search-0001?size=Large")
        at_platform = await find(recipient, FIRST_URL)  # nothing fetched yet: its console holds nothing
        at_stranger = await find(outsider, FIRST_URL)
    assert (at_desk_2.status, at_desk_2.headers["Location"]) == (303, f"/cases/{case_id}")
    assert (at_platform.status, at_platform.headers["Location"]) == (303, f"/cases/{case_id}")
    assert at_stranger.status == 422
    assert "search-0001" not in repr(logs)
