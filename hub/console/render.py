"""Pages from Jinja2 templates (autoescape on), and the plain-language words they use.

Deadlines are shown as what they mean to the reader now ("due in 5 h 12 min", "overdue by 3 h"),
computed on the server when the page is made, so the page needs no script; the exact time is in a
`<time datetime>` beside it. Page titles name the screen and, at most, a case's short id: never a
name, a contact detail or a reported URL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jinja2
from aiohttp import web

from hub.console.auth import SESSION
from hub.console.keys import CONFIG, OFFERS_REFERRALS
from hub.console.schema_form import humanise
from hub.console.sealing import Opened

EVENTS = {
    "case.opened": "Case opened",
    "case.shared": "Case shared",
    "case.closed": "Case closed",
    "case.purged": "Case data deleted (retention period over)",
    "message.accepted": "Message accepted by the hub",
    "message.delivered": "Message delivered",
    "message.retrieved": "Message retrieved by its recipient",
    "message.forwarded": "Message forwarded to the recipient's hub (its receipt kept)",
    "message.received_from_hub": "Message received from the sender's hub (its receipt kept)",
    "recipient.state_changed": "Recipient's state changed",
    "deadline.started": "Deadline started",
    "deadline.met": "Deadline met",
    "deadline.breached": "Deadline missed",
    "deadline.answered_late": "Answered after the deadline",
    "deadline.reminder": "Reminder sent",
    "deadline.reminded": "Reminder sent",
    "deadline.cancelled": "Deadline stopped",
    "delivery.dead": "Delivery failed for good",
    "mail.unauthenticated": "Unauthenticated e-mail (kept as evidence, not applied)",
    "mail.unrecognised": "E-mail reply not understood (kept as evidence)",
    "mail.not_applied": "E-mail answer not applied to the case",
    "signals.reported": "Matcher outcomes reported for hash signals",
}
MESSAGE_TYPES = {
    "takedown-request": "Takedown request",
    "assistance-request": "Assistance request",
    "acknowledgement": "Acknowledgement",
    "status-update": "Status update",
    "withdrawal": "Withdrawal",
    "case-closure": "Case closure",
    "deletion-confirmation": "Deletion confirmation",
    "counter-notice": "Counter-notice",
    "information-request": "Information request",
    "information-response": "Information response",
    "escalation": "Escalation by the hub",
    "match-report": "Match report",
}
STATES = {
    "queued": "waiting in its inbox",
    "retrieved": "retrieved, not yet acknowledged",
    "acknowledged": "acknowledged, decision pending",
    "actioned": "content removed or restricted",
    "declined": "declined",
    "withdrawn": "withdrawn",
}


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))


def span(seconds: float) -> str:
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


def countdown(due_at: str, now: datetime | None = None) -> str:
    seconds = (parse_time(due_at) - (now or datetime.now(UTC))).total_seconds()
    return f"due in {span(seconds)}" if seconds >= 0 else f"overdue by {span(seconds)}"


def deadline_text(deadline: dict[str, Any], now: datetime | None = None) -> str:
    state = deadline.get("state")
    if state == "open":
        return countdown(str(deadline["due_at"]), now)
    if state == "met":
        return f"met at {when(str(deadline.get('met_at', '')))}"
    if state == "breached":
        late = deadline.get("answered_late_at")
        return f"missed; answered late at {when(str(late))}" if late else "missed: no answer in time"
    return str(state or "")


def when(value: str) -> str:
    """A timestamp as people read it, in UTC."""
    try:
        return parse_time(value).astimezone(UTC).strftime("%d %b %Y, %H:%M UTC")
    except ValueError:
        return value


def short_id(value: object) -> str:
    return str(value)[:8]


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hub.console", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.tests["opened"] = lambda value: isinstance(value, Opened)
    env.filters.update(
        when=when,
        short_id=short_id,
        countdown=countdown,
        deadline_text=deadline_text,
        humanise=humanise,
        event_label=lambda e: EVENTS.get(str(e), humanise(str(e))),
        type_label=lambda t: MESSAGE_TYPES.get(str(t), humanise(str(t))),
        state_label=lambda s: STATES.get(str(s), humanise(str(s))),
    )
    return env


def render(
    env: jinja2.Environment,
    request: web.Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> web.Response:
    session = request.get(SESSION)
    page = {
        "csrf": session.csrf if session is not None else "",
        "flash": session.take_flash() if session is not None else [],
        "signed_in": session is not None,
        "path": request.path,
        "me": request.app[CONFIG].participant_id,
        "offers_referrals": request.get(OFFERS_REFERRALS, True),
        **context,
    }
    text = env.get_template(template).render(page)
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
