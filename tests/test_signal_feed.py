"""The hash-signal feed (`GET /v1/signals`, issue 19.2): an opaque cursor over the append-only change log,
one item per change with the copy's full current record, paging that never skips or repeats a change,
even when changes commit in another order than they were made."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import asyncpg

from hub.api.app import create_app
from hub.api.keys import POOL
from hub.policies import load_retention_policy
from hub.store.purge import purge_due_cases
from tests.factories import FakeClock, Member, jose, removal, takedown, withdrawal

URL = "https://photos.example.com/p/feed-marker-0001"


def pdq(n: int) -> str:
    """A fictitious PDQ, distinct per n (not of any real image)."""
    return f"{n:064x}".replace("0", "a")


def hashed(*values: str) -> list[dict[str, Any]]:
    return [{"url": URL, "hashes": [{"alg": "pdq", "value": v}]} for v in values]


async def read_all(client: Any, member: Member, cursor: str = "", limit: int = 100, **auth: Any) -> Any:
    """Every page from `cursor` until `more` is false: (items, pages, last cursor)."""
    items, pages = [], 0
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = await client.get(f"/v1/signals{query}", headers=member.auth(**auth))
        assert response.status == 200, await response.text()
        page = await response.json()
        items += page["signals"]
        pages += 1
        cursor = page["cursor"]
        if not page["more"]:
            return items, pages, cursor


async def test_the_feed_pages_every_change_once_oldest_first_with_the_current_record(
    aiohttp_client: Any, settings: Any, directory: Any, db: asyncpg.Connection
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    opted = await directory.add("nl-platform-test", "platform", "NL")
    await db.execute("UPDATE participants SET hash_signals = true WHERE id = $1", opted.id)
    client = await aiohttp_client(create_app(settings, background=False))
    first = takedown(hotline, platform, content=hashed(pdq(1), pdq(2)), hash_sharing_consent=True)
    case_id = (await (await client.post("/v1/messages", **jose(hotline.sign(first)))).json())["case_id"]
    second = takedown(hotline, platform, content=hashed(pdq(3)))
    assert (await client.post("/v1/messages", **jose(hotline.sign(second)))).status == 202
    # The first request is withdrawn: its two signals change again on both platforms' feeds.
    back = withdrawal(hotline, [platform], case_id)
    assert (await client.post("/v1/messages", **jose(hotline.sign(back)))).status == 202

    items, pages, cursor = await read_all(client, platform, limit=2)
    assert pages == 3  # 5 changes, 2 a page: the third page is not full
    listed = [(i["value"], i["status"]) for i in items]
    # The first request's two signals made active, each listed with its current record; the second's;
    # then the first request's withdrawal (changes made in one statement come in either order).
    assert set(listed[:2]) == set(listed[3:]) == {(pdq(1), "withdrawn"), (pdq(2), "withdrawn")}
    assert listed[2] == (pdq(3), "active")
    one = next(i for i in items if i["value"] == pdq(1))
    assert one["audience"] == "recipient"
    assert (one["case_id"], one["message_id"], one["content_item"]) == (case_id, first["id"], 0)
    assert [h["status"] for h in one["history"]] == ["active", "withdrawn"]
    assert one["status_changed_at"] == one["history"][-1]["at"]
    assert one["signal_type"] == "pdq"
    uuid.UUID(one["signal_id"])
    # Nothing further, and the cursor stays where it is.
    again = await (await client.get(f"/v1/signals?cursor={cursor}", headers=platform.auth())).json()
    assert again == {"signals": [], "cursor": cursor, "more": False}

    # The platform that opted in sees the consented request's hashes and their withdrawal, nothing of the
    # request: no case, no request, no URL.
    response = await client.get("/v1/signals", headers=opted.auth())
    text = await response.text()
    theirs = json.loads(text)["signals"]
    assert sorted((i["value"], i["status"], i["audience"]) for i in theirs) == [
        (pdq(1), "withdrawn", "opted-in"),
        (pdq(1), "withdrawn", "opted-in"),
        (pdq(2), "withdrawn", "opted-in"),
        (pdq(2), "withdrawn", "opted-in"),
    ]
    assert not {"case_id", "message_id", "content_item"} & set(theirs[0])
    assert URL not in text
    assert "photos.example.com" not in text
    # The sender has no copies.
    assert (await (await client.get("/v1/signals", headers=hotline.auth())).json())["signals"] == []


async def test_a_change_that_commits_after_a_later_one_is_not_skipped(
    aiohttp_client: Any, settings: Any, directory: Any, db: asyncpg.Connection, database_url: str
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    clock = FakeClock()
    app = create_app(settings, clock=clock, background=False)
    client = await aiohttp_client(app)
    old = takedown(hotline, platform, content=hashed(pdq(1)))
    case_id = (await (await client.post("/v1/messages", **jose(hotline.sign(old)))).json())["case_id"]
    decided = removal(platform, hotline, case_id, old["id"])
    assert (await client.post("/v1/messages", **jose(platform.sign(decided)))).status == 202
    seen, _, cursor = await read_all(client, platform, now=clock.ts())
    assert [(i["value"], i["status"]) for i in seen] == [(pdq(1), "active")]
    clock.now += timedelta(days=400)

    # The purge of the old case writes its change (`deleted`), then waits, uncommitted, on a lock held
    # here; meanwhile a new request's change is made and committed.
    holder = await asyncpg.connect(database_url)
    blocker = holder.transaction()
    await blocker.start()
    await holder.execute("LOCK TABLE purges IN SHARE MODE")
    purging = asyncio.create_task(purge_due_cases(app[POOL], load_retention_policy(), clock()))
    await until_waiting_on_lock(db, "INSERT INTO purges")
    new = takedown(hotline, platform, content=hashed(pdq(2)))
    assert (await client.post("/v1/messages", **jose(hotline.sign(new)))).status == 202

    middle, _, cursor = await read_all(client, platform, cursor, now=clock.ts())
    assert [(i["value"], i["status"]) for i in middle] == [(pdq(2), "active")]
    await blocker.commit()
    await holder.close()
    assert await purging == [uuid.UUID(case_id)]

    # The purge's change was made first (a lower id) but committed last: it comes after the cursor.
    rest, _, _ = await read_all(client, platform, cursor, now=clock.ts())
    assert [(i["signal_id"], i["value"], i["status"]) for i in rest] == [
        (seen[0]["signal_id"], None, "deleted")
    ]
    ids = await db.fetch("SELECT status, id FROM signal_changes ORDER BY seq")
    assert [r["status"] for r in ids] == ["active", "active", "deleted"]
    assert ids[2]["id"] < ids[1]["id"]  # in id order, a reader at the new request's change skips it


async def until_waiting_on_lock(db: asyncpg.Connection, statement: str) -> None:
    """Until a backend running `statement` waits on a lock (a condition, polled; not a timing)."""
    for _ in range(2000):
        waiting = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1",
            statement + "%",
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no backend ever waited on a lock running {statement}")


async def test_a_cursor_the_hub_did_not_give_is_refused_and_reading_on_confirms_receipt(
    aiohttp_client: Any, settings: Any, directory: Any, db: asyncpg.Connection
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    client = await aiohttp_client(create_app(settings, background=False))
    request = takedown(hotline, platform, content=hashed(pdq(1)))
    assert (await client.post("/v1/messages", **jose(hotline.sign(request)))).status == 202

    for bad in ("42", "sig1.-1", "sig1.x", "sig1." + "9" * 30):
        response = await client.get(f"/v1/signals?cursor={bad}", headers=platform.auth())
        problem = await response.json()
        assert (response.status, problem["type"]) == (400, "urn:referral-hub:problem:invalid-parameter")
        assert problem["parameter"] == "cursor"
    ahead = await client.get("/v1/signals?cursor=sig1.999", headers=platform.auth())
    assert ahead.status == 409
    assert (await ahead.json())["type"] == "urn:referral-hub:problem:cursor-beyond-feed"
    assert (await client.get("/v1/signals")).status == 401
    assert (await client.get("/v1/signals?limit=0", headers=platform.auth())).status == 400

    page = await (await client.get("/v1/signals", headers=platform.auth())).json()
    assert await db.fetchval("SELECT count(*) FROM signal_feed_positions") == 0  # read, not yet confirmed
    await client.get(f"/v1/signals?cursor={page['cursor']}", headers=platform.auth())
    position = await db.fetchrow("SELECT platform_id, position FROM signal_feed_positions")
    assert position["platform_id"] == platform.id
    assert f"sig1.{position['position']}" == page["cursor"]


async def test_no_feed_carries_a_content_url_and_a_non_recipient_learns_no_request(
    aiohttp_client: Any, settings: Any, directory: Any, db: asyncpg.Connection
) -> None:
    """Two requests, each to one platform, both with consent to share the hashes; every platform opted in,
    and one that did not. Each platform's feed, read whole: no URL anywhere (not even of its own
    request); of the request not addressed to it, the hashes only (no case, request or item); the
    platform that did not opt in sees nothing of a request not addressed to it."""
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    first = await directory.add("ie-platform-test", "platform", "IE")
    second = await directory.add("nl-platform-test", "platform", "NL")
    bystander = await directory.add("fr-platform-test", "platform", "FR")
    await db.execute(
        "UPDATE participants SET hash_signals = true WHERE id = ANY($1::text[])", [first.id, second.id]
    )
    client = await aiohttp_client(create_app(settings, background=False))
    urls = {
        first.id: "https://photos.example.com/p/first-marker",
        second.id: "https://video.example.net/v/second-marker",
    }
    values = {first.id: pdq(11), second.id: pdq(12)}
    for platform in (first, second):
        content = [{"url": urls[platform.id], "hashes": [{"alg": "pdq", "value": values[platform.id]}]}]
        request = takedown(hotline, platform, content=content, hash_sharing_consent=True)
        assert (await client.post("/v1/messages", **jose(hotline.sign(request)))).status == 202
    for platform, other in ((first, second), (second, first)):
        text = await (await client.get("/v1/signals", headers=platform.auth())).text()
        for url in urls.values():
            assert url not in text
        assert "photos.example.com" not in text
        assert "video.example.net" not in text
        items = json.loads(text)["signals"]
        own = [i for i in items if i["value"] == values[platform.id]]
        theirs = [i for i in items if i["value"] == values[other.id]]
        assert [i["audience"] for i in own] == ["recipient"]
        assert [i["audience"] for i in theirs] == ["opted-in"]
        assert not {"case_id", "message_id", "content_item"} & set(theirs[0])
    quiet = await (await client.get("/v1/signals", headers=bystander.auth())).json()
    assert quiet["signals"] == []
