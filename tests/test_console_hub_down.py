"""The hub is down when a person presses "Check, sign and send" (issue 17): the filled form stays, the
page says that nothing was sent, and the console keeps no message. Over HTTP: a real hub on a real
PostgreSQL, stopped between opening the form and sending it."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path
from typing import Any

from tests.console_helpers import (
    MESSAGE_ID,
    console_for,
    csrf_of,
    form_body,
    hub,
    takedown_values,
)

NOTHING_SENT = "The hub cannot be reached: nothing was sent"

__all__ = ["hub"]


def kept_messages(data_dir: Path) -> list[Path]:
    return list((data_dir / "messages").glob("*/*.json"))


async def test_a_new_referral_sent_while_the_hub_is_down_stays_filled_in(
    hub: Any, directory: Any, aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline = await directory.add("de-hotline-down", "hotline", "DE")
    platform = await directory.add("ie-platform-down", "platform", "IE")
    console = await console_for(aiohttp_client, hub, hotline, tmp_path / "hotline")
    form = await (await console.get("/new/takedown-request")).text()
    message_id = MESSAGE_ID.search(form).group(1)  # type: ignore[union-attr]
    values = {**takedown_values(platform.id), "message_id": message_id}
    await hub.close()  # the hub goes down while the person fills in the form

    sent = await console.post("/new/takedown-request", data=form_body(values, csrf_of(form)))
    assert sent.status == 503
    page = html_lib.unescape(await sent.text())
    assert NOTHING_SENT in page
    assert "The hub refused" not in page
    # what was typed is there to send again, under the same message id (the same message, never a second)
    assert 'value="CONSOLE-TEST-0001"' in page
    assert re.search(rf'name="/to" value="{platform.id}" checked', page)
    assert f'name="message_id" value="{message_id}"' in page
    assert kept_messages(tmp_path / "hotline") == []


async def test_an_answer_sent_while_the_hub_is_down_stays_filled_in(
    hub: Any, directory: Any, aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline = await directory.add("de-hotline-down-answer", "hotline", "DE")
    platform = await directory.add("ie-platform-down-answer", "platform", "IE")
    hotline_console = await console_for(aiohttp_client, hub, hotline, tmp_path / "hotline")
    platform_console = await console_for(aiohttp_client, hub, platform, tmp_path / "platform")
    form = await (await hotline_console.get("/new/takedown-request")).text()
    values = {**takedown_values(platform.id), "message_id": MESSAGE_ID.search(form).group(1)}  # type: ignore[union-attr]
    sent = await hotline_console.post(
        "/new/takedown-request", data=form_body(values, csrf_of(form)), allow_redirects=False
    )
    assert sent.status == 303, await sent.text()
    case_id = sent.headers["Location"].removeprefix("/cases/")
    path = f"/cases/{case_id}/reply/status-update"
    page = await (await platform_console.get(path)).text()
    decision = {
        "message_id": MESSAGE_ID.search(page).group(1),  # type: ignore[union-attr]
        "/body/status": "actioned",
        "/body/action": "removed",
        "/body/decided_at": "2026-01-05T11:00:00Z",
    }
    await hub.close()

    for action in ("send", "sign"):  # the form's button, and "Sign and send" on the review page
        answered = await platform_console.post(path, data=form_body(decision, csrf_of(page), action))
        assert answered.status == 503, action
        shown = html_lib.unescape(await answered.text())
        assert NOTHING_SENT in shown
        assert 'value="2026-01-05T11:00:00Z"' in shown
        assert f'href="/cases/{case_id}"' in shown
    assert kept_messages(tmp_path / "platform") == []
