"""The inbox holds a real workload (issue 17): 30 referrals are pages of 25, newest or oldest first; each
row is unread ("New") until its case page was shown, the unread ones can be listed alone, and the case
list marks the cases with something unread and lists them newest first or next due first. Over HTTP,
a real hub on a real PostgreSQL."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path
from typing import Any

from tests.console_helpers import console_for, csrf_of, hub
from tests.factories import jose, takedown

REFERRALS = 30
CASE_LINK = re.compile(r'<td><a href="/cases/([0-9a-f-]{36})">Case')
NEW_ROW = re.compile(r'<tr class="unread">')

__all__ = ["hub"]


async def page(console: Any, path: str) -> str:
    response = await console.get(path)
    assert response.status == 200, await response.text()
    return html_lib.unescape(await response.text())


async def test_thirty_referrals_are_pages_of_the_inbox_each_new_until_shown(
    hub: Any, directory: Any, aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline = await directory.add("de-hotline-workload", "hotline", "DE")
    platform = await directory.add("ie-platform-workload", "platform", "IE")
    case_ids = []
    for _ in range(REFERRALS):
        response = await hub.post("/v1/messages", **jose(hotline.sign(takedown(hotline, platform))))
        assert response.status == 202
        case_ids.append((await response.json())["case_id"])
    console = await console_for(aiohttp_client, hub, platform, tmp_path / "platform")
    inbox = await page(console, "/inbox")
    fetched = await console.post("/inbox/fetch", data={"csrf": csrf_of(inbox), "next": "/inbox"})
    assert f"Fetched {REFERRALS} new messages." in await fetched.text()

    first = await page(console, "/inbox")
    assert f"{REFERRALS} unread" in first
    assert "page 1 of 2 (30 in all)" in first
    newest = CASE_LINK.findall(first)
    assert newest == case_ids[::-1][:25]  # newest first, 25 a page
    assert len(NEW_ROW.findall(first)) == 25
    assert 'href="/inbox?page=2" rel="next"' in first
    second = await page(console, "/inbox?page=2")
    assert CASE_LINK.findall(second) == case_ids[::-1][25:]
    assert 'href="/inbox" rel="prev"' in second
    oldest = await page(console, "/inbox?order=oldest")
    assert CASE_LINK.findall(oldest) == case_ids[:25]

    # Showing a case page reads its messages: the row is no longer new, nor its case in the list
    shown = await page(console, f"/cases/{case_ids[0]}")
    assert '<strong class="new">New</strong> Takedown request' in shown  # new on this showing
    assert '<strong class="new">New</strong>' not in await page(console, f"/cases/{case_ids[0]}")
    unread = await page(console, "/inbox?show=unread")
    assert f"{REFERRALS - 1} unread" in unread
    assert case_ids[0] not in CASE_LINK.findall(unread)
    assert case_ids[0] not in CASE_LINK.findall(await page(console, "/inbox?show=unread&page=2"))
    listed = await page(console, "/cases")
    rows = re.findall(
        r"<tr( class=\"unread\")?>\s*<td>(?:<strong class=\"new\">New</strong> )?"
        r"<a href=\"/cases/([0-9a-f-]{36})\">",
        listed,
    )
    marked = {case_id: bool(flag) for flag, case_id in rows}
    assert marked[case_ids[0]] is False
    assert marked[case_ids[-1]] is True
    assert list(marked) == case_ids[::-1]  # newest first

    # Next due first: each waits for the platform's acknowledgement, the oldest referral's clock ends first
    due = await page(console, "/cases?sort=due")
    assert "Your cases with a deadline running, the soonest due first" in due
    assert '<option value="due" selected>Next due first</option>' in due
    assert re.findall(r'<a href="/cases/([0-9a-f-]{36})">Case', due) == case_ids
