"""A case's timeline as sentences that say who did what to whom (issue 17).

Each event the hub records names an `actor`, sometimes a `subject` and, for a message, whom it was `to`;
what those mean differs by event: the actor of `message.delivered` is the recipient the hub delivered
to, of `deadline.started` the hub, the clock being the subject's. The generic "<event> by <actor> for
<subject>" therefore read "Message delivered by ie-platform". Here each event becomes one sentence
in the reader's terms ("The hub delivered it to ie-platform"); the viewer's own organisation is
"you"; states and clocks are said in words (`labels.STATES`, humanised kinds), never as raw values.
The events shown are the ones the hub gives this viewer (`hub/core/case_view.py` decides, not this).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hub.console.labels import MESSAGE_TYPES, STATES
from hub.console.schema_form import humanise
from hub.core.hub_identity import TIMELINE_ACTOR

Event = Mapping[str, Any]


def who(participant: object, me: str) -> str:
    if participant == TIMELINE_ACTOR:
        return "the hub"
    return "you" if participant == me else str(participant or "someone")


def _to(event: Event, me: str) -> str:
    to = event.get("to")
    return ", ".join(who(r, me) for r in to) if isinstance(to, list) and to else ""


def _clock(event: Event) -> str:
    return humanise(str(event.get("deadline") or "deadline")).lower()


def _state(value: object) -> str:
    return STATES.get(str(value), humanise(str(value)).lower()) if value else "new"


def _message(event: Event) -> str:
    kind = event.get("message_type")
    return MESSAGE_TYPES.get(str(kind), humanise(str(kind))).lower() if kind else "a message"


def _sent(e: Event, me: str) -> str:
    line = f"{who(e.get('actor'), me)} sent {_article(_message(e))}"
    if _to(e, me):
        line += f" to {_to(e, me)}"
    if e.get("attested_by"):
        channel = "e-mail" if e.get("channel") == "email" else e.get("channel")
        line += f", answered by {channel}, attested by the hub"
    return line + "; the hub accepted it"


def _article(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


_LINES: dict[str, Callable[[Event, str], str]] = {
    "case.opened": lambda e, me: (
        f"{who(e.get('actor'), me)} opened the case"
        + (f" ({humanise(str(e['case_type'])).lower()})" if e.get("case_type") else "")
    ),
    "case.shared": lambda e, me: (
        f"{who(e.get('actor'), me)} shared the case with {who(e.get('subject'), me)}"
        + (" (escalation)" if e.get("reason") == "escalation" else "")
    ),
    "case.closed": lambda e, me: (
        f"{who(e.get('actor'), me)} closed the case"
        + (f" ({humanise(str(e['reason'])).lower()})" if e.get("reason") else "")
    ),
    "case.purged": lambda e, me: "the hub deleted the case's personal data (retention period over)",
    "message.accepted": _sent,
    "message.delivered": lambda e, me: f"the hub delivered it to {who(e.get('actor'), me)}",
    "message.retrieved": lambda e, me: f"{who(e.get('actor'), me)} took it from the inbox",
    "message.forwarded": lambda e, me: (
        f"the hub forwarded it for {who(e.get('subject'), me)}"
        f" to {who(e.get('actor'), me)} (its receipt kept)"
    ),
    "message.received_from_hub": lambda e, me: (
        f"it came through the hub {who(e.get('actor'), me)} (its receipt kept)"
    ),
    "recipient.state_changed": lambda e, me: (
        f"{who(e.get('subject'), me)}: {_state(e.get('to_state'))}"
        + (f" (was: {_state(e.get('from_state'))})" if e.get("from_state") else "")
    ),
    "deadline.started": lambda e, me: f"the hub started a clock for {who(e.get('subject'), me)}: {_clock(e)}",
    "deadline.met": lambda e, me: f"{who(e.get('subject'), me)} met the deadline: {_clock(e)}",
    "deadline.breached": lambda e, me: (
        f"{who(e.get('subject'), me)} missed the deadline: {_clock(e)}; the hub escalated"
    ),
    "deadline.answered_late": lambda e, me: (
        f"{who(e.get('subject'), me)} answered after the deadline: {_clock(e)}"
    ),
    "deadline.reminder": lambda e, me: f"the hub reminded {who(e.get('subject'), me)}: {_clock(e)}",
    "deadline.reminded": lambda e, me: f"the hub reminded {who(e.get('subject'), me)}: {_clock(e)}",
    "deadline.cancelled": lambda e, me: f"the clock of {who(e.get('subject'), me)} stopped: {_clock(e)}",
    "deletion.confirmed": lambda e, me: f"{who(e.get('actor'), me)} confirmed the deletion",
    "delivery.dead": lambda e, me: (
        f"the hub gave up delivering to {who(e.get('subject') or e.get('actor'), me)}"
    ),
    "delivery.withheld": lambda e, me: f"the hub held back the delivery to {who(e.get('subject'), me)}",
    "signals.reported": lambda e, me: f"{who(e.get('actor'), me)} reported its matcher's outcomes",
    "mail.unauthenticated": lambda e, me: "an e-mail that could not be authenticated came (kept as evidence)",
    "mail.unrecognised": lambda e, me: "an e-mail reply that was not understood came (kept as evidence)",
    "mail.not_applied": lambda e, me: "an e-mail answer came that could not be applied to the case",
}


def timeline_line(event: Event, me: str) -> str:
    """One event as a sentence; an event not known here says its name in words."""
    say = _LINES.get(str(event.get("event")))
    if say is not None:
        line = say(event, me)
    else:
        line = f"{humanise(str(event.get('event', '')))} ({who(event.get('actor'), me)})"
    # a sentence starts with a capital, a participant's id as it is written
    return line[:1].upper() + line[1:] if line.startswith(_OWN_WORDS) else line


_OWN_WORDS = ("you", "the ", "an ", "a ", "it ")
