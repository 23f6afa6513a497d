"""The console application's typed state (`web.AppKey`s), in one place the views can import."""

from __future__ import annotations

import jinja2
from aiohttp import web

from hub.console.archive import Archive
from hub.console.auth import LoginLinks, SessionStore
from hub.console.config import ConsoleConfig
from hub.console.gateway import HubGateway
from hub.core.templates import TemplateCatalog

CONFIG = web.AppKey("console_config", ConsoleConfig)
SESSIONS = web.AppKey("console_sessions", SessionStore)
LOGIN_LINKS = web.AppKey("console_login_links", LoginLinks)
CATALOG = web.AppKey("console_catalog", TemplateCatalog)
JINJA = web.AppKey("console_jinja", jinja2.Environment)
ARCHIVE = web.AppKey("console_archive", Archive)
GATEWAY = web.AppKey("console_gateway", HubGateway)
# per request, set for a signed-in page: whether the menu offers new referrals (next_steps.starts_referrals)
OFFERS_REFERRALS = web.RequestKey("console_offers_referrals", bool)
# per request: the language the viewer reads (hub.console.language)
LANGUAGE = web.RequestKey("console_language", str)
