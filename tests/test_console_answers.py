"""Every answer a participant may send, from the case page where it is due (issue 17): over HTTP, two
consoles and one hub on a real PostgreSQL, each answer found as a link on the case page as a person
would, its form filled in and sent, and the case at the hub checked afterwards.

The whole lifecycle: the platform asks the hotline for information and the hotline answers; the
platform removes the content, then passes an uploader's counter-notice on; the hotline answers it by
withdrawing from that platform; the page shows "Confirm deletion" beside the deletion clock and the
platform confirms. What is not due is not offered, and a form the viewer's part does not allow is
refused by the console before anything is signed.
"""

from __future__ import annotations

import html as html_lib
import json
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
from tests.factories import Member

__all__ = ["hub"]


def links(page: str) -> dict[str, str]:
    """The case page's action buttons: label -> href."""
    nav = re.search(r'<nav class="case-actions".*?</nav>', page, re.S)
    found = re.findall(r'<a class="button" href="([^"]+)">([^<]+)</a>', nav.group(0) if nav else "")
    return {html_lib.unescape(label): html_lib.unescape(href) for href, label in found}


async def case_page(console: Any, case_id: str, fetch: bool = True) -> str:
    if fetch:  # "Fetch new messages" on the case page
        page = await (await console.get(f"/cases/{case_id}")).text()
        fetched = await console.post(
            "/inbox/fetch", data={"csrf": csrf_of(page), "next": f"/cases/{case_id}"}, allow_redirects=False
        )
        assert fetched.status == 303
    response = await console.get(f"/cases/{case_id}")
    assert response.status == 200
    text: str = await response.text()
    return text


async def answer(console: Any, case_id: str, label: str, values: dict[str, Any]) -> str:
    """Press the button with this label on the case page, fill in the form, send it: the new message id."""
    href = links(await case_page(console, case_id))[label]
    form = await console.get(href)
    assert form.status == 200, await form.text()
    page = await form.text()
    found = MESSAGE_ID.search(page)
    assert found
    posted = {"message_id": found.group(1), **values}
    if "?in_reply_to=" in href:
        posted["in_reply_to"] = href.split("=", 1)[1]
    sent = await console.post(
        href.split("?")[0], data=form_body(posted, csrf_of(page)), allow_redirects=False
    )
    if sent.status == 200 and "Review and sign" in await sent.text():  # a decision: reviewed, then signed
        sent = await console.post(
            href.split("?")[0], data=form_body(posted, csrf_of(page), "sign"), allow_redirects=False
        )
    assert sent.status == 303, await sent.text()
    assert sent.headers["Location"] == f"/cases/{case_id}"
    return found.group(1).split(".")[0]  # the form token: the message id and its binding to the form


async def hub_case(hub: Any, member: Member, case_id: str) -> dict[str, Any]:
    case: dict[str, Any] = await (await hub.get(f"/v1/cases/{case_id}", headers=member.auth())).json()
    return case


def accepted(case: dict[str, Any], message_type: str) -> list[dict[str, Any]]:
    return [
        e for e in case["timeline"] if e["event"] == "message.accepted" and e["message_type"] == message_type
    ]


