"""Signing in with a sign-in link (and the passphrase, when one was set), asking for a new link, and out.

Opening a link only shows the "Sign in" button: the POST spends the link (`auth.LoginLinks`), so a
link previewer or a prefetching browser cannot use it up, and nothing changes on a GET. A used, expired
or replaced link is refused with a way to ask for a new one; the new link is printed where the console
runs (its terminal), never in the page, so only the person who started the console can use it.
"""

from __future__ import annotations

from aiohttp import web

from hub.console.auth import check_login, end_session, redirect, start_session
from hub.console.keys import CONFIG, JINJA, LOGIN_LINKS, SESSIONS
from hub.console.language import say
from hub.console.render import render

SPENT = "This sign-in link has been used, has expired or was replaced by a newer one. Each link signs in once, within {minutes} minutes of being printed. Ask for a new one below."  # noqa: E501
NEW_LINK = "A new sign-in link was printed where the console runs (its terminal). It works once, within {minutes} minutes."  # noqa: E501


def _minutes(request: web.Request) -> int:
    return max(1, request.app[LOGIN_LINKS].lifetime // 60)


def _form(request: web.Request, token: str, error: str, status: int, note: str = "") -> web.Response:
    config = request.app[CONFIG]
    context = {
        "title": say(request, "Sign in"),
        "token": token,
        "needs_passphrase": config.passphrase is not None,
        "error": error,
        "note": note,
        "participant_id": config.participant_id,
    }
    return render(request.app[JINJA], request, "login.html", context, status=status)


async def login_page(request: web.Request) -> web.Response:
    token = request.query.get("token")
    if request.query.get("new") == "1":
        return _form(request, "", "", 200, say(request, NEW_LINK, minutes=_minutes(request)))
    if token is None:
        return _form(request, "", "", 200)
    if not request.app[LOGIN_LINKS].usable(token):
        return _form(request, "", say(request, SPENT, minutes=_minutes(request)), 403)
    return _form(request, token, "", 200)


async def login_submit(request: web.Request) -> web.Response:
    config, sessions, links = request.app[CONFIG], request.app[SESSIONS], request.app[LOGIN_LINKS]
    posted = await request.post()
    token, passphrase = posted.get("token"), posted.get("passphrase")
    token_text = token if isinstance(token, str) else ""
    given = passphrase if isinstance(passphrase, str) else None
    if await check_login(config, sessions, links, token_text, given):
        response = redirect("/inbox")
        start_session(config, sessions, response)
        return response
    if not links.usable(token_text):
        return _form(request, "", say(request, SPENT, minutes=_minutes(request)), 403)
    return _form(request, token_text, say(request, "Not signed in: the passphrase is not right."), 403)


async def new_link(request: web.Request) -> web.Response:
    """Print a new sign-in link where the console runs; the old one stops working."""
    request.app[LOGIN_LINKS].issue()
    return redirect("/login?new=1")


async def logout(request: web.Request) -> web.Response:
    return end_session(request.app[CONFIG], request.app[SESSIONS], request)
