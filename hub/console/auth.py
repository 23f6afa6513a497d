"""Who may use the console: the holder of the login link (and passphrase), from this machine only.

The key the console holds signs in the organisation's name, so the page is locked down like a local
notebook server, with more care:

- the console listens on 127.0.0.1 unless told otherwise, and answers only requests whose Host header is a
  name it expects (loopback, or the listen address): a web page elsewhere cannot reach it by DNS rebinding;
- a random sign-in link, printed where the console runs as `http://127.0.0.1:PORT/login?token=...`, is
  good once and for a short time (`LoginLinks`, `--link-seconds`, 10 minutes by default): opening it
  shows a "Sign in" button (a GET changes nothing, so a link previewer cannot spend it), and the POST
  exchanges it for a session cookie (HttpOnly, SameSite=Strict, named per console so two consoles on one
  machine do not clash). A used, expired or replaced link is refused; the sign-in page can ask for a new
  one, which is printed where the console runs, never shown in the page. With `--passphrase-file` the
  passphrase is asked for as well. Both are compared in constant time; failures are slowed down a little;
- only POST has side effects (sending, fetching the inbox, signing in and out): every POST must carry the
  session's CSRF token, and a cross-site Origin or `Sec-Fetch-Site` is refused; GET pages only read;
- every answer forbids framing, scripts, caching, and referrers to other sites.

Nothing here logs a token, a passphrase or a session id.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

from hub.console.config import ConsoleConfig

log = structlog.get_logger("hub.console")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PATHS = frozenset({"/login", "/login/link", "/static/console.css", "/language"})
CSRF_FIELD = "csrf"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # no referrer to other sites; Origin kept for our own forms
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class LoginLinks:
    """The console's sign-in links: one live at a time, each good once, for `lifetime` seconds.

    `issue()` makes a new link (the old one stops working) and hands its token to `on_issue`, which
    prints it where the console runs. `clock` is monotonic seconds (a test passes its own).
    """

    def __init__(self, first: str, lifetime: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime = lifetime
        self._clock = clock
        self._token = first
        self._issued = clock()
        self._used = False
        self.on_issue: Callable[[str], None] | None = None

    def issue(self) -> str:
        self._token = secrets.token_urlsafe(32)
        self._issued = self._clock()
        self._used = False
        if self.on_issue is not None:
            self.on_issue(self._token)
        return self._token

    def usable(self, token: str | None) -> bool:
        """The live link's token, not yet used and not expired (compared in constant time)."""
        fresh = self._clock() - self._issued < self.lifetime
        return same_secret(token, self._token) and not self._used and fresh

    def spend(self) -> None:
        self._used = True


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    last_seen: float = field(default_factory=time.monotonic)
    flash: list[str] = field(default_factory=list)

    def take_flash(self) -> list[str]:
        """Notes for the next page (POST, redirect, GET), shown once."""
        notes, self.flash = self.flash, []
        return notes


SESSION = web.RequestKey("console_session", Session)


class SessionStore:
    """Sessions live in memory only: restarting the console logs everyone out."""

    def __init__(self, idle_seconds: int) -> None:
        self._sessions: dict[str, Session] = {}
        self._idle = idle_seconds
        self.failures = 0

    def create(self) -> tuple[str, Session]:
        session_id = secrets.token_urlsafe(32)
        self._sessions[session_id] = session = Session()
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        now = time.monotonic()
        if session is None or now - session.last_seen > self._idle:
            self._sessions.pop(session_id, None)
            return None
        session.last_seen = now
        return session

    def drop(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)


def same_secret(given: str | None, expected: str) -> bool:
    return hmac.compare_digest((given or "").encode("utf-8"), expected.encode("utf-8"))


def host_name(host: str | None) -> str:
    """The name in a Host header, without its port (`[::1]:8080` -> `[::1]`)."""
    if not host:
        return ""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()


def redirect(location: str) -> web.Response:
    """A 303 to a path of the console's own (POST, then redirect, then GET)."""
    return web.Response(status=303, headers={"Location": location})


def _plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", content_type="text/plain", charset="utf-8")


def _origin_allowed(request: web.Request, config: ConsoleConfig) -> bool:
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if origin == "null":  # an opaque origin: trusted only when the browser says the page was ours
        return request.headers.get("Sec-Fetch-Site") == "same-origin"
    parts = urlsplit(origin)
    return parts.scheme == "http" and parts.netloc == request.host


def security_middleware(config: ConsoleConfig) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if host_name(request.headers.get("Host")) not in config.allowed_hosts:
            log.warning("console.request_refused", reason="host")
            return _plain(421, "This console answers only on the address it was started with.")
        if request.method not in ("GET", "HEAD") and not _origin_allowed(request, config):
            log.warning("console.request_refused", reason="origin")
            return _plain(403, "Refused: this form was not sent from the console's own page.")
        response = await handler(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    return middleware


def session_middleware(config: ConsoleConfig, sessions: SessionStore) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        session = sessions.get(request.cookies.get(config.cookie_name))
        if request.path in PUBLIC_PATHS:
            if session is not None:
                request[SESSION] = session
            return await handler(request)
        if session is None:
            if request.method in ("GET", "HEAD"):
                return redirect("/login")
            return _plain(401, "Your session has ended: open the console's login link again.")
        if request.method not in ("GET", "HEAD"):
            posted = await request.post()
            token = posted.get(CSRF_FIELD)
            if not isinstance(token, str) or not same_secret(token, session.csrf):
                log.warning("console.request_refused", reason="csrf")
                return _plain(403, "Refused: the form's security token is missing or out of date. Reload it.")
        request[SESSION] = session
        return await handler(request)

    return middleware


async def check_login(
    config: ConsoleConfig,
    sessions: SessionStore,
    links: LoginLinks,
    token: str | None,
    passphrase: str | None,
) -> bool:
    """Both secrets checked in full (no early exit that would tell which was wrong); a link that signs
    someone in is spent at once, so it cannot sign in a second browser."""
    token_ok = links.usable(token)
    passphrase_ok = config.passphrase is None or same_secret(passphrase, config.passphrase)
    if token_ok and passphrase_ok:
        links.spend()
        sessions.failures = 0
        return True
    sessions.failures += 1
    log.warning("console.login_refused", failures=sessions.failures)
    await asyncio.sleep(min(sessions.failures, 10) * 0.1)
    return False


def start_session(config: ConsoleConfig, sessions: SessionStore, response: web.StreamResponse) -> None:
    session_id, _ = sessions.create()
    response.set_cookie(
        config.cookie_name,
        session_id,
        httponly=True,
        samesite="Strict",
        path="/",
        max_age=config.session_idle_seconds,
    )
    log.info("console.login_succeeded", participant=config.participant_id)


def end_session(config: ConsoleConfig, sessions: SessionStore, request: web.Request) -> web.Response:
    sessions.drop(request.cookies.get(config.cookie_name))
    response = redirect("/login")
    response.del_cookie(config.cookie_name, path="/")
    return response
