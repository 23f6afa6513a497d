"""Pages from Jinja2 templates (autoescape on), and the plain-language words they use.

Every text is said in the viewer's language (`language`, `hub.core.wording`): `_` in the templates,
the filters below in the page's `lang`. Deadlines are shown as what they mean to the reader now
("due in 5 h 12 min", "overdue by 3 h"),
computed on the server when the page is made, so the page needs no script; the exact time is in a
`<time datetime>` beside it. Times are shown to the minute in the console's time zone (`hub console
--time-zone`, an IANA name; UTC unless given), with the zone's name. Page titles name the screen and,
at most, a case's short id: never a name, a contact detail or a reported URL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from functools import partial
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from hub.console.auth import SESSION
from hub.console.keys import CONFIG, OFFERS_REFERRALS
from hub.console.labels import MESSAGE_TYPES, STATES
from hub.console.language import language_of
from hub.console.schema_form import humanise
from hub.console.sealing import Opened
from hub.console.timeline import timeline_line
from hub.core.clock import time_zone
from hub.core.wording import DEFAULT_LANGUAGE, LANGUAGE_NAMES
from hub.wording import load_wording


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))


def span(seconds: float, language: str = DEFAULT_LANGUAGE) -> str:
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    say = load_wording().say
    if days:
        return say(language, "{days} d {hours} h", days=days, hours=hours)
    if hours:
        return say(language, "{hours} h {minutes} min", hours=hours, minutes=mins)
    return say(language, "{minutes} min", minutes=mins)


def countdown(due_at: str, now: datetime | None = None, language: str = DEFAULT_LANGUAGE) -> str:
    seconds = (parse_time(due_at) - (now or datetime.now(UTC))).total_seconds()
    text = "due in {span}" if seconds >= 0 else "overdue by {span}"
    return load_wording().say(language, text, span=span(seconds, language))


def deadline_text(
    deadline: dict[str, Any],
    now: datetime | None = None,
    zone: tzinfo = UTC,
    language: str = DEFAULT_LANGUAGE,
) -> str:
    state, say = deadline.get("state"), load_wording().say
    if state == "open":
        return countdown(str(deadline["due_at"]), now, language)
    if state == "met":
        return say(language, "met at {time}", time=when(str(deadline.get("met_at", "")), zone, language))
    if state == "breached":
        late = deadline.get("answered_late_at")
        if late:
            return say(language, "missed; answered late at {time}", time=when(str(late), zone, language))
        return say(language, "missed: no answer in time")
    return say(language, humanise(str(state or "")))


def when(value: str, zone: tzinfo = UTC, language: str = DEFAULT_LANGUAGE) -> str:
    """A timestamp as people read it: to the minute, in the console's time zone, named (UTC, CET, CEST)."""
    try:
        return load_wording().short_date(parse_time(value), language, zone)
    except ValueError:
        return value


def local_when(request: web.Request, value: str) -> str:
    """`when` in this console's time zone and the viewer's language, for what a view writes (a flash)."""
    return when(value, time_zone(request.app[CONFIG].time_zone), language_of(request))


def short_id(value: object) -> str:
    return str(value)[:8]


def make_environment(zone: tzinfo = UTC) -> jinja2.Environment:
    """The pages' environment; each filter that says something says it in the page's language (`lang`,
    which `render` puts in every page with `_`, the catalogue's words in it)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hub.console", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    say = load_wording().say

    def in_language(speak: Callable[..., str]) -> Callable[..., str]:
        return jinja2.pass_context(
            lambda ctx, value, *rest: speak(ctx.get("lang", DEFAULT_LANGUAGE), value, *rest)
        )

    env.tests["opened"] = lambda value: isinstance(value, Opened)
    env.filters.update(
        when=in_language(lambda lang, value: when(str(value), zone, lang)),
        short_id=short_id,
        countdown=in_language(lambda lang, value: countdown(str(value), language=lang)),
        deadline_text=in_language(lambda lang, d: deadline_text(d, zone=zone, language=lang)),
        humanise=in_language(lambda lang, value: say(lang, humanise(str(value)))),
        type_label=in_language(lambda lang, t: say(lang, MESSAGE_TYPES.get(str(t), humanise(str(t))))),
        state_label=in_language(lambda lang, s: say(lang, STATES.get(str(s), humanise(str(s))))),
        timeline_line=timeline_line,  # e|timeline_line(me, lang): callable outside a page too
        case_link=lambda case_id: Markup('<a href="/cases/{}">{}</a>').format(case_id, short_id(case_id)),
        field_label=in_language(lambda lang, name: say(lang, humanise(str(name)))),
        inner=in_language(lambda lang, words: words.lower() if lang == DEFAULT_LANGUAGE else words),
        time_tag=in_language(
            lambda lang, value: Markup('<time datetime="{}">{}</time>').format(
                value, when(str(value), zone, lang)
            )
        ),
    )
    return env


def say_in_page(language: str, text: str, /, **values: object) -> Markup:
    """`_` in a template: the text in the page's language, escaped, its values escaped unless they are
    markup already (a `<time>` of `time_tag`), so a sentence can hold an element where its language
    puts it."""
    words = escape(load_wording().words(language, text))  # escaped: a Markup of it is safe
    return words.format(**values) if values else words


def render(
    env: jinja2.Environment,
    request: web.Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> web.Response:
    session = request.get(SESSION)
    language = language_of(request)
    page = {
        "lang": language,
        "_": partial(say_in_page, language),
        "languages": LANGUAGE_NAMES,
        "csrf": session.csrf if session is not None else "",
        "flash": session.take_flash() if session is not None else [],
        "signed_in": session is not None,
        "path": request.path,
        "here": request.path_qs if request.method in ("GET", "HEAD") else request.path,
        "me": request.app[CONFIG].participant_id,
        "zone_name": request.app[CONFIG].time_zone,  # the times a form takes are in it
        "offers_referrals": request.get(OFFERS_REFERRALS, True),
        **context,
    }
    text = env.get_template(template).render(page)
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
