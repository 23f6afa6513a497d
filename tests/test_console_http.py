"""The console over HTTP against a real hub on a real PostgreSQL: forms, inbox, case pages, evidence.

Two consoles (a hotline's and a platform's, each with its own keys) talk to one hub through the client
library. What they submit is checked the way a recipient would, with jwcrypto and the directory's keys.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from jwcrypto import jwk, jws
from structlog.testing import capture_logs

from hub.core.jose import PrivateEncryptionJwk, b64url_decode
from hub.core.sealing import unseal
from hub.schemas import load_catalog
from tests.console_helpers import (
    CONTACT_EMAIL,
    CONTENT_URL,
    MESSAGE_ID,
    console_for,
    csrf_of,
    form_body,
    hub,
    takedown_values,
)
from tests.factories import Member, acknowledgement, jose, removal

__all__ = ["hub"]


def jwcrypto_payload(signed: str, jwks: dict[str, Any]) -> dict[str, Any]:
    token = jws.JWS()
    token.deserialize(signed)
    published = next(k for k in jwks["keys"] if k["kid"] == token.jose_header["kid"])
    token.verify(jwk.JWK(**{k: published[k] for k in ("kty", "crv", "x", "kid")}), alg="EdDSA")
    payload: dict[str, Any] = json.loads(token.payload)
    return payload


@pytest.fixture
async def parties(directory: Any) -> tuple[Member, Member]:
    hotline = await directory.add("de-hotline-console", "hotline", "DE")
    platform = await directory.add("ie-platform-console", "platform", "IE")
    return hotline, platform


async def open_form(console: Any, path: str) -> tuple[str, str]:
    page = await console.get(path)
    assert page.status == 200, await page.text()
    html = await page.text()
    found = MESSAGE_ID.search(html)
    assert found
    return csrf_of(html), found.group(1)


async def fetch_inbox(console: Any, back: str = "/inbox") -> str:
    """Press "Fetch new messages" (a POST with the page's CSRF token); the page it returns to."""
    csrf = csrf_of(await (await console.get("/inbox")).text())
    fetched = await console.post("/inbox/fetch", data={"csrf": csrf, "next": back}, allow_redirects=False)
    assert fetched.status == 303, await fetched.text()
    assert fetched.headers["Location"] == back
    page: str = await (await console.get(back)).text()
    return page


async def send_takedown(console: Any, platform: Member, **overrides: str) -> Any:
    csrf, message_id = await open_form(console, "/new/takedown-request")
    values = {**takedown_values(platform.id, **overrides), "message_id": message_id}
    return await console.post("/new/takedown-request", data=form_body(values, csrf), allow_redirects=False)


async def test_takedown_form_signs_seals_and_reaches_the_platform(
    hub: Any, parties: tuple[Member, Member], aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline, platform = parties
    hotline_console = await console_for(aiohttp_client, hub, hotline, tmp_path / "hotline")
    with capture_logs() as logs:
        sent = await send_takedown(hotline_console, platform)
    assert sent.status == 303, await sent.text()
    assert {"console.message_signed", "console.message_sent"} <= {entry["event"] for entry in logs}
    assert CONTENT_URL not in repr(logs)
    assert CONTACT_EMAIL not in repr(logs)
    case_id = sent.headers["Location"].removeprefix("/cases/")
    case_page = await (await hotline_console.get(f"/cases/{case_id}")).text()
    assert "Takedown request sent and accepted by the hub" in case_page
    assert "signature and hub receipt verified" in case_page

    # What the platform's inbox holds verifies with a stock JOSE library and the directory's key.
    inbox = await (await hub.get("/v1/inbox", headers=platform.auth())).json()
    [item] = inbox["messages"]
    hotline_keys = (await (await hub.get(f"/v1/participants/{hotline.id}")).json())["jwks"]
    envelope = jwcrypto_payload(item["message"], hotline_keys)
    assert envelope["from"] == hotline.id
    assert envelope["to"] == [platform.id]
    assert envelope["body"]["content"] == [{"url": CONTENT_URL}]
    assert envelope["body"]["jurisdictions"] == ["EU", "IE"]
    assert load_catalog().validate(envelope) == []
    # The contact travels sealed: only the platform's X25519 key opens it.
    [copy] = envelope["body"]["contact"]["sealed"]
    assert copy["to"] == platform.id
    assert copy["kid"] == platform.enc.kid
    assert CONTACT_EMAIL not in item["message"]
    assert json.loads(unseal(b64url_decode(copy["ciphertext"]), platform.enc)) == {"email": CONTACT_EMAIL}

    # The platform's console shows it verified, keeps it, opens the contact with its key.
    platform_console = await console_for(aiohttp_client, hub, platform, tmp_path / "platform")
    page = await fetch_inbox(platform_console)
    assert "Fetched 1 new message." in page
    assert "✓ Verified" in page
    assert f"/cases/{case_id}" in page
    assert "due in" in page
    case_page = await (await platform_console.get(f"/cases/{case_id}")).text()
    assert CONTACT_EMAIL in case_page
    assert "opened here with your key" in case_page
    assert f"/cases/{case_id}/reply/acknowledgement?in_reply_to={envelope['id']}" in case_page
    # Kept before it was marked retrieved: the hub's inbox is empty now.
    assert (await (await hub.get("/v1/inbox", headers=platform.auth())).json())["messages"] == []


async def test_platform_answers_and_the_hotline_sees_the_case_actioned_then_closed(
    hub: Any, parties: tuple[Member, Member], aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline, platform = parties
    hotline_console = await console_for(aiohttp_client, hub, hotline, tmp_path / "hotline")
    platform_console = await console_for(aiohttp_client, hub, platform, tmp_path / "platform")
    case_id = (await send_takedown(hotline_console, platform)).headers["Location"].removeprefix("/cases/")
    await fetch_inbox(platform_console)
    case_page = await (await platform_console.get(f"/cases/{case_id}")).text()
    ack_link = re.search(r'href="(/cases/[^"]+/reply/acknowledgement\?in_reply_to=[^"]+)"', case_page)
    assert ack_link
    csrf, message_id = await open_form(platform_console, ack_link.group(1))
    ack = await platform_console.post(
        ack_link.group(1).split("?")[0],
        data=form_body(
            {
                "message_id": message_id,
                "in_reply_to": ack_link.group(1).split("=")[1],
                "/body/received_at": "2026-01-05T10:00:00Z",
                "/body/reference": "TICKET-1",
            },
            csrf,
        ),
        allow_redirects=False,
    )
    assert ack.status == 303, await ack.text()
    referral = ack_link.group(1).split("=")[1]
    status_path = f"/cases/{case_id}/reply/status-update"
    csrf, message_id = await open_form(platform_console, f"{status_path}?in_reply_to={referral}")
    decision = {
        "message_id": message_id,
        "in_reply_to": referral,
        "/body/status": "actioned",
        "/body/action": "removed",
        "/body/decided_at": "2026-01-05T11:00:00Z",
        "/body/statement_of_reasons/restriction_type": "removed",
        "/body/statement_of_reasons/facts": "Removed after a notice under DSA Art. 16 from a hotline.",
        "/body/statement_of_reasons/automated_means": "no",
        "/body/statement_of_reasons/ground": "illegal-content",
        "/body/statement_of_reasons/legal_ground": "Non-consensual intimate image, Directive (EU) 2024/1385.",
        "/body/statement_of_reasons/redress": ["internal-complaint", "judicial-redress"],
    }
    review = await platform_console.post(status_path, data=form_body(decision, csrf), allow_redirects=False)
    assert review.status == 200, await review.text()
    shown = await review.text()
    assert "Review and sign" in shown
    assert "2026-01-05T11:00:00Z" in shown  # the decision time, in sight before it is signed
    assert "No statement of reasons" not in shown
    reported = await platform_console.post(
        status_path, data=form_body(decision, csrf, "sign"), allow_redirects=False
    )
    assert reported.status == 303, await reported.text()

    hotline_case = await (await hotline_console.get(f"/cases/{case_id}")).text()
    assert "status-actioned" in hotline_case
    assert "content removed or restricted" in hotline_case
    hotline_case = await fetch_inbox(hotline_console, f"/cases/{case_id}")  # takes the answers in
    assert "Statement of reasons" in hotline_case or "Statement of reasons".lower() in hotline_case.lower()
    closure_path = f"/cases/{case_id}/reply/case-closure"
    csrf, message_id = await open_form(hotline_console, closure_path)
    closed = await hotline_console.post(
        closure_path,
        data=form_body({"message_id": message_id, "/body/reason": "resolved"}, csrf),
        allow_redirects=False,
    )
    assert closed.status == 303, await closed.text()
    final = await (await hotline_console.get(f"/cases/{case_id}")).text()
    assert "status-closed" in final
    assert "You closed the case" in final  # the timeline says who did it


async def test_invalid_value_shows_the_schema_message_and_nothing_is_sent(
    hub: Any, parties: tuple[Member, Member], aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline, platform = parties
    console = await console_for(aiohttp_client, hub, hotline, tmp_path)
    refused = await send_takedown(console, platform, **{"/body/content/0/url": "photos.example.com/p/1"})
    assert refused.status == 422
    html = await refused.text()
    assert "Nothing was signed or sent" in html
    error = re.search(r'<p class="error" id="f-body-content-0-url-error">(.*?)</p>', html, re.S)
    assert error
    assert "Give the full web address, starting with https://" in error.group(1)  # not "must be a valid uri"
    described = 'aria-describedby="f-body-content-0-url-hint f-body-content-0-url-error"'
    assert f'{described} aria-invalid="true"' in html
    assert 'value="photos.example.com/p/1"' in html  # the form comes back as the user left it
    assert (await (await hub.get("/v1/inbox", headers=platform.auth())).json())["messages"] == []


async def test_a_form_sent_twice_is_signed_once(
    hub: Any, parties: tuple[Member, Member], aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline, platform = parties
    console = await console_for(aiohttp_client, hub, hotline, tmp_path)
    csrf, message_id = await open_form(console, "/new/takedown-request")
    posted = form_body({**takedown_values(platform.id), "message_id": message_id}, csrf)
    first = await console.post("/new/takedown-request", data=posted, allow_redirects=False)
    again = await console.post("/new/takedown-request", data=posted, allow_redirects=False)
    assert first.status == again.status == 303
    assert first.headers["Location"] == again.headers["Location"]
    inbox = await (await hub.get("/v1/inbox", headers=platform.auth())).json()
    assert [m["message_id"] for m in inbox["messages"]] == [message_id.split(".")[0]]


async def test_a_hub_refusal_is_shown_with_its_title(
    hub: Any, parties: tuple[Member, Member], aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline, platform = parties
    console = await console_for(aiohttp_client, hub, hotline, tmp_path)
    refused = await send_takedown(console, platform, **{"/body/minor_depicted": "unknown"})
    assert refused.status == 422
    html = await refused.text()
    assert "The hub refused the message" in html
    assert "CSAM" in html or "child sexual abuse" in html


async def test_add_and_remove_entries_of_a_repeated_group(
    hub: Any, parties: tuple[Member, Member], aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline, platform = parties
    console = await console_for(aiohttp_client, hub, hotline, tmp_path)
    csrf, message_id = await open_form(console, "/new/takedown-request")
    values = {**takedown_values(platform.id), "message_id": message_id}
    added = await console.post("/new/takedown-request", data=form_body(values, csrf, "add:/body/content"))
    html = await added.text()
    assert added.status == 200
    assert 'name="/body/content/1/url"' in html
    values.update({"count:/body/content": "2", "/body/content/1/url": "https://photos.example.com/p/2"})
    posted = form_body(values, csrf, "remove:/body/content/0")
    removed = await console.post("/new/takedown-request", data=posted)
    html = await removed.text()
    assert 'name="/body/content/1/url"' not in html
    assert 'name="/body/content/0/url" value="https://photos.example.com/p/2"' in html
    assert (await (await hub.get("/v1/inbox", headers=platform.auth())).json())["messages"] == []


async def test_due_today_is_counted_by_the_day_of_the_console_s_time_zone(
    hub: Any,
    parties: tuple[Member, Member],
    aiohttp_client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hub.client.http import HubClient

    hotline, _ = parties
    asked: list[str | None] = []
    listed = HubClient.cases

    async def spy(self: HubClient, **options: Any) -> dict[str, Any]:
        asked.append(options.get("time_zone"))
        return await listed(self, **options)

    monkeypatch.setattr(HubClient, "cases", spy)
    console = await console_for(aiohttp_client, hub, hotline, tmp_path, time_zone="Europe/Berlin")
    page = await (await console.get("/cases")).text()
    assert "Due today: 0 cases" in page
    assert "with a deadline that ends today (Europe/Berlin) or has passed" in page
    assert asked == ["Europe/Berlin"]  # the hub counts Berlin's day (tests/test_case_list.py)


async def test_case_list_filters_and_evidence_bundle(
    hub: Any, parties: tuple[Member, Member], aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline, platform = parties
    console = await console_for(aiohttp_client, hub, hotline, tmp_path)
    case_id = (await send_takedown(console, platform)).headers["Location"].removeprefix("/cases/")
    listed = await (await console.get("/cases?state=open&country=IE&recipient=ie-platform-console")).text()
    assert f"/cases/{case_id}" in listed
    assert "Next due" in listed
    assert "Acknowledge: due in " in listed
    assert "Due today: 0 cases" in listed  # its clocks end tomorrow at the earliest
    assert 'name="recipient"' in listed
    theirs = await console_for(aiohttp_client, hub, platform, tmp_path / "platform")
    for_platform = await (await theirs.get("/cases")).text()
    assert f"/cases/{case_id}" in for_platform
    assert 'name="recipient"' not in for_platform
    assert 'name="country"' not in for_platform
    assert 'href="/new/takedown-request"' not in for_platform  # a platform answers; it starts no referral
    assert 'href="/new/assistance-request"' not in for_platform
    assert 'href="/new/takedown-request"' in listed
    assert "signed in as" in for_platform
    found = await console.get(f"/cases?q={case_id[:8].upper()}", allow_redirects=False)
    assert found.status == 303
    assert found.headers["Location"] == f"/cases/{case_id}"
    missing = await console.get(f"/cases?q={'0' if case_id[0] != '0' else '1'}{case_id[1:8]}")
    assert missing.status == 422
    assert "Find a case: no case you can read has an id starting with" in await missing.text()
    short = await console.get(f"/cases?q={case_id[:3]}")
    assert short.status == 422
    assert "nor the start of one (at least 6 hex digits)" in await short.text()
    assert f"/cases/{case_id}" in await short.text()  # the list is still there
    none = await (await console.get("/cases?state=closed")).text()
    assert f"/cases/{case_id}" not in none
    bad = await console.get("/cases?state=bogus&country=Ireland")
    assert bad.status == 422
    text = await bad.text()
    assert "State: choose one of the listed states." in text
    assert "Country: give a two-letter country code" in text

    download = await console.get(f"/cases/{case_id}/evidence.zip")
    assert download.status == 200
    assert download.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(await download.read())) as bundle:
        names = set(bundle.namelist())
        manifest = json.loads(bundle.read("manifest.json"))
        [item] = manifest["messages"]
        signed = bundle.read(item["file"]).decode()
        keys = json.loads(bundle.read(manifest["keys"][hotline.id]))
        receipt = bundle.read(item["receipt"]).decode()
    hub_keys = await (await hub.get("/.well-known/jwks.json")).json()
    assert {"timeline.json", "README.txt", "keys/hub.jwks.json"} <= names
    assert (manifest["format"], manifest["case_id"], manifest["made_by"]) == (
        "referral-hub-evidence/1",
        case_id,
        hotline.id,
    )
    assert jwcrypto_payload(signed, keys)["type"] == "takedown-request"
    assert jwcrypto_payload(receipt, hub_keys)["case_id"] == case_id
    assert (await console.get("/cases/not-a-case")).status == 404


async def hub_inbox(hub: Any, member: Member) -> list[str]:
    """What the hub still holds for the member (read straight from its API, nothing acknowledged)."""
    page = await (await hub.get("/v1/inbox", headers=member.auth())).json()
    return [m["message_id"] for m in page["messages"]]


async def recipient_state(hub: Any, hotline: Member, case_id: str) -> str:
    case = await (await hub.get(f"/v1/cases/{case_id}", headers=hotline.auth())).json()
    return str(case["recipients"][0]["state"])


async def test_no_page_opened_with_get_pulls_or_acknowledges_the_inbox(
    hub: Any, parties: tuple[Member, Member], aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline, platform = parties
    hotline_console = await console_for(aiohttp_client, hub, hotline, tmp_path / "hotline")
    sent = await send_takedown(hotline_console, platform)
    case_id = sent.headers["Location"].removeprefix("/cases/")
    waiting = await hub_inbox(hub, platform)
    assert len(waiting) == 1
    referral = waiting[0]
    platform_console = await console_for(aiohttp_client, hub, platform, tmp_path / "platform")
    values = {"case_id": case_id, "message_type": "acknowledgement"}
    opened = []
    for route in platform_console.server.app.router.routes():
        if route.method != "GET" or route.resource is None:
            continue
        info = route.resource.get_info()
        path = info.get("path") or info["formatter"].format(
            **{name: values.get(name, "takedown-request") for name in ("case_id", "message_type")}
        )
        if "/reply/" in path:
            path += f"?in_reply_to={referral}"
        response = await platform_console.get(path, allow_redirects=False)
        opened.append((path, response.status))
    assert ("/inbox", 200) in opened
    assert (f"/cases/{case_id}", 200) in opened
    assert (f"/cases/{case_id}/reply/acknowledgement?in_reply_to={referral}", 200) in opened
    # Every page was opened, and the hub still holds the referral for the platform, not yet retrieved.
    assert await hub_inbox(hub, platform) == waiting
    assert await recipient_state(hub, hotline, case_id) == "queued"
    page = await fetch_inbox(platform_console)  # the button (a POST) is what takes it
    assert f"/cases/{case_id}" in page
    assert await hub_inbox(hub, platform) == []
    assert await recipient_state(hub, hotline, case_id) == "retrieved"


async def test_a_fetch_from_another_page_is_refused(
    hub: Any, parties: tuple[Member, Member], aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline, platform = parties
    hotline_console = await console_for(aiohttp_client, hub, hotline, tmp_path / "hotline")
    await send_takedown(hotline_console, platform)
    waiting = await hub_inbox(hub, platform)
    platform_console = await console_for(aiohttp_client, hub, platform, tmp_path / "platform")
    csrf = csrf_of(await (await platform_console.get("/inbox")).text())
    attempts = [
        ({}, {}),  # a form on another page cannot know the token
        ({"csrf": "guessed"}, {}),
        ({"csrf": csrf}, {"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-site"}),
        ({"csrf": csrf}, {"Sec-Fetch-Site": "cross-site"}),
        ({"csrf": csrf}, {"Origin": "null"}),
    ]
    for data, headers in attempts:
        refused = await platform_console.post(
            "/inbox/fetch", data=data, headers=headers, allow_redirects=False
        )
        assert refused.status == 403, (data, headers)
    assert await hub_inbox(hub, platform) == waiting
    taken = await platform_console.post("/inbox/fetch", data={"csrf": csrf}, allow_redirects=False)
    assert taken.status == 303
    assert await hub_inbox(hub, platform) == []


async def test_a_form_sent_again_after_a_change_is_still_its_one_message(
    hub: Any, parties: tuple[Member, Member], aiohttp_client: Any, tmp_path: Path
) -> None:
    """Issue 16.10: Back and send again (with a change, or after the hub accepted it) is the same message:
    the hub's idempotent replay answers it and the console shows the existing case."""
    hotline, platform = parties
    console = await console_for(aiohttp_client, hub, hotline, tmp_path)
    csrf, token = await open_form(console, "/new/takedown-request")
    values = {**takedown_values(platform.id), "message_id": token}
    first = await console.post("/new/takedown-request", data=form_body(values, csrf), allow_redirects=False)
    assert first.status == 303, await first.text()
    changed = {**values, "/body/authorisation/reference": "CONSOLE-TEST-0002"}
    again = await console.post("/new/takedown-request", data=form_body(changed, csrf), allow_redirects=False)
    assert again.status == 303
    assert again.headers["Location"] == first.headers["Location"]
    page = await (await console.get(again.headers["Location"])).text()
    assert "This form was already sent" in page
    assert "Nothing new was sent" in page
    listed = await (await hub.get("/v1/cases", headers=hotline.auth())).json()
    assert len(listed["cases"]) == 1
    inbox = await (await hub.get("/v1/inbox", headers=platform.auth())).json()
    assert [m["message_id"] for m in inbox["messages"]] == [token.split(".")[0]]


async def test_a_form_token_not_made_for_this_form_is_refused_before_signing(
    hub: Any, parties: tuple[Member, Member], aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline, platform = parties
    console = await console_for(aiohttp_client, hub, hotline, tmp_path)
    csrf, token = await open_form(console, "/new/takedown-request")
    message_id, _, binding = token.partition(".")
    other = "00000000-0000-4000-8000-000000000001"
    _, assistance_token = await open_form(console, "/new/assistance-request")
    for forged in ("", message_id, f"{other}.{binding}", assistance_token, f"{message_id}.{binding[:-2]}AA"):
        values = {**takedown_values(platform.id), "message_id": forged}
        refused = await console.post("/new/takedown-request", data=form_body(values, csrf))
        assert refused.status == 400, forged
        assert "Nothing was signed or sent" in await refused.text()
    assert (await (await hub.get("/v1/inbox", headers=platform.auth())).json())["messages"] == []


async def test_the_same_url_to_the_same_platform_while_a_case_is_open_is_warned_first(
    hub: Any, directory: Any, parties: tuple[Member, Member], aiohttp_client: Any, tmp_path: Path
) -> None:
    """Issue 16.10: a second referral of a content URL to a platform that has it on an open case is held
    back with a warning naming the case (not the URL); the person may send it all the same."""
    hotline, platform = parties
    other = await directory.add("fr-platform-console", "platform", "FR")
    console = await console_for(aiohttp_client, hub, hotline, tmp_path)
    first_case = (await send_takedown(console, platform)).headers["Location"].removeprefix("/cases/")
    reference = {"/body/authorisation/reference": "CONSOLE-TEST-0002"}
    with capture_logs() as logs:
        held = await send_takedown(console, platform, **reference)
    assert held.status == 409
    page = await held.text()
    assert f"you already referred this content to {platform.id}" in page
    assert f'href="/cases/{first_case}"' in page
    assert 'value="send-anyway"' in page
    assert CONTENT_URL not in repr(logs)
    assert len((await (await hub.get("/v1/cases", headers=hotline.auth())).json())["cases"]) == 1

    elsewhere = await send_takedown(console, other, **reference)  # another platform: no warning
    assert elsewhere.status == 303, await elsewhere.text()
    csrf, token = await open_form(console, "/new/takedown-request")
    values = {**takedown_values(platform.id, **reference), "message_id": token}
    anyway = await console.post(
        "/new/takedown-request", data=form_body(values, csrf, "send-anyway"), allow_redirects=False
    )
    assert anyway.status == 303, await anyway.text()
    cases = (await (await hub.get("/v1/cases", headers=hotline.auth())).json())["cases"]
    assert len(cases) == 3


async def test_the_same_url_after_its_case_was_closed_is_sent_without_a_warning(
    hub: Any, parties: tuple[Member, Member], aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline, platform = parties
    console = await console_for(aiohttp_client, hub, hotline, tmp_path)
    case_id = (await send_takedown(console, platform)).headers["Location"].removeprefix("/cases/")
    closure_path = f"/cases/{case_id}/reply/case-closure"
    csrf, token = await open_form(console, closure_path)
    closed = await console.post(
        closure_path,
        data=form_body({"message_id": token, "/body/reason": "resolved"}, csrf),
        allow_redirects=False,
    )
    assert closed.status == 303, await closed.text()
    again = await send_takedown(console, platform, **{"/body/authorisation/reference": "CONSOLE-TEST-0003"})
    assert again.status == 303, await again.text()
    assert again.headers["Location"] != f"/cases/{case_id}"


async def test_the_console_refuses_to_seal_to_an_encryption_key_the_platform_did_not_bind(
    hub: Any, parties: tuple[Member, Member], aiohttp_client: Any, tmp_path: Path, db: Any
) -> None:
    """Issue 18: a key the operator slipped into the directory is named, and nothing is signed or sent."""
    hotline, platform = parties
    slipped = PrivateEncryptionJwk.generate("ie-platform-console-enc-operator").public().to_dict()
    await db.execute(
        "INSERT INTO participant_keys (kid, participant_id, use, jwk) VALUES ($1, $2, 'enc', $3)",
        slipped["kid"],
        platform.id,
        slipped,
    )
    console = await console_for(aiohttp_client, hub, hotline, tmp_path / "hotline")

    refused = await send_takedown(console, platform)

    assert refused.status == 422
    page = await refused.text()
    assert "ie-platform-console-enc-operator" in page
    assert "did not bind" in page
    assert await db.fetchval("SELECT count(*) FROM messages") == 0


async def test_acknowledgements_are_folded_into_their_case_in_the_inbox(
    hub: Any, parties: tuple[Member, Member], aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline, platform = parties
    console = await console_for(aiohttp_client, hub, hotline, tmp_path / "hotline")
    case_id = (await send_takedown(console, platform)).headers["Location"].removeprefix("/cases/")
    [item] = (await (await hub.get("/v1/inbox", headers=platform.auth())).json())["messages"]
    referral = item["message_id"]
    for envelope in (
        acknowledgement(platform, hotline, case_id, referral),
        removal(platform, hotline, case_id, referral),
    ):
        answered = await hub.post("/v1/messages", **jose(platform.sign(envelope)))
        assert answered.status == 202, await answered.text()

    page = await fetch_inbox(console)

    rows = re.findall(r"<tr[^>]*>\s*<td><time.*?</tr>", page, re.DOTALL)
    assert len(rows) == 1, rows  # one row for the case, not one for each answer
    assert "Status update" in rows[0]
    assert f"Acknowledged by {platform.id}" in rows[0]
    assert f"/cases/{case_id}" in rows[0]
