"""A case's timeline as sentences that say who did what to whom (issue 17).

Each event the hub records names an `actor`, sometimes a `subject` and, for a message, whom it was `to`;
what those mean differs by event: the actor of `message.delivered` is the recipient the hub delivered
to, of `deadline.started` the hub, the clock being the subject's. The generic "<event> by <actor> for
<subject>" therefore read "Message delivered by ie-platform". Here each event becomes one sentence
in the reader's terms ("The hub delivered it to ie-platform"), in the reader's language; the viewer's
own organisation is "you" ("Ihre Organisation": German sentences stay in the third person, and name
the others in the accusative, `who(..., OBJECT)`); states and clocks are said in words
(`labels.STATES`, humanised kinds), never as raw values. The events shown are the ones the hub gives
this viewer (`hub/core/case_view.py` decides, not this).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hub.console.labels import MESSAGE_TYPES, STATES
from hub.console.schema_form import humanise
from hub.core.hub_identity import TIMELINE_ACTOR
from hub.core.wording import DEFAULT_LANGUAGE
from hub.wording import load_wording

Event = Mapping[str, Any]
Line = tuple[str, dict[str, object]]  # an English sentence (the catalogue's key) and its values
SUBJECT, OBJECT = "", "object"  # how a party is named: doing the thing, or done to


class _Speaker:
    def __init__(self, me: str, language: str) -> None:
        self.me, self.language = me, language

    def say(self, text: str, /, **values: object) -> str:
        return load_wording().say(self.language, text, **values)

    def lower(self, words: str) -> str:
        """Words inside a sentence: lower case in English; German keeps its nouns' capitals."""
        return words.lower() if self.language == DEFAULT_LANGUAGE else words

    def who(self, participant: object, role: str = SUBJECT) -> str:
        if participant == TIMELINE_ACTOR:
            return load_wording().say_as(self.language, role, "the hub")
        if participant == self.me:
            return load_wording().say_as(self.language, role, "you")
        return str(participant or load_wording().say_as(self.language, role, "someone"))

    def to(self, event: Event) -> str:
        to = event.get("to")
        return ", ".join(self.who(r, OBJECT) for r in to) if isinstance(to, list) and to else ""

    def clock(self, event: Event) -> str:
        return self.lower(self.say(humanise(str(event.get("deadline") or "deadline"))))

    def state(self, value: object) -> str:
        if not value:
            return self.say("new")
        return self.say(STATES.get(str(value), humanise(str(value)).lower()))

    def message(self, event: Event) -> str:
        kind = event.get("message_type")
        return self.say(MESSAGE_TYPES.get(str(kind), humanise(str(kind)))) if kind else ""


