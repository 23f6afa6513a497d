"""Pages from Jinja2 templates (autoescape on), and the plain-language words they use.

Deadlines are shown as what they mean to the reader now ("due in 5 h 12 min", "overdue by 3 h"),
computed on the server when the page is made, so the page needs no script; the exact time is in a
`<time datetime>` beside it. Times are shown to the minute in the console's time zone (`hub console
--time-zone`, an IANA name; UTC unless given), with the zone's name. Page titles name the screen and,
at most, a case's short id: never a name, a contact detail or a reported URL.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from aiohttp import web

from hub.console.auth import SESSION
from hub.console.keys import CONFIG, OFFERS_REFERRALS
from hub.console.labels import MESSAGE_TYPES, STATES
from hub.console.schema_form import humanise
from hub.console.sealing import Opened
from hub.console.timeline import timeline_line


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


def deadline_text(deadline: dict[str, Any], now: datetime | None = None, zone: tzinfo = UTC) -> str:
    state = deadline.get("state")
    if state == "open":
        return countdown(str(deadline["due_at"]), now)
    if state == "met":
        return f"met at {when(str(deadline.get('met_at', '')), zone)}"
    if state == "breached":
        late = deadline.get("answered_late_at")
        return f"missed; answered late at {when(str(late), zone)}" if late else "missed: no answer in time"
    return str(state or "")


def when(value: str, zone: tzinfo = UTC) -> str:
    """A timestamp as people read it: to the minute, in the console's time zone, named (UTC, CET, CEST)."""
    try:
        return parse_time(value).astimezone(zone).strftime("%d %b %Y, %H:%M %Z")
    except ValueError:
        return value


def time_zone(name: str) -> tzinfo:
    """The IANA time zone of that name (e.g. Europe/Berlin); ValueError if there is none."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"no time zone named {name!r}: give an IANA name such as Europe/Berlin") from None


def local_when(request: web.Request, value: str) -> str:
    """`when` in this console's time zone, for what a view writes (a flash message)."""
    return when(value, time_zone(request.app[CONFIG].time_zone))


def short_id(value: object) -> str:
    return str(value)[:8]


def make_environment(zone: tzinfo = UTC) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hub.console", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.tests["opened"] = lambda value: isinstance(value, Opened)
    env.filters.update(
        when=lambda value: when(str(value), zone),
        short_id=short_id,
        countdown=countdown,
        deadline_text=lambda deadline: deadline_text(deadline, zone=zone),
        humanise=humanise,
        type_label=lambda t: MESSAGE_TYPES.get(str(t), humanise(str(t))),
        state_label=lambda s: STATES.get(str(s), humanise(str(s))),
        timeline_line=timeline_line,
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
