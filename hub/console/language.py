"""The console's language: the viewer's choice (the language link in every page's header, kept in a
cookie), else the browser's Accept-Language, else English (`hub.core.wording.pick_language`).

Every text a page shows is said through `say` (views) or `_` (templates) in the request's language,
from the one catalogue the e-mail notices use too (`hub.wording`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from hub.console.auth import redirect
from hub.console.keys import CONFIG, LANGUAGE
from hub.core.wording import LANGUAGES, Phrase, pick_language
from hub.wording import load_wording

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
YEAR = 365 * 24 * 3600


def cookie_name(request: web.Request) -> str:
    return f"{request.app[CONFIG].cookie_name}_language"  # per console, as its session cookie


def language_of(request: web.Request) -> str:
    return request.get(LANGUAGE) or pick_language(None, request.headers.get("Accept-Language", ""))


def say(request: web.Request, text: str, /, **values: object) -> str:
    """`text` (English, the catalogue's key) in the viewer's language."""
    return load_wording().say(language_of(request), text, **values)


def say_phrase(request: web.Request, phrase: Phrase) -> str:
    """A phrase built in core (`hub.core.wording.Phrase`) in the viewer's language."""
    return load_wording().say_phrase(language_of(request), phrase)


@web.middleware
async def language_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    chosen = request.cookies.get(cookie_name(request))
    request[LANGUAGE] = pick_language(chosen, request.headers.get("Accept-Language", ""))
    return await handler(request)


async def choose_language(request: web.Request) -> web.Response:
    """`GET /language?to=de&next=/cases`: keep the choice and go back to the page it was made on."""
    language = request.query.get("to", "")
    if language not in LANGUAGES:
        raise web.HTTPNotFound(text="No such language.")
    back = request.query.get("next", "/")
    if not back.startswith("/") or back.startswith("//") or "\\" in back:
        back = "/"  # only a page of this console: never somewhere else
    response = redirect(back)
    response.set_cookie(cookie_name(request), language, samesite="Strict", path="/", max_age=YEAR)
    return response
