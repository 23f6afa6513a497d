"""Hub-side search by content URL (issue 17): `POST /v1/search/cases` finds the caller's cases by a keyed
digest of the URL's normal form; the hub stores no URL for it and logs none; a participant who neither
sent nor received the request finds nothing. Through the API on a real PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from structlog.testing import capture_logs

from hub.api.app import create_app
from hub.api.keys import KEYRING
from hub.core.content_url import url_digest
from tests.factories import jose, takedown
from tests.test_purge import database_holds

URL = "https://photos.example.com/p/search-hub-0001?size=Large"


async def search(client: Any, member: Any, url: object) -> Any:
    return await client.post("/v1/search/cases", json={"content_url": url}, headers=member.auth())


async def test_a_case_is_found_by_a_digest_of_its_content_url(
    aiohttp_client: Any, settings: Any, directory: Any, db: asyncpg.Connection
) -> None:
    hotline = await directory.add("de-hotline-find", "hotline", "DE")
    platform = await directory.add("ie-platform-find", "platform", "IE")
    other = await directory.add("nl-platform-find", "platform", "NL")
    app = create_app(settings, background=False)
    client = await aiohttp_client(app)
    request = takedown(hotline, platform, content=[{"url": URL}, {"url": "https://photos.example.com/p/2"}])
    with capture_logs() as logs:
        accepted = await client.post("/v1/messages", **jose(hotline.sign(request)))
        assert accepted.status == 202, await accepted.text()
        case_id = (await accepted.json())["case_id"]
        by_sender = await search(
            client, hotline, "HTTPS://PHOTOS.example.com:443/p/search-hub-0001?size=Large#x"
        )
        by_recipient = await search(client, platform, URL)
        by_stranger = await search(client, other, URL)
        other_query = await search(client, hotline, URL.replace("Large", "large"))
    found = (await by_sender.json())["cases"]
    assert [(c["case_id"], c["message_id"], c["message_type"]) for c in found] == [
        (case_id, request["id"], "takedown-request")
    ]
    assert [c["case_id"] for c in (await by_recipient.json())["cases"]] == [case_id]
    assert (await by_stranger.json())["cases"] == []  # it was not told: it learns nothing
    assert (await other_query.json())["cases"] == []  # another query string names other content
    assert "search-hub-0001" not in repr(logs)  # neither at intake nor at the search

    # What the hub keeps: one digest per URL, keyed, and the URL nowhere in clear.
    rows = await db.fetch(
        "SELECT digest FROM content_url_digests WHERE message_id = $1", uuid.UUID(request["id"])
    )
    assert {bytes(r["digest"]) for r in rows} == {
        url_digest(app[KEYRING].content_url_key, u) for u in (URL, "https://photos.example.com/p/2")
    }
    assert await database_holds(db, "search-hub-0001") == []


async def test_a_search_that_is_not_a_url_is_refused(
    aiohttp_client: Any, settings: Any, directory: Any
) -> None:
    hotline = await directory.add("de-hotline-find2", "hotline", "DE")
    client = await aiohttp_client(create_app(settings, background=False))
    for wrong in ("DE-2026-02001", 42, None, "https://" + "x" * 9000):
        answer = await search(client, hotline, wrong)
        assert answer.status == 400, wrong
        problem = await answer.json()
        assert problem["type"].endswith("invalid-parameter")
        assert problem["parameter"] == "content_url"
    unauthenticated = await client.post("/v1/search/cases", json={"content_url": URL})
    assert unauthenticated.status == 401
