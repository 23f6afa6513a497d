"""Typed keys for what the application holds: each resource is opened and closed in `cleanup_ctx`."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from hub.api.connections import ConnectionGuard
from hub.core.clock import Clock
from hub.core.hub_identity import HubIdentity
from hub.core.jose import PrivateSigningJwk
from hub.core.policy import PolicyBook
from hub.core.receipt import ReceiptClaims
from hub.core.templates import TemplateCatalog
from hub.delivery.worker import DeliveryWorker
from hub.services.access import AccessBatches
from hub.services.intake import Intake
from hub.services.notifier import InboxNotifier
from hub.settings import Settings
from hub.store.case_keys import Keyring

SETTINGS = web.AppKey("settings", Settings)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
CATALOG = web.AppKey("catalog", TemplateCatalog)
HUB_KEY = web.AppKey("hub_key", PrivateSigningJwk)
HUB = web.AppKey("hub", HubIdentity)  # the hub's id and HUB_KEY, as one
POOL = web.AppKey("pool", asyncpg.Pool)
INTAKE = web.AppKey("intake", Intake)
ACCESS = web.AppKey("access", AccessBatches)  # set when requests are batched (HUB_INTAKE_BATCH > 1)
NOTIFIER = web.AppKey("notifier", InboxNotifier)
DSN = web.AppKey("dsn", str)
POLICIES = web.AppKey("policies", PolicyBook)
KEYRING = web.AppKey("keyring", Keyring)
WORKER = web.AppKey("worker", DeliveryWorker)
GUARD = web.AppKey("guard", ConnectionGuard)

# On a `202` for a message taken: what its receipt names, read once when the answer is made, for the
# accepted-messages counter (`hub.api.metrics`), which would otherwise parse the answer again.
ACCEPTED = web.ResponseKey("accepted", ReceiptClaims)
