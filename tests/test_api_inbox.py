"""The pull inbox: oldest first, cursor paging, long-poll woken by NOTIFY, ack and retrieval state."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.api.app import create_app
from tests.factories import jose, takedown


async def test_inbox_pages_oldest_first_with_a_cursor(
    aiohttp_client: Any, settings: Any, directory: Any
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    client = await aiohttp_client(create_app(settings, background=False))
    sent = []
    for _ in range(5):
        envelope = takedown(hotline, platform)
        assert (await client.post("/v1/messages", **jose(hotline.sign(envelope)))).status == 202
        sent.append(envelope["id"])

    first = await (await client.get("/v1/inbox?limit=2", headers=platform.auth())).json()
    second = await (
        await client.get(f"/v1/inbox?limit=2&cursor={first['cursor']}", headers=platform.auth())
    ).json()
    third = await (
        await client.get(f"/v1/inbox?limit=2&cursor={second['cursor']}", headers=platform.auth())
    ).json()
    rest = await (await client.get(f"/v1/inbox?cursor={third['cursor']}", headers=platform.auth())).json()
    pages = [first, second, third]
    assert [m["message_id"] for p in pages for m in p["messages"]] == sent
    assert rest == {"messages": [], "cursor": third["cursor"]}

    # Unacknowledged messages stay: a reader starting over sees them all again.
    again = await (await client.get("/v1/inbox", headers=platform.auth())).json()
    assert len(again["messages"]) == 5
    # The sender's inbox holds none of them.
    assert (await (await client.get("/v1/inbox", headers=hotline.auth())).json())["messages"] == []


async def test_ack_removes_from_inbox_and_marks_the_recipient_retrieved(
    aiohttp_client: Any, settings: Any, directory: Any
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    client = await aiohttp_client(create_app(settings, background=False))
    envelope = takedown(hotline, platform)
    receipt = await (await client.post("/v1/messages", **jose(hotline.sign(envelope)))).json()

    ack = {"message_ids": [envelope["id"]]}
    first = await client.post("/v1/inbox/ack", json=ack, headers=platform.auth())
    assert (await first.json()) == {"retrieved": [envelope["id"]]}
    second = await client.post("/v1/inbox/ack", json=ack, headers=platform.auth())
    assert (await second.json()) == {"retrieved": []}  # idempotent: nothing new retrieved

    case = await (await client.get(f"/v1/cases/{receipt['case_id']}", headers=hotline.auth())).json()
    assert case["recipients"][0]["state"] == "retrieved"
    retrievals = [e for e in case["timeline"] if e["event"] == "message.retrieved"]
    assert [(e["actor"], e["message_id"]) for e in retrievals] == [(platform.id, envelope["id"])]


async def test_long_poll_wakes_when_a_message_arrives(
    aiohttp_client: Any, settings: Any, directory: Any
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    client = await aiohttp_client(create_app(settings, background=False))
    envelope = takedown(hotline, platform)

    waiting = asyncio.create_task(client.get("/v1/inbox?wait=30", headers=platform.auth()))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # nothing there yet: the request is held open
    assert (await client.post("/v1/messages", **jose(hotline.sign(envelope)))).status == 202
    response = await asyncio.wait_for(waiting, 10)  # far less than the 30 s wait: NOTIFY woke it
    assert [m["message_id"] for m in (await response.json())["messages"]] == [envelope["id"]]


async def test_long_poll_returns_empty_after_its_wait(
    aiohttp_client: Any, settings: Any, directory: Any
) -> None:
    platform = await directory.add("ie-platform-test", "platform", "IE")
    client = await aiohttp_client(create_app(settings, background=False))
    response = await client.get("/v1/inbox?wait=1", headers=platform.auth())
    assert response.status == 200
    assert (await response.json())["messages"] == []
