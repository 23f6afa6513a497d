"""`GET /v1/cases/{case_id}/messages`: a party's signed messages of a case, however the hub delivered them
(issue 17: a platform that receives by webhook or e-mail sees its referrals in its own console).

Each item is the inbox's (or the webhook's) item and verifies as one; the messages are those addressed to
the caller and no other; a pull recipient finds here what it took from its inbox, never a new one (the
inbox records the retrieval); reading changes nothing at the hub; a non-party is refused as on the case.
"""

from __future__ import annotations

from typing import Any

from hub.api.app import create_app
from hub.client.verify import verify_inbox_item
from tests.factories import Member, acknowledgement, add_with_endpoint, jose, takedown


async def submitted(client: Any, member: Member, envelope: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/messages", **jose(member.sign(envelope)))
    assert response.status == 202, await response.text()
    receipt: dict[str, Any] = await response.json()
    return receipt


async def messages_of(client: Any, member: Member, case_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/cases/{case_id}/messages", headers=member.auth())
    assert response.status == 200, await response.text()
    found: list[dict[str, Any]] = (await response.json())["messages"]
    return found


async def test_a_pushed_platform_reads_its_own_messages_of_the_case_and_no_other(
    aiohttp_client: Any, settings: Any, directory: Any, db: Any
) -> None:
    hotline = await directory.add("de-hotline-case-messages", "hotline", "DE")
    pushed = await add_with_endpoint(db, "ie-platform-pushed", "platform", "IE")
    other = await add_with_endpoint(db, "nl-platform-pushed", "platform", "NL")
    stranger = await directory.add("fr-hotline-stranger", "hotline", "FR")
    client = await aiohttp_client(create_app(settings, background=False))  # no webhook is attempted
    referral = takedown(hotline, pushed)
    case_id = (await submitted(client, hotline, referral))["case_id"]
    further = {**takedown(hotline, other), "case": case_id}  # a fan-out's part for the other platform
    await submitted(client, hotline, further)

    [item] = await messages_of(client, pushed, case_id)
    assert item["message_id"] == referral["id"]
    directory_keys = await (await client.get(f"/v1/participants/{hotline.id}")).json()
    hub_keys = await (await client.get("/.well-known/jwks.json")).json()
    verified = verify_inbox_item(item, directory_keys["jwks"], hub_keys, recipient=pushed.id)
    assert verified.envelope["body"]["content"] == referral["body"]["content"]
    assert [m["message_id"] for m in await messages_of(client, other, case_id)] == [further["id"]]
    assert await messages_of(client, hotline, case_id) == []  # it sent them; none is addressed to it

    # Reading is no delivery: the platform is still "queued" (its webhook has not been called)
    case = await (await client.get(f"/v1/cases/{case_id}", headers=hotline.auth())).json()
    assert {r["participant_id"]: r["state"] for r in case["recipients"]}[pushed.id] == "queued"

    answer = acknowledgement(pushed, hotline, case_id, referral["id"])
    await submitted(client, pushed, answer)
    taken = await client.post("/v1/inbox/ack", json={"message_ids": [answer["id"]]}, headers=hotline.auth())
    assert taken.status == 200
    assert [m["message_id"] for m in await messages_of(client, hotline, case_id)] == [answer["id"]]
    assert [m["message_id"] for m in await messages_of(client, other, case_id)] == [further["id"]]

    refused = await client.get(f"/v1/cases/{case_id}/messages", headers=stranger.auth())
    assert refused.status == 403
    assert (await refused.json())["type"].endswith("not-a-party")
    unknown = await client.get(
        "/v1/cases/00000000-0000-4000-8000-000000000000/messages", headers=hotline.auth()
    )
    assert unknown.status == 404


async def test_a_pull_recipient_finds_here_what_it_took_from_its_inbox(
    aiohttp_client: Any, settings: Any, directory: Any
) -> None:
    hotline = await directory.add("de-hotline-case-messages", "hotline", "DE")
    platform = await directory.add("ie-platform-pulling", "platform", "IE")
    client = await aiohttp_client(create_app(settings, background=False))
    referral = takedown(hotline, platform)
    case_id = (await submitted(client, hotline, referral))["case_id"]

    assert await messages_of(client, platform, case_id) == []  # new: it is the inbox's to hand over
    ack = {"message_ids": [referral["id"]]}
    assert (await client.post("/v1/inbox/ack", json=ack, headers=platform.auth())).status == 200
    assert [m["message_id"] for m in await messages_of(client, platform, case_id)] == [referral["id"]]
