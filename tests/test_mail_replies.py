"""Reading a platform's e-mail reply (pure): the first line that is not empty, quoted, a greeting or an
attribution decides; anything else is unrecognised, never guessed at."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from hub.core.attested_answer import MAX_REASON, Answer, Reading
from hub.mailin.replies import html_text, read_answer, read_reply

REASON = "The reported item is not on our service; the URL belongs to another host."


@pytest.mark.parametrize(
    "text",
    [
        "ACKNOWLEDGED",
        "acknowledged",
        "Acknowledged.",
        "  ACKNOWLEDGED  \n\nThanks, the abuse team",
        "ACKNOWLEDGED - ticket 4711 opened",
        "Hello team,\n\nACKNOWLEDGED\n",
        "Dear Sir or Madam,\r\nACKNOWLEDGED\r\n",
        "Guten Tag,\nACKNOWLEDGED",
        "> REMOVED\n> quoted from someone else\nACKNOWLEDGED",
        "On Tue, 2 Jun 2026 at 14:03, Referral hub <hub@example.org> wrote:\n> old\nACKNOWLEDGED",
    ],
)
def test_acknowledged(text: str) -> None:
    assert read_answer(text) == Reading(Answer.ACKNOWLEDGED)


@pytest.mark.parametrize("text", ["REMOVED", "Removed!", "REMOVED \u2013 all three items", "Hi,\nremoved"])
def test_removed(text: str) -> None:
    assert read_answer(text) == Reading(Answer.REMOVED)


@pytest.mark.parametrize("text", ["DELETED", "deleted.", "DELETED - hashes too", "Hello team,\nDeleted"])
def test_deleted(text: str) -> None:
    assert read_answer(text) == Reading(Answer.DELETED)


def test_declined_takes_the_reason_to_the_end_of_its_paragraph() -> None:
    text = f"DECLINED: {REASON}\nWe checked it twice.\n\nKind regards\n-- \nAbuse desk"
    assert read_answer(text) == Reading(Answer.DECLINED, f"{REASON}\nWe checked it twice.")


def test_declined_reason_may_start_on_the_next_line() -> None:
    assert read_answer(f"Declined:\n{REASON}\n> quoted") == Reading(Answer.DECLINED, REASON)


def test_a_long_reason_is_cut_to_the_template_maximum() -> None:
    reading = read_answer("DECLINED: " + "x" * (MAX_REASON + 100))
    assert reading.answer is Answer.DECLINED
    assert reading.reason is not None
    assert len(reading.reason) == MAX_REASON


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n   \n",
        "> ACKNOWLEDGED",
        "Thanks, we will look into it.\nACKNOWLEDGED",
        "Removed nothing, this is lawful content",
        "ACKNOWLEDGEDX",
        "NOT REMOVED",
        "Deleted nothing, we keep it",
        "DELETEDX",
        "DECLINED",
        "DECLINED: too short",
        "DECLINED because we can",
        "Hello team,\n\nPlease call us.",
    ],
)
def test_anything_else_is_unrecognised(text: str) -> None:
    assert read_answer(text) == Reading(Answer.UNRECOGNISED)


def _mail(**parts: str) -> bytes:
    message = EmailMessage()
    message["From"] = parts.get("sender", "Abuse Desk <Abuse@Platform.example>")
    message["To"] = "case+x@replies.example.org"
    message["Subject"] = "Re: [Referral hub] takedown-request"
    if "plain" in parts:
        message.set_content(parts["plain"])
        if "html" in parts:
            message.add_alternative(parts["html"], subtype="html")
    else:
        message.set_content(parts["html"], subtype="html")
    return bytes(message)


def test_a_mail_is_read_from_its_plain_text_part() -> None:
    reply = read_reply(_mail(plain="REMOVED\n", html="<p>ACKNOWLEDGED</p>"))
    assert reply.reading == Reading(Answer.REMOVED)


def test_an_html_only_mail_is_read_without_its_quoted_block() -> None:
    html = (
        "<html><head><style>p {color: red}</style></head><body><div>Hello,</div><div>DECLINED: "
        f"{REASON}</div><blockquote><p>ACKNOWLEDGED</p></blockquote></body></html>"
    )
    assert read_reply(_mail(html=html)).reading == Reading(Answer.DECLINED, REASON)


def test_html_quotes_only_is_unrecognised() -> None:
    assert read_reply(_mail(html="<blockquote>REMOVED</blockquote>")).reading.answer is Answer.UNRECOGNISED


def test_html_text_keeps_line_breaks_and_entities() -> None:
    assert html_text("a<br>b&amp;c<p>d</p>").split() == ["a", "b&c", "d"]


def test_a_mail_with_an_unknown_charset_is_still_read() -> None:
    raw = (
        b"From: abuse@platform.example\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\nACKNOWLEDGED\r\n"
    )
    assert read_reply(raw).reading == Reading(Answer.ACKNOWLEDGED)
