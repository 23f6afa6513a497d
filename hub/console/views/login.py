"""Signing in with the link printed at start (and the passphrase, when one was set), and out."""

from __future__ import annotations

from aiohttp import web

from hub.console.auth import check_login, end_session, redirect, start_session
from hub.console.keys import CONFIG, JINJA, SESSIONS
from hub.console.render import render


def _form(request: web.Request, token: str, error: str, status: int) -> web.Response:
    config = request.app[CONFIG]
    context = {
        "title": "Sign in",
        "token": token,
        "needs_passphrase": config.passphrase is not None,
        "error": error,
        "participant_id": config.participant_id,
    }
    return render(request.app[JINJA], request, "login.html", context, status=status)


async def login_page(request: web.Request) -> web.Response:
    config, sessions = request.app[CONFIG], request.app[SESSIONS]
    token = request.query.get("token")
    if token is None:
        return _form(request, "", "", 200)
    if config.passphrase is None:
        if await check_login(config, sessions, token, None):
            response = redirect("/inbox")  # a clean URL: the token leaves the address bar
            start_session(config, sessions, response)
            return response
        return _form(request, "", "This sign-in link is not valid. Use the link the console printed.", 403)
    return _form(request, token, "", 200)


async def login_submit(request: web.Request) -> web.Response:
    config, sessions = request.app[CONFIG], request.app[SESSIONS]
    posted = await request.post()
    token, passphrase = posted.get("token"), posted.get("passphrase")
    token_text = token if isinstance(token, str) else ""
    if await check_login(config, sessions, token_text, passphrase if isinstance(passphrase, str) else None):
        response = redirect("/inbox")
        start_session(config, sessions, response)
        return response
    wrong = "the passphrase or the sign-in token" if config.passphrase else "the sign-in token"
    return _form(request, "", f"Not signed in: {wrong} is not right.", 403)


async def logout(request: web.Request) -> web.Response:
    return end_session(request.app[CONFIG], request.app[SESSIONS], request)