async def test_every_answer_of_the_lifecycle_is_sent_from_the_case_page(
    hub: Any, directory: Any, aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline = await directory.add("de-hotline-answers", "hotline", "DE")
    platform = await directory.add("ie-platform-answers", "platform", "IE")
    hotline_console = await console_for(aiohttp_client, hub, hotline, tmp_path / "hotline")
    platform_console = await console_for(aiohttp_client, hub, platform, tmp_path / "platform")
    form = await (await hotline_console.get("/new/takedown-request")).text()
    values = {**takedown_values(platform.id), "message_id": MESSAGE_ID.search(form).group(1)}  # type: ignore[union-attr]
    sent = await hotline_console.post(
        "/new/takedown-request", data=form_body(values, csrf_of(form)), allow_redirects=False
    )
    assert sent.status == 303, await sent.text()
    case_id = sent.headers["Location"].removeprefix("/cases/")

    offered = links(await case_page(platform_console, case_id))
    assert {"Acknowledge", "Report a decision", "Ask the sender for information"} <= set(offered)
    assert "Confirm deletion" not in offered
    assert "Pass on a counter-notice" not in offered

    # The platform asks, the hotline answers the request it names.
    question = "Which account published the image?"
    request_id = await answer(
        platform_console,
        case_id,
        "Ask the sender for information",
        {"/body/questions": question, "/body/urgency": "routine"},
    )
    offered = links(await case_page(hotline_console, case_id))
    label = f"Answer the information request {request_id[:8]}"
    assert offered[label].endswith(f"in_reply_to={request_id}")
    await answer(hotline_console, case_id, label, {"/body/answers": "The account named in the referral."})
    assert label not in links(await case_page(hotline_console, case_id, fetch=False))
    case = await hub_case(hub, hotline, case_id)
    [response] = accepted(case, "information-response")
    assert (response["actor"], response["to"]) == (hotline.id, [platform.id])

    # The platform removes the content, then passes an uploader's appeal on.
    decision = await answer(
        platform_console,
        case_id,
        "Report a decision",
        {
            "/body/status": "actioned",
            "/body/action": "removed",
            "/body/decided_at": "2026-01-05T11:00:00Z",
            "/body/statement_of_reasons/restriction_type": "removed",
            "/body/statement_of_reasons/facts": "Removed after a notice under DSA Art. 16 from a hotline.",
            "/body/statement_of_reasons/automated_means": "no",
            "/body/statement_of_reasons/ground": "illegal-content",
            "/body/statement_of_reasons/legal_ground": "Non-consensual intimate image.",
            "/body/statement_of_reasons/redress": ["internal-complaint"],
        },
    )
    offered = links(await case_page(platform_console, case_id))
    assert offered["Pass on a counter-notice"].endswith(f"in_reply_to={decision}")
    appeal = await answer(
        platform_console,
        case_id,
        "Pass on a counter-notice",
        {
            "/body/received_at": "2026-01-06T09:00:00Z",
            "/body/grounds": "consent-claimed",
            "/body/summary#text": "The uploader says the person agreed to publication.",
            "/body/reinstatement_planned": "no",
        },
    )

    # The hotline answers the appeal by withdrawing from that platform.
    offered = links(await case_page(hotline_console, case_id))
    label = f"Answer the counter-notice: withdraw from {platform.id}"
    assert offered[label].endswith(f"in_reply_to={appeal}")
    withdrawal = await answer(
        hotline_console, case_id, label, {"/body/reason": "resolved", "/body/delete_data": "true"}
    )
    case = await hub_case(hub, hotline, case_id)
    assert case["recipients"][0]["state"] == "withdrawn"
    assert case["recipients"][0]["deletion"]["confirmed"] is False

    # The deletion clock now shows its button beside it; the form's URL works.
    page = await case_page(platform_console, case_id)
    assert "Confirm deletion" in page
    offered = links(page)
    assert offered["Confirm deletion"].endswith(f"in_reply_to={withdrawal}")
    assert "Report a decision" not in offered
    assert "Pass on a counter-notice" not in offered
    await answer(
        platform_console,
        case_id,
        "Confirm deletion",
        {"/body/deleted_at": "2026-01-06T12:00:00Z", "/body/scope": "all-data"},
    )
    case = await hub_case(hub, hotline, case_id)
    assert case["recipients"][0]["deletion"]["confirmed"] is True
    assert "Confirm deletion" not in links(await case_page(platform_console, case_id, fetch=False))
    types = [e["message_type"] for e in case["timeline"] if e["event"] == "message.accepted"]
    assert types == [
        "takedown-request",
        "information-request",
        "information-response",
        "status-update",
        "counter-notice",
        "withdrawal",
        "deletion-confirmation",
    ]


async def test_a_form_the_viewers_part_does_not_allow_is_refused_before_signing(
    hub: Any, directory: Any, aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline = await directory.add("de-hotline-answers2", "hotline", "DE")
    platform = await directory.add("ie-platform-answers2", "platform", "IE")
    hotline_console = await console_for(aiohttp_client, hub, hotline, tmp_path / "hotline")
    form = await (await hotline_console.get("/new/takedown-request")).text()
    values = {**takedown_values(platform.id), "message_id": MESSAGE_ID.search(form).group(1)}  # type: ignore[union-attr]
    sent = await hotline_console.post(
        "/new/takedown-request", data=form_body(values, csrf_of(form)), allow_redirects=False
    )
    case_id = sent.headers["Location"].removeprefix("/cases/")
    for message_type in ("counter-notice", "deletion-confirmation", "status-update", "information-request"):
        refused = await hotline_console.get(f"/cases/{case_id}/reply/{message_type}")
        assert refused.status == 403, message_type
        assert "does not let you send" in await refused.text()
    assert (await hotline_console.get(f"/cases/{case_id}/reply/escalation")).status == 404


async def test_a_decision_is_reviewed_before_it_is_signed(
    hub: Any, directory: Any, aiohttp_client: Any, tmp_path: Path
) -> None:
    """Issue 17: "Review and sign" shows what will be signed, warns an EU platform that restricts content
    without a DSA Art. 17 statement of reasons, and no decision time is filled in that the reviewer did
    not give."""
    hotline = await directory.add("de-hotline-review", "hotline", "DE")
    platform = await directory.add("ie-platform-review", "platform", "IE")
    hotline_console = await console_for(aiohttp_client, hub, hotline, tmp_path / "hotline")
    platform_console = await console_for(aiohttp_client, hub, platform, tmp_path / "platform")
    form = await (await hotline_console.get("/new/takedown-request")).text()
    values = {**takedown_values(platform.id), "message_id": MESSAGE_ID.search(form).group(1)}  # type: ignore[union-attr]
    sent = await hotline_console.post(
        "/new/takedown-request", data=form_body(values, csrf_of(form)), allow_redirects=False
    )
    case_id = sent.headers["Location"].removeprefix("/cases/")
    href = links(await case_page(platform_console, case_id))["Report a decision"]
    page = await (await platform_console.get(href)).text()
    assert re.search(r'name="/body/decided_at"[^>]*value="[^"]+"', page) is None
    assert "Add an item outcome</button>" in page  # "an", not "a item outcome"
    decision = {
        "message_id": MESSAGE_ID.search(page).group(1),  # type: ignore[union-attr]
        "in_reply_to": href.split("=", 1)[1],
        "/body/status": "actioned",
        "/body/action": "removed",
        "/body/decided_at": "2026-01-05T11:00:00Z",
    }
    path = href.split("?")[0]
    review = await platform_console.post(path, data=form_body(decision, csrf_of(page)), allow_redirects=False)
    assert review.status == 200
    shown = await review.text()
    assert "Review and sign" in shown
    assert "No statement of reasons (EU DSA Art. 17)" in shown
    assert "2026-01-05T11:00:00Z" in shown
    assert "Removed" in shown  # the answers in the form's words: what is signed is "removed"
    assert ">removed<" not in shown.replace("\n", "").replace(" ", "")
    assert (await hub_case(hub, hotline, case_id))["recipients"][0]["state"] == "retrieved"  # nothing sent
    changed = await platform_console.post(path, data=form_body(decision, csrf_of(page), "edit"))
    assert 'value="2026-01-05T11:00:00Z"' in await changed.text()  # back to the form, as it was
    signed = await platform_console.post(
        path, data=form_body(decision, csrf_of(page), "sign"), allow_redirects=False
    )
    assert signed.status == 303, await signed.text()
    assert (await hub_case(hub, hotline, case_id))["recipients"][0]["state"] == "actioned"


async def test_a_police_liaison_asks_the_platform_it_was_shared_with_and_is_answered(
    hub: Any, directory: Any, aiohttp_client: Any, tmp_path: Path
) -> None:
    hotline = await directory.add("de-hotline-liaison", "hotline", "DE")
    platform = await directory.add("ie-platform-liaison", "platform", "IE")
    police = await directory.add("ie-police-liaison", "law-enforcement", "IE")
    hotline_console = await console_for(aiohttp_client, hub, hotline, tmp_path / "hotline")
    platform_console = await console_for(aiohttp_client, hub, platform, tmp_path / "platform")
    police_console = await console_for(aiohttp_client, hub, police, tmp_path / "police")
    form = await (await hotline_console.get("/new/takedown-request")).text()
    values = {**takedown_values(platform.id), "message_id": MESSAGE_ID.search(form).group(1)}  # type: ignore[union-attr]
    sent = await hotline_console.post(
        "/new/takedown-request", data=form_body(values, csrf_of(form)), allow_redirects=False
    )
    case_id = sent.headers["Location"].removeprefix("/cases/")
    shared = await hub.post(
        f"/v1/cases/{case_id}/shares", json={"participant_id": police.id}, headers=hotline.auth()
    )
    assert shared.status in (200, 201), await shared.text()

    offered = links(await case_page(police_console, case_id, fetch=False))
    assert list(offered) == ["Ask for information"]
    request_id = await answer(
        police_console,
        case_id,
        "Ask for information",
        {
            "/body/questions": "Which account uploaded the item?",
            "/body/urgency": "emergency",
            "/body/legal_basis": "Regulation (EU) 2023/1543, Art. 10",
        },
    )
    [asked] = accepted(await hub_case(hub, hotline, case_id), "information-request")
    assert (asked["actor"], asked["to"]) == (police.id, [platform.id])
    label = f"Answer the information request {request_id[:8]}"
    await answer(platform_console, case_id, label, {"/body/answers": "The account example-uploader-1."})
    [responded] = accepted(await hub_case(hub, hotline, case_id), "information-response")
    assert (responded["actor"], responded["to"]) == (platform.id, [police.id])


async def test_a_form_takes_times_in_the_viewer_s_zone_and_signs_them_in_utc(
    hub: Any, directory: Any, aiohttp_client: Any, tmp_path: Path
) -> None:
    """Issue 17: a reviewer in Berlin types the decision time as the clock on the wall shows it; the
    form says which zone, fills in "now" in it, and the message carries the time in UTC."""
    from hub.core.jose import parse_jws

    hotline = await directory.add("de-hotline-zone", "hotline", "DE")
    platform = await directory.add("ie-platform-zone", "platform", "IE")
    hotline_console = await console_for(aiohttp_client, hub, hotline, tmp_path / "hotline")
    berlin = await console_for(
        aiohttp_client, hub, platform, tmp_path / "platform", time_zone="Europe/Berlin"
    )
    form = await (await hotline_console.get("/new/takedown-request")).text()
    values = {**takedown_values(platform.id), "message_id": MESSAGE_ID.search(form).group(1)}  # type: ignore[union-attr]
    sent = await hotline_console.post(
        "/new/takedown-request", data=form_body(values, csrf_of(form)), allow_redirects=False
    )
    case_id = sent.headers["Location"].removeprefix("/cases/")
    acknowledging = await (await berlin.get(links(await case_page(berlin, case_id))["Acknowledge"])).text()
    assert "time in Europe/Berlin" in acknowledging
    now_shown = re.search(r'name="/body/received_at"[^>]*value="([^"]+)"', acknowledging)
    assert now_shown is not None
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", now_shown.group(1))  # local, to the minute
    href = links(await case_page(berlin, case_id))["Report a decision"]
    page = await (await berlin.get(href)).text()
    decision = {
        "message_id": MESSAGE_ID.search(page).group(1),  # type: ignore[union-attr]
        "in_reply_to": href.split("=", 1)[1],
        "/body/status": "declined",
        "/body/decline_reason": "The item is not on our service.",
        "/body/decided_at": "2026-07-05 12:30",  # CEST, UTC+2
    }
    path = href.split("?")[0]
    review = await berlin.post(path, data=form_body(decision, csrf_of(page)), allow_redirects=False)
    assert review.status == 200, await review.text()
    assert "2026-07-05T10:30:00Z" in await review.text()  # exactly what will be signed
    wrong = await berlin.post(
        path, data=form_body({**decision, "/body/decided_at": "5 July, half past noon"}, csrf_of(page))
    )
    assert wrong.status == 422
    assert "Give a date and time, like 2026-01-05 11:00" in html_lib.unescape(await wrong.text())
    signed = await berlin.post(path, data=form_body(decision, csrf_of(page), "sign"), allow_redirects=False)
    assert signed.status == 303, await signed.text()
    inbox = await (await hub.get("/v1/inbox", headers=hotline.auth())).json()
    envelopes = [json.loads(parse_jws(i["message"]).payload) for i in inbox["messages"]]
    [update] = [e for e in envelopes if e["type"] == "status-update"]
    assert update["body"]["decided_at"] == "2026-07-05T10:30:00Z"