def _article(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _sent(e: Event, s: _Speaker) -> Line:
    label = s.message(e)
    if s.language == DEFAULT_LANGUAGE:
        message = _article(label.lower()) if label else "a message"
    else:  # German names the type after the sentence's own noun ("eine Nachricht ... (Rücknahme)")
        message = label or s.say("Message")
    values: dict[str, object] = {"who": s.who(e.get("actor")), "message": message, "to": s.to(e)}
    if e.get("attested_by"):
        values["channel"] = s.say("e-mail") if e.get("channel") == "email" else str(e.get("channel"))
        if values["to"]:
            return (
                "{who} sent {message} to {to}, answered by {channel}, attested by the hub; the hub accepted it",  # noqa: E501
                values,
            )
        return "{who} sent {message}, answered by {channel}, attested by the hub; the hub accepted it", values
    if values["to"]:
        return "{who} sent {message} to {to}; the hub accepted it", values
    return "{who} sent {message}; the hub accepted it", values


def _opened(e: Event, s: _Speaker) -> Line:
    if e.get("case_type"):
        kind = s.lower(s.message({"message_type": e["case_type"]}))
        return "{who} opened the case ({kind})", {"who": s.who(e.get("actor")), "kind": kind}
    return "{who} opened the case", {"who": s.who(e.get("actor"))}


def _closed(e: Event, s: _Speaker) -> Line:
    if e.get("reason"):
        reason = s.lower(s.say(humanise(str(e["reason"]))))
        return "{who} closed the case ({reason})", {"who": s.who(e.get("actor")), "reason": reason}
    return "{who} closed the case", {"who": s.who(e.get("actor"))}


def _state_changed(e: Event, s: _Speaker) -> Line:
    values: dict[str, object] = {"who": s.who(e.get("subject")), "state": s.state(e.get("to_state"))}
    if e.get("from_state"):
        return "{who}: {state} (was: {before})", {**values, "before": s.state(e.get("from_state"))}
    return "{who}: {state}", values


def _subject(text: str) -> Callable[[Event, _Speaker], Line]:
    """A line about the event's subject (`who`, named as the one it is done to) and its clock."""
    return lambda e, s: (text, {"who": s.who(e.get("subject"), OBJECT), "clock": s.clock(e)})


def _actor(text: str) -> Callable[[Event, _Speaker], Line]:
    return lambda e, s: (text, {"who": s.who(e.get("actor"))})


_LINES: dict[str, Callable[[Event, _Speaker], Line]] = {
    "case.opened": _opened,
    "case.shared": lambda e, s: (
        "{who} shared the case with {whom} (escalation)"
        if e.get("reason") == "escalation"
        else "{who} shared the case with {whom}",
        {"who": s.who(e.get("actor")), "whom": s.who(e.get("subject"), OBJECT)},
    ),
    "case.closed": _closed,
    "case.purged": lambda e, s: ("the hub deleted the case's personal data (retention period over)", {}),
    "message.accepted": _sent,
    "message.delivered": lambda e, s: (
        # a further destination of the recipient's (an HMA bank beside its webhook) tells no one
        "the hub delivered it to {who} (further destination {destination})"
        if e.get("destination")
        else "the hub delivered it to {who}",
        {"who": s.who(e.get("actor"), OBJECT), "destination": str(e.get("destination", ""))},
    ),
    "message.retrieved": _actor("{who} took it from the inbox"),
    "message.forwarded": lambda e, s: (
        "the hub forwarded it for {whom} to {who} (its receipt kept)",
        {"whom": s.who(e.get("subject"), OBJECT), "who": s.who(e.get("actor"), OBJECT)},
    ),
    "message.received_from_hub": lambda e, s: (
        "it came through the hub {who} (its receipt kept)",
        {"who": s.who(e.get("actor"), OBJECT)},
    ),
    "recipient.state_changed": _state_changed,
    "deadline.started": _subject("the hub started a clock for {who}: {clock}"),
    "deadline.met": lambda e, s: (
        "{who} met the deadline: {clock}",
        {"who": s.who(e.get("subject")), "clock": s.clock(e)},
    ),
    "deadline.breached": lambda e, s: (
        "{who} missed the deadline: {clock}; the hub escalated",
        {"who": s.who(e.get("subject")), "clock": s.clock(e)},
    ),
    "deadline.answered_late": lambda e, s: (
        "{who} answered after the deadline: {clock}",
        {"who": s.who(e.get("subject")), "clock": s.clock(e)},
    ),
    "deadline.reminder": _subject("the hub reminded {who}: {clock}"),
    "deadline.reminded": _subject("the hub reminded {who}: {clock}"),
    "deadline.cancelled": _subject("the clock of {who} stopped: {clock}"),
    "deletion.confirmed": _actor("{who} confirmed the deletion"),
    "delivery.dead": lambda e, s: (
        "the hub gave up delivering to {who}",
        {"who": s.who(e.get("subject") or e.get("actor"), OBJECT)},
    ),
    "delivery.withheld": _subject("the hub held back the delivery to {who}"),
    "signals.reported": _actor("{who} reported its matcher's outcomes"),
    "mail.unauthenticated": lambda e, s: (
        "an e-mail that could not be authenticated came (kept as evidence)",
        {},
    ),
    "mail.unrecognised": lambda e, s: ("an e-mail reply that was not understood came (kept as evidence)", {}),
    "mail.not_applied": lambda e, s: ("an e-mail answer came that could not be applied to the case", {}),
}


def timeline_line(event: Event, me: str, language: str = DEFAULT_LANGUAGE) -> str:
    """One event as a sentence; an event not known here says its name in words."""
    speaker = _Speaker(me, language)
    say = _LINES.get(str(event.get("event")))
    if say is not None:
        text, values = say(event, speaker)
    else:
        text = "{event} ({who})"
        values = {"event": humanise(str(event.get("event", ""))), "who": speaker.who(event.get("actor"))}
    line = speaker.say(text, **values)
    # a sentence starts with a capital, a participant's id as it is written
    ids = [str(event.get(k)) for k in ("actor", "subject") if event.get(k) not in (None, me, TIMELINE_ACTOR)]
    return line if any(line.startswith(i) for i in ids) else line[:1].upper() + line[1:]


def who(participant: object, me: str, language: str = DEFAULT_LANGUAGE) -> str:
    """A party as a sentence names it: "the hub", "you", or its id."""
    return _Speaker(me, language).who(participant)
