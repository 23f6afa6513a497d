"""The case page in plain language (issue 17): the timeline says who did what to whom, one sentence per
event, the viewer as "you", the hub as "the hub", states and clocks in words (a delivery names its
recipient); times to the minute in the console's time zone, named."""

from __future__ import annotations

import html as html_lib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from hub.api.app import create_app
from hub.cli.console import time_zone_option as console_time_zone
from hub.cli.errors import CliError
from hub.console import create_console_app
from hub.console.render import when
from hub.console.shown_body import labelled_body
from hub.console.timeline import timeline_line
from hub.core.clock import time_zone
from tests.console_helpers import MESSAGE_ID, console_config, csrf_of, form_body, sign_in, takedown_values

ME = "de-hotline"


@pytest.mark.parametrize(
    ("event", "line"),
    [
        (
            {"event": "case.opened", "actor": ME, "case_type": "takedown-request"},
            "You opened the case (takedown request)",
        ),
        (
            {
                "event": "message.accepted",
                "actor": ME,
                "message_type": "takedown-request",
                "to": ["ie-platform"],
            },
            "You sent a takedown request to ie-platform; the hub accepted it",
        ),
        (
            {
                "event": "message.accepted",
                "actor": "ie-platform",
                "message_type": "acknowledgement",
                "to": [ME],
            },
            "ie-platform sent an acknowledgement to you; the hub accepted it",
        ),
        ({"event": "message.delivered", "actor": "ie-platform"}, "The hub delivered it to ie-platform"),
        (
            {"event": "message.delivered", "actor": "ie-platform", "destination": "hma"},
            "The hub delivered it to ie-platform (further destination hma)",
        ),
        ({"event": "message.retrieved", "actor": "ie-platform"}, "ie-platform took it from the inbox"),
        (
            {
                "event": "recipient.state_changed",
                "actor": "ie-platform",
                "subject": "ie-platform",
                "from_state": "retrieved",
                "to_state": "acknowledged",
            },
            "ie-platform: acknowledged, decision pending (was: retrieved, not yet acknowledged)",
        ),
        (
            {
                "event": "deadline.started",
                "actor": "hub",
                "subject": "ie-platform",
                "deadline": "acknowledge",
            },
            "The hub started a clock for ie-platform: acknowledge",
        ),
        (
            {"event": "deadline.met", "actor": "ie-platform", "subject": "ie-platform", "deadline": "remove"},
            "ie-platform met the deadline: remove",
        ),
        (
            {"event": "deadline.breached", "actor": "hub", "subject": "ie-platform", "deadline": "remove"},
            "ie-platform missed the deadline: remove; the hub escalated",
        ),
        ({"event": "case.shared", "actor": ME, "subject": "nl-police"}, "You shared the case with nl-police"),
        ({"event": "case.closed", "actor": ME, "reason": "resolved"}, "You closed the case (resolved)"),
        ({"event": "something.new", "actor": "hub"}, "Something.new (the hub)"),
    ],
)
def test_each_event_is_one_sentence_of_who_did_what_to_whom(event: dict[str, object], line: str) -> None:
    assert timeline_line(event, ME) == line


def test_a_delivery_names_its_recipient_not_as_the_one_who_delivered() -> None:
    said = timeline_line({"event": "message.delivered", "actor": "ie-platform"}, ME)
    assert "delivered by" not in said
    assert said.endswith("to ie-platform")


def test_times_are_to_the_minute_in_the_console_s_time_zone_with_its_name() -> None:
    berlin = time_zone("Europe/Berlin")
    assert when("2026-01-05T11:00:59.123Z", berlin) == "05 Jan 2026, 12:00 CET"
    assert when("2026-07-05T11:00:00Z", berlin) == "05 Jul 2026, 13:00 CEST"
    assert when("2026-07-05T11:00:00Z") == "05 Jul 2026, 11:00 UTC"
    with pytest.raises(ValueError, match="no time zone named 'Mars/Olympus'"):
        time_zone("Mars/Olympus")
    with pytest.raises(CliError, match="--time-zone"):
        console_time_zone("Europe/Atlantis")


async def test_the_case_page_shows_its_times_in_the_console_s_zone_and_its_timeline_in_words(
    settings: Any, directory: Any, aiohttp_client: Any, tmp_path: Path
) -> None:
    hub = await aiohttp_client(create_app(settings, background=False))
    hotline = await directory.add("de-hotline-words", "hotline", "DE")
    platform = await directory.add("ie-platform-words", "platform", "IE")
    config = console_config(hotline, str(hub.make_url("")).rstrip("/"), tmp_path, time_zone="Europe/Berlin")
    console = await aiohttp_client(create_console_app(config))
    await sign_in(console, config)
    form = await (await console.get("/new/takedown-request")).text()
    values = {**takedown_values(platform.id), "message_id": MESSAGE_ID.search(form).group(1)}  # type: ignore[union-attr]
    sent = await console.post("/new/takedown-request", data=form_body(values, csrf_of(form)))
    page = html_lib.unescape(await sent.text())
    assert re.search(r"accepted by the hub at \d\d \w{3} \d{4}, \d\d:\d\d CES?T", page)  # the flash, too
    timeline = re.search(r'<ol class="timeline">(.*?)</ol>', page, re.S)
    assert timeline
    lines = [
        " ".join(re.sub(r"<[^>]+>", "", li).split())
        for li in re.findall(r"<li>(.*?)</li>", timeline[1], re.S)
    ]
    assert all(re.match(r"\d\d \w{3} \d{4}, \d\d:\d\d CES?T ", line) for line in lines), lines
    said = [line.split(" ", 5)[5] for line in lines]
    assert "You opened the case (takedown request)" in said
    assert f"You sent a takedown request to {platform.id}; the hub accepted it" in said
    assert any(s.startswith(f"The hub started a clock for {platform.id}: acknowledge, due ") for s in said), (
        said
    )
    message = re.search(r'<details class="message".*?</details>', page, re.S)
    assert message
    assert "Intimate image" in message[0]  # the answer in the form's words, not "intimate-image"
    assert "intimate-image" not in message[0]


def test_a_message_s_listed_answers_are_shown_in_the_form_s_words(catalog: Any) -> None:
    envelope = json.loads(Path("schemas/takedown-request/examples/valid/full.json").read_text("utf-8"))
    shown = labelled_body(catalog, envelope["type"], envelope["version"], envelope["body"])
    assert (shown["category"], shown["minor_depicted"]) == ("Digital forgery", "No")
    assert [h["alg"] for h in shown["content"][0]["hashes"]] == ["SHA-256", "PDQ"]
    assert shown["content"][0]["url"] == envelope["body"]["content"][0]["url"]  # not an answer from a list
    assert shown["authorisation"]["reference"] == envelope["body"]["authorisation"]["reference"]
    assert shown["authorisation"]["method"] != envelope["body"]["authorisation"]["method"]
    assert labelled_body(catalog, "no-such-template", "1.0", envelope["body"]) == envelope["body"]
