"""Routing selectors through the API: the hotline or regulator of a country, and the platforms that serve
the content's domains (one request per platform, one case for them all). Unknown and ambiguous
routes are refused with a clear error that points at the locator and never quotes its URL."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from hub.api.app import create_app
from hub.core.refusal import Refusal
from hub.core.routing import RouteCandidate, resolve_route
from hub.settings import Settings
from hub.store import directory as directory_store
from hub.store.directory import DirectoryError
from tests.conftest import table_counts
from tests.factories import (
    Api,
    Directory,
    FakeClock,
    Member,
    assistance_request,
    deadline_of,
    payload_of,
    removal,
    routed,
    takedown,
    withdrawal,
)


@pytest_asyncio.fixture
async def api(settings: Settings, db: asyncpg.Connection, aiohttp_client: Any) -> Api:
    clock = FakeClock()
    return Api(await aiohttp_client(create_app(settings, clock=clock, background=False)), clock)


def content(*urls: str) -> list[dict[str, Any]]:
    return [{"url": url} for url in urls]


def receipt_to(accepted: dict[str, Any]) -> list[str]:
    return list(payload_of(accepted["receipt"])["to"])


# -- by kind and country ----------------------------------------------------------------------------------
async def test_an_assistance_request_routed_to_the_hotline_of_germany(api: Api, directory: Directory) -> None:
    sender = await directory.add("fr-hotline-test", "hotline", "FR")
    german = await directory.add("de-hotline-test", "hotline", "DE")
    await directory.add("de-support-test", "support-service", "DE")  # another kind in Germany
    await directory.add("at-hotline-test", "hotline", "AT")  # a hotline elsewhere
    request = routed(assistance_request(sender, german), {"kind": "hotline", "country": "DE"})
    assert "to" not in request

    accepted = await api.accepted(sender, request)

    assert receipt_to(accepted) == [german.id]
    view = await api.case(sender, accepted["case_id"])
    assert [r["participant_id"] for r in view["recipients"]] == [german.id]
    [item] = await api.inbox(german)
    assert (item["message_id"], item["type"]) == (request["id"], "assistance-request")


async def test_a_route_with_no_participant_is_unroutable(
    api: Api, directory: Directory, db: asyncpg.Connection
) -> None:
    sender = await directory.add("fr-hotline-test", "hotline", "FR")
    german = await directory.add("de-hotline-test", "hotline", "DE")
    before = await table_counts(db)

    problem = await api.refused(
        sender, routed(assistance_request(sender, german), {"kind": "hotline", "country": "PL"}), "unroutable"
    )

    assert "PL" in problem["detail"]
    assert problem["status"] == 422
    assert await table_counts(db) == before


async def test_the_sender_is_never_its_own_route(api: Api, directory: Directory) -> None:
    german = await directory.add("de-hotline-test", "hotline", "DE")
    other = await directory.add("at-hotline-test", "hotline", "AT")
    await api.refused(
        german, routed(assistance_request(german, other), {"kind": "hotline", "country": "DE"}), "unroutable"
    )


async def test_two_participants_of_the_kind_are_an_ambiguous_route(
    api: Api, directory: Directory, db: asyncpg.Connection
) -> None:
    sender = await directory.add("fr-hotline-test", "hotline", "FR")
    one = await directory.add("at-hotline-b", "hotline", "AT")
    await directory.add("at-hotline-a", "hotline", "AT")
    before = await table_counts(db)

    problem = await api.refused(
        sender,
        routed(assistance_request(sender, one), {"kind": "hotline", "country": "AT"}),
        "ambiguous-route",
    )

    assert problem["candidates"] == ["at-hotline-a", "at-hotline-b"]
    assert "`to`" in problem["detail"]
    assert await table_counts(db) == before


# -- by content -------------------------------------------------------------------------------------------
async def platforms(directory: Directory, db: asyncpg.Connection) -> tuple[Member, Member, Member]:
    """example.net (and its subdomains), special.example.net (more specific), other.org."""
    broad = await directory.add("platform-broad", "platform", "IE")
    special = await directory.add("platform-special", "platform", "US")
    other = await directory.add("platform-other", "platform", "GB")
    await directory_store.update_participant(db, broad.id, add_domains=["example.net"])
    await directory_store.update_participant(db, special.id, add_domains=["Special.Example.NET"])
    await directory_store.update_participant(db, other.id, add_domains=["other.org"])
    return broad, special, other


async def test_content_on_three_platforms_is_refused_whole_and_taken_as_one_part_per_platform(
    api: Api, directory: Directory, db: asyncpg.Connection
) -> None:
    hotline = await directory.add("us-hotline-test", "hotline", "US")
    broad, special, other = await platforms(directory, db)
    urls = {
        broad.id: ("https://cdn.example.net/i/0001.jpg", "https://EXAMPLE.net:8443/again/0004"),
        special.id: ("https://img.special.example.net/p/0002",),  # the more specific registration wins
        other.id: ("https://www.other.org/v/0003",),
    }
    every_url = [url for own in urls.values() for url in own]
    whole = routed(takedown(hotline, broad, content=content(*every_url)), {"by": "content"})
    before = await table_counts(db)

    problem = await api.refused(hotline, whole, "split-per-recipient")

    assert problem["platforms"] == sorted(urls)
    assert await table_counts(db) == before

    # One request per platform, each routed by its own content: the first opens the case, the others join.
    first = routed(
        takedown(hotline, broad, content=content(*urls[broad.id]), jurisdictions=["US"]), {"by": "content"}
    )
    opened = await api.accepted(hotline, first)
    case_id = opened["case_id"]
    parts = {broad.id: first}
    for platform in (special, other):
        part = routed(takedown(hotline, platform, content=content(*urls[platform.id])), {"by": "content"})
        part["case"] = case_id
        joined = await api.accepted(hotline, part)
        assert (joined["case_id"], receipt_to(joined)) == (case_id, [platform.id])
        parts[platform.id] = part
    assert receipt_to(opened) == [broad.id]
    assert await db.fetchval("SELECT count(*) FROM cases") == 1
    view = await api.case(hotline, case_id)
    assert view["status"] == "open"
    assert sorted(r["participant_id"] for r in view["recipients"]) == sorted(urls)
    for platform in (broad, special, other):
        party = next(r for r in view["recipients"] if r["participant_id"] == platform.id)
        assert sorted(d["deadline"] for d in party["deadlines"]) == ["acknowledge", "act"]
        assert deadline_of(view, platform.id, "act")["rule"] == "us-take-it-down-removal"
        [item] = await api.inbox(platform)
        assert item["message_id"] == parts[platform.id]["id"]
        seen = [c["url"] for c in payload_of(item["message"])["body"]["content"]]
        assert seen == list(urls[platform.id])  # its own locators, never another platform's
    assert await db.fetchval("SELECT count(DISTINCT id) FROM deadlines") == 6

    # Each platform answers its own part: one's decision moves only its own clock.
    await api.accepted(special, removal(special, hotline, case_id, parts[special.id]["id"]))
    view = await api.case(hotline, case_id)
    assert deadline_of(view, special.id, "act")["state"] == "met"
    assert deadline_of(view, broad.id, "act")["state"] == "open"
    assert deadline_of(view, other.id, "act")["state"] == "open"


async def test_a_further_part_is_the_originator_s_for_a_new_recipient(
    api: Api, directory: Directory, db: asyncpg.Connection
) -> None:
    hotline = await directory.add("us-hotline-test", "hotline", "US")
    stranger = await directory.add("gb-hotline-test", "hotline", "GB")
    broad, special, _ = await platforms(directory, db)
    case_id = (await api.accepted(hotline, takedown(hotline, broad, jurisdictions=["US"])))["case_id"]

    def part(sender: Member, platform: Member) -> dict[str, Any]:
        return {**takedown(sender, platform), "case": case_id}

    await api.refused(stranger, part(stranger, special), "not-a-party")
    await api.refused(hotline, part(hotline, broad), "invalid-recipient")  # already its recipient
    await api.refused(hotline, {**part(hotline, special), "case": str(uuid.uuid4())}, "unknown-case")
    await api.accepted(hotline, part(hotline, special))
    [item] = await api.inbox(special)
    assert item["case_id"] == case_id


async def test_content_on_an_unknown_domain_is_unroutable_without_quoting_the_url(
    api: Api, directory: Directory, db: asyncpg.Connection
) -> None:
    hotline = await directory.add("us-hotline-test", "hotline", "US")
    broad, _, _ = await platforms(directory, db)
    secret = "https://private-gallery.example.invalid/victim-0042.jpg"
    request = routed(
        takedown(hotline, broad, content=content("https://cdn.example.net/ok", secret)), {"by": "content"}
    )
    before = await table_counts(db)

    response = await api.client.post("/v1/messages", data=hotline.sign(request).encode(), headers=JOSE)
    text = await response.text()

    assert response.status == 422, text
    problem = await response.json(content_type=None)
    assert problem["type"] == "urn:referral-hub:problem:unroutable"
    assert problem["pointer"] == "/body/content/1/url"
    for fragment in (secret, "private-gallery", "example.invalid", "victim-0042"):
        assert fragment not in text
    assert await table_counts(db) == before


JOSE = {"Content-Type": "application/jose"}


async def test_a_locator_without_a_url_cannot_be_routed_by_content(
    api: Api, directory: Directory, db: asyncpg.Connection
) -> None:
    hotline = await directory.add("us-hotline-test", "hotline", "US")
    broad, _, _ = await platforms(directory, db)
    locators = [{"url": "https://cdn.example.net/ok"}, {"platform_item_id": "post-0002"}]
    request = routed(takedown(hotline, broad, content=locators), {"by": "content"})
    problem = await api.refused(hotline, request, "unroutable")
    assert problem["pointer"] == "/body/content/1/url"


async def test_routing_by_content_needs_a_takedown_request(api: Api, directory: Directory) -> None:
    sender = await directory.add("fr-hotline-test", "hotline", "FR")
    german = await directory.add("de-hotline-test", "hotline", "DE")
    await api.refused(sender, routed(assistance_request(sender, german), {"by": "content"}), "unroutable")


@pytest.mark.parametrize("route", [{"kind": "platform", "country": "IE"}, {"by": "content"}])
async def test_a_message_on_a_case_cannot_be_routed(
    api: Api, directory: Directory, db: asyncpg.Connection, route: dict[str, Any]
) -> None:
    hotline = await directory.add("us-hotline-test", "hotline", "US")
    broad, _, _ = await platforms(directory, db)
    request = takedown(hotline, broad)
    case_id = (await api.accepted(hotline, request))["case_id"]
    before = await table_counts(db)

    await api.refused(hotline, routed(withdrawal(hotline, [broad], case_id), route), "unroutable")
    await api.refused(broad, routed(removal(broad, hotline, case_id, request["id"]), route), "unroutable")

    assert await table_counts(db) == before


# -- the directory keeps routing unambiguous --------------------------------------------------------------
async def test_a_domain_held_by_another_platform_cannot_be_registered(
    directory: Directory, db: asyncpg.Connection
) -> None:
    broad, special, other = await platforms(directory, db)
    for claimant, taken in (
        (special, "example.net"),
        (other, "EXAMPLE.NET."),
        (broad, "special.example.net"),
    ):
        with pytest.raises(DirectoryError, match="already registered"):
            await directory_store.update_participant(db, claimant.id, add_domains=[taken])
    with pytest.raises(DirectoryError, match="already registered"):
        await directory_store.add_participant(
            db,
            participant_id="platform-late",
            name="Fictitious late platform",
            kind="platform",
            country="FR",
            endpoint=None,
            accepts=["takedown-request"],
            domains=["other.org"],
        )
    assert await directory_store.get_participant(db, "platform-late") is None
    held = {p.id: p.domains for p in await directory_store.list_participants(db) if p.domains}
    assert held == {
        broad.id: ("example.net",),
        special.id: ("special.example.net",),
        other.id: ("other.org",),
    }

    # Once released, the domain may move.
    await directory_store.update_participant(db, broad.id, remove_domains=["example.net"])
    await directory_store.update_participant(db, special.id, add_domains=["example.net"])


def test_two_owners_of_one_domain_are_an_ambiguous_route() -> None:
    """The directory refuses this; the resolver must still refuse it if it ever met it."""
    owners = [
        RouteCandidate("platform-b", "platform", "IE", ("example.net",)),
        RouteCandidate("platform-a", "platform", "US", ("example.net",)),
    ]
    body = {"content": [{"url": "https://cdn.example.net/x"}]}
    with pytest.raises(Refusal) as refused:
        resolve_route({"by": "content"}, body, owners, "us-hotline-test")
    assert refused.value.code == "ambiguous-route"
    assert refused.value.extra["candidates"] == ["platform-a", "platform-b"]
    assert refused.value.extra["pointer"] == "/body/content/0/url"
