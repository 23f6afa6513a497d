"""Issue 16.7 in the console: a new takedown request to several platforms is sent as one signed message
per platform under one case, each with only the items on its own service (by the domains each platform
registered), its contact sealed to it alone; sent again, it is those messages, never a second case.
Over HTTP, against a real hub on a real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hub.core.jose import b64url_decode
from hub.core.sealing import unseal
from hub.store import directory as directory_store
from tests.conftest import table_counts
from tests.console_helpers import (
    CONTACT_EMAIL,
    MESSAGE_ID,
    console_for,
    csrf_of,
    form_body,
    hub,
)
from tests.console_helpers import takedown_values as form_values
from tests.factories import Directory, Member, payload_of

URLS = {
    "ie-platform-photos": "https://photos.example.com/p/console-fan-0001",
    "us-platform-video": "https://video.example.org/v/console-fan-0002",
}

__all__ = ["hub"]


@pytest.fixture
async def cast(directory: Directory, db: asyncpg.Connection) -> tuple[Member, Member, Member]:
    hotline = await directory.add("de-hotline-fan", "hotline", "DE")
    photos = await directory.add("ie-platform-photos", "platform", "IE")
    video = await directory.add("us-platform-video", "platform", "US")
    await directory_store.update_participant(db, photos.id, add_domains=["photos.example.com"])
    await directory_store.update_participant(db, video.id, add_domains=["example.org"])
    return hotline, photos, video


async def opened_form(console: Any) -> tuple[str, str]:
    html = await (await console.get("/new/takedown-request")).text()
    found = MESSAGE_ID.search(html)
    assert found
    return csrf_of(html), found.group(1)


def two_items(*platforms: Member, **overrides: str) -> dict[str, Any]:
    """The form to `platforms`, with one reported item on each platform's service."""
    return form_values(
        *(p.id for p in platforms),
        **{
            "count:/body/content": "2",
            "/body/content/0/url": URLS["ie-platform-photos"],
            "/body/content/1/url": URLS["us-platform-video"],
            **overrides,
        },
    )


async def inbox(hub: Any, member: Member) -> list[dict[str, Any]]:
    page = await (await hub.get("/v1/inbox", headers=member.auth())).json()
    return list(page["messages"])


async def test_a_takedown_to_two_platforms_is_one_message_each_with_only_its_own_items(
    hub: Any, cast: tuple[Member, Member, Member], aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline, photos, video = cast
    console = await console_for(aiohttp_client, hub, hotline, tmp_path)
    csrf, token = await opened_form(console)
    posted = form_body({**two_items(photos, video), "message_id": token}, csrf)

    sent = await console.post("/new/takedown-request", data=posted, allow_redirects=False)

    assert sent.status == 303, await sent.text()
    case_id = sent.headers["Location"].removeprefix("/cases/")
    page = await (await console.get(sent.headers["Location"])).text()
    assert "sent as 2 messages under one case, one per platform" in page
    for platform, other in ((photos, video), (video, photos)):
        [item] = await inbox(hub, platform)
        envelope = payload_of(item["message"])
        assert item["case_id"] == case_id
        assert envelope["to"] == [platform.id]
        assert envelope["body"]["content"] == [{"url": URLS[platform.id]}]
        # nothing of the other platform's part: not its URL, not its id (no sealed copy for it either)
        assert URLS[other.id] not in json.dumps(envelope)
        assert other.id not in json.dumps(envelope)
        [copy] = envelope["body"]["contact"]["sealed"]
        assert copy["to"] == platform.id
        opened = json.loads(unseal(b64url_decode(copy["ciphertext"]), platform.enc))
        assert opened == {"email": CONTACT_EMAIL}
    # The first part opened the case, the second joined it: the hotline sees one case, both platforms.
    view = await (await hub.get(f"/v1/cases/{case_id}", headers=hotline.auth())).json()
    assert sorted(r["participant_id"] for r in view["recipients"]) == [photos.id, video.id]
    listed = await (await hub.get("/v1/cases", headers=hotline.auth())).json()
    assert [c["case_id"] for c in listed["cases"]] == [case_id]

    # Sent again (a double click, Back and send): the same two messages, no second case.
    again = await console.post("/new/takedown-request", data=posted, allow_redirects=False)
    assert (again.status, again.headers["Location"]) == (303, sent.headers["Location"])
    assert "This form was already sent" in await (await console.get(again.headers["Location"])).text()
    assert [len(await inbox(hub, p)) for p in (photos, video)] == [1, 1]
    listed = await (await hub.get("/v1/cases", headers=hotline.auth())).json()
    assert len(listed["cases"]) == 1


async def test_an_item_on_none_of_the_chosen_platforms_is_said_at_its_field_and_nothing_is_sent(
    hub: Any,
    cast: tuple[Member, Member, Member],
    aiohttp_client: Any,
    tmp_path: Path,
    db: asyncpg.Connection,
) -> None:
    hotline, photos, video = cast
    console = await console_for(aiohttp_client, hub, hotline, tmp_path)
    csrf, token = await opened_form(console)
    elsewhere = two_items(photos, video, **{"/body/content/1/url": "https://files.example.net/f/0003"})
    before = await table_counts(db)

    refused = await console.post(
        "/new/takedown-request", data=form_body({**elsewhere, "message_id": token}, csrf)
    )

    assert refused.status == 422
    html = await refused.text()
    assert "cannot tell which of the chosen platforms this item is on" in html
    assert 'id="f-body-content-1-url"' in html
    assert await table_counts(db) == before
    assert [await inbox(hub, p) for p in (photos, video)] == [[], []]


async def test_a_chosen_platform_with_no_item_on_its_service_is_said_at_the_recipients(
    hub: Any,
    cast: tuple[Member, Member, Member],
    aiohttp_client: Any,
    tmp_path: Path,
    db: asyncpg.Connection,
) -> None:
    """Both items are on the photos platform: sent as one message the video platform would read them,
    sent apart it would get nothing to act on. The form says so and sends nothing."""
    hotline, photos, video = cast
    console = await console_for(aiohttp_client, hub, hotline, tmp_path)
    csrf, token = await opened_form(console)
    same_service = two_items(photos, video, **{"/body/content/1/url": "https://photos.example.com/p/0004"})
    before = await table_counts(db)

    refused = await console.post(
        "/new/takedown-request", data=form_body({**same_service, "message_id": token}, csrf)
    )

    assert refused.status == 422
    html = await refused.text()
    assert f"no item of this request is on the service of {video.id}" in html
    assert await table_counts(db) == before
    assert [await inbox(hub, p) for p in (photos, video)] == [[], []]
