"""The console's application factory.

`create_console_app(config)` builds the aiohttp application: the security and session middlewares
(`auth`), a middleware that turns the hub's refusals and an unreachable hub into a plain page, the
routes, and one `cleanup_ctx` that opens the HTTP client session to the hub (and the `HubGateway` on
it) on start and closes it on shutdown. Nothing is done at import time; no global state.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources

import aiohttp
import structlog
from aiohttp import web

from hub.client import HubClient, HubError
from hub.client.trust_store import TrustStore
from hub.console.archive import Archive
from hub.console.auth import (
    SESSION,
    LoginLinks,
    SessionStore,
    redirect,
    security_middleware,
    session_middleware,
)
from hub.console.config import ConsoleConfig
from hub.console.gateway import HubGateway
from hub.console.keys import ARCHIVE, CATALOG, CONFIG, GATEWAY, JINJA, LOGIN_LINKS, OFFERS_REFERRALS, SESSIONS
from hub.console.language import choose_language, language_middleware, say
from hub.console.next_steps import starts_referrals
from hub.console.render import make_environment, render
from hub.console.views import cases, compose, inbox, login, own_entry
from hub.core.clock import time_zone
from hub.core.templates import TemplateCatalog
from hub.schemas import load_catalog

log = structlog.get_logger("hub.console")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_FORM_BYTES = 1024 * 1024


def create_console_app(
    config: ConsoleConfig,
    *,
    catalog: TemplateCatalog | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> web.Application:
    """`clock` (monotonic seconds) times the sign-in links; a test passes its own to expire one."""
    sessions = SessionStore(config.session_idle_seconds)
    app = web.Application(
        middlewares=[
            security_middleware(config),
            language_middleware,
            session_middleware(config, sessions),
            hub_error_middleware,
            menu_middleware,
        ],
        client_max_size=MAX_FORM_BYTES,
    )
    app[CONFIG] = config
    app[SESSIONS] = sessions
    app[LOGIN_LINKS] = LoginLinks(config.login_token, config.link_seconds, clock)
    app[CATALOG] = catalog or load_catalog()
    app[JINJA] = make_environment(time_zone(config.time_zone))
    app[ARCHIVE] = Archive(config.data_dir)
    app.cleanup_ctx.append(_hub_connection)
    _routes(app)
    return app


def _routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/login", login.login_page)
    router.add_post("/login", login.login_submit)
    router.add_post("/login/link", login.new_link)
    router.add_post("/logout", login.logout)
    router.add_get("/static/console.css", stylesheet)
    router.add_get("/language", choose_language)
    router.add_get("/", home)
    router.add_get("/inbox", inbox.inbox)
    router.add_post("/inbox/fetch", inbox.fetch)
    router.add_get("/directory/self", own_entry.own_entry)
    router.add_post("/directory/self/accept", own_entry.accept)
    router.add_get("/cases", cases.case_list)
    router.add_post("/cases/find", cases.case_search)
    router.add_get("/cases/{case_id}", cases.case_page)
    router.add_get("/cases/{case_id}/evidence.zip", cases.evidence_bundle)
    router.add_route("GET", "/new/{message_type}", compose.compose_new)
    router.add_route("POST", "/new/{message_type}", compose.compose_new)
    router.add_route("GET", "/cases/{case_id}/reply/{message_type}", compose.compose_answer)
    router.add_route("POST", "/cases/{case_id}/reply/{message_type}", compose.compose_answer)


async def home(_: web.Request) -> web.Response:
    return redirect("/inbox")


async def stylesheet(_: web.Request) -> web.Response:
    css = resources.files("hub.console").joinpath("static/console.css").read_text("utf-8")
    return web.Response(text=css, content_type="text/css", charset="utf-8")


async def _hub_connection(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        trust = None if config.trust_store is None else TrustStore(config.trust_store)
        client = HubClient(session, config.hub_url, config.participant_id, config.key, trust=trust)
        app[GATEWAY] = HubGateway(client, app[ARCHIVE])
        log.info("console.started", participant=config.participant_id)
        yield
    log.info("console.stopped", participant=config.participant_id)


@web.middleware
async def menu_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The menu fits the participant's kind: only those who start referrals are offered new ones. The
    kind comes from the directory (cached by the gateway); if the hub cannot say, the menu stays full."""
    if request.get(SESSION) is not None:
        gateway = request.app[GATEWAY]
        try:
            kind = str((await gateway.participant(gateway.me)).get("kind", ""))
        except (HubError, aiohttp.ClientError, TimeoutError):
            kind = ""
        request[OFFERS_REFERRALS] = not kind or starts_referrals(kind)
    return await handler(request)


@web.middleware
async def hub_error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A page that needs the hub says plainly when the hub refused or could not be reached."""
    try:
        return await handler(request)
    except HubError as exc:
        status = 404 if exc.status in (403, 404) else 502
        log.warning("console.hub_refused", problem=exc.code, status=exc.status)
        context = {
            "title": say(request, "The hub refused"),
            "heading": say(request, str(exc.problem.get("title") or "The hub refused")),
            "detail": str(exc.problem.get("detail") or ""),
        }
        return render(request.app[JINJA], request, "problem.html", context, status=status)
    except (aiohttp.ClientError, TimeoutError):
        heading = say(request, "The hub cannot be reached")
        detail = say(
            request,
            "The console could not reach the hub at {url}. Try again.",
            url=request.app[CONFIG].hub_url,
        )
        context = {"title": heading, "heading": heading, "detail": detail}
        return render(request.app[JINJA], request, "problem.html", context, status=502)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # the views' reasons are English texts of the catalogue, said in the viewer's language
        heading = say(request, exc.reason)
        detail = "" if exc.text in (None, f"{exc.status}: {exc.reason}") else say(request, exc.text or "")
        context = {"title": heading, "heading": heading, "detail": detail}  # aiohttp's own text: the heading
        return render(request.app[JINJA], request, "problem.html", context, status=exc.status)
