"""The application factory. Every resource is opened and closed in `cleanup_ctx`, in order:
the hub's signing key, the database (embedded or `HUB_DATABASE_URL`; migrated on start), the inbox
notifier, and, unless `background=False` (tests that drive workers themselves), housekeeping, the
push-delivery worker, the clock worker and the periodic peer sync, stopped in the reverse order.
Nothing is done at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import aiohttp
import structlog
from aiohttp import web

from adapters.base import AdapterContext
from adapters.registry import build_adapters
from hub.api.connections import ConnectionGuard, ConnectionLimits
from hub.api.keys import (
    ACCESS,
    CATALOG,
    CLOCK,
    DSN,
    GUARD,
    HUB,
    HUB_KEY,
    INTAKE,
    KEYRING,
    NOTIFIER,
    POLICIES,
    POOL,
    SETTINGS,
    WORKER,
)
from hub.api.metrics import METRICS, HubMetrics, metrics_middleware
from hub.api.problem_middleware import problem_middleware
from hub.api.routes import add_routes
from hub.clocks.worker import ClockWorker
from hub.core.clock import Clock, utc_now
from hub.core.hub_identity import HubIdentity
from hub.core.jose import PublicJwk
from hub.core.retry import RetryPolicy
from hub.core.templates import TemplateCatalog
from hub.delivery.worker import DeliveryWorker, WorkerConfig
from hub.keyfile import load_or_create_signing_key, load_or_create_storage_key
from hub.policies import load_policy_book, load_retention_policy
from hub.schemas import load_catalog
from hub.services.access import AccessBatches, purge_used_tokens
from hub.services.bank_ledger import StoredBankLedger
from hub.services.bank_sweep import BankSweeper
from hub.services.batcher import Batcher
from hub.services.intake import Intake, inline_answers
from hub.services.issuer import Issuer
from hub.services.notifier import InboxNotifier
from hub.services.park_notices import ParkNotices
from hub.services.peer_sync import PeerSyncer
from hub.services.vouching import peer_signing_keys
from hub.settings import Settings
from hub.store.audit import seal_pending, sequence_and_checkpoint
from hub.store.case_keys import Keyring
from hub.store.database import connect, create_pool, database_url
from hub.store.directory import KeyRecord, ensure_hub_participant
from hub.store.mail import seal_clear_mail
from hub.store.migrate import migrate
from hub.store.purge import purge_due_cases, purge_unmatched_mail
from hub.store.signal_feed import sequence_changes

log = structlog.get_logger("hub.app")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    catalog: TemplateCatalog | None = None,
    background: bool = True,
) -> web.Application:
    limits = settings.limits
    guard = ConnectionGuard(
        ConnectionLimits(
            max_connections=limits.max_connections,
            reserve=limits.connection_reserve,
            header_timeout=limits.header_timeout_seconds,
            body_timeout=limits.body_timeout_seconds,
        )
    )
    app = web.Application(
        middlewares=[
            guard.middleware(),
            request_id_middleware,
            metrics_middleware,
            problem_middleware,
            guard.body_deadline_middleware(settings.max_body_bytes),
        ],
        client_max_size=settings.max_body_bytes,
    )
    app[GUARD] = guard
    app[SETTINGS] = settings
    app[METRICS] = HubMetrics()
    app[CLOCK] = clock
    app[CATALOG] = catalog or load_catalog()
    app[POLICIES] = load_policy_book(settings.policy_dir)
    app.cleanup_ctx.append(_hub_key)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_notifier)
    if background:
        app.cleanup_ctx.append(_housekeeping)
        if settings.delivery.in_serve:  # else `hub worker` processes push (HUB_DELIVERY_WORKER=false)
            app.cleanup_ctx.append(_delivery)
        app.cleanup_ctx.append(_clocks)
        app.cleanup_ctx.append(_peer_sync)
    add_routes(app)
    return app


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # 128 random bits in 32 hex digits, as uuid4().hex gave, without building a UUID; bound and reset
    # by token, without a context manager's generator: both per request (issue 21, step 21.9)
    request_id = request.headers.get("X-Request-Id", "")[:64] or os.urandom(16).hex()
    bound = structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        response = await handler(request)
    finally:
        structlog.contextvars.reset_contextvars(**bound)
    response.headers["X-Request-Id"] = request_id
    return response


async def _hub_key(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[HUB_KEY] = load_or_create_signing_key(settings.signing_key_file)
    app[HUB] = HubIdentity(settings.hub_id, app[HUB_KEY])
    app[KEYRING] = Keyring(load_or_create_storage_key(settings.storage_key_path))
    yield


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    loop = asyncio.get_running_loop()
    dsn, _embedded = await loop.run_in_executor(None, database_url, settings.database_url, settings.data_dir)
    async with connect(dsn) as conn:
        applied = await migrate(conn)
        await ensure_hub_participant(conn, settings.hub_id, app[HUB_KEY].public().to_dict())
    if applied:
        log.info("database.migrated", versions=applied)
    app[DSN] = dsn
    app[POOL] = pool = await create_pool(dsn)
    batched = settings.intake_batch > 1
    # One key-lookup batch for the tokens' keys and the messages' keys: a request's two lookups and its
    # neighbours' go out as one query.
    key_lookup: Batcher[str, KeyRecord | None] | None = (
        Batcher(max_batch=settings.intake_batch) if batched else None
    )
    if key_lookup is not None:
        app[ACCESS] = AccessBatches(key_lookup, Batcher(max_batch=settings.intake_batch))
    app[INTAKE] = Intake(
        pool=pool,
        catalog=app[CATALOG],
        hub=app[HUB],
        policies=app[POLICIES],
        keyring=app[KEYRING],
        group_commit=Batcher(max_batch=settings.intake_batch) if batched else None,
        key_lookup=key_lookup,
    )
    try:
        yield
    finally:
        await pool.close()


async def _notifier(app: web.Application) -> AsyncIterator[None]:
    app[NOTIFIER] = notifier = InboxNotifier(app[SETTINGS].limits.max_long_polls_per_participant)
    await notifier.start(app[DSN])
    yield
    await notifier.stop()


def worker_config(settings: Settings) -> WorkerConfig:
    d = settings.delivery
    policy = RetryPolicy(
        base=timedelta(seconds=d.retry_base_seconds),
        cap=timedelta(seconds=max(d.retry_cap_seconds, d.retry_base_seconds)),
        max_attempts=d.retry_max_attempts,
        max_age=timedelta(seconds=d.retry_max_age_seconds),
        park_after=d.park_after_refusals,
    )
    return WorkerConfig(
        worker_id=d.worker_id or f"{socket.gethostname()}-{os.getpid()}",
        lease=timedelta(seconds=d.lease_seconds),
        max_in_flight_per_destination=d.max_in_flight_per_destination,
        max_concurrency=d.max_concurrency,
        poll_interval=d.poll_interval,
        grace=d.shutdown_grace_seconds,
        policy=policy,
    )


def adapter_context(app: web.Application, session: aiohttp.ClientSession) -> AdapterContext:
    """What the adapters of this hub share, the peer hubs' keys read from its directory when needed."""
    pool, clock = app[POOL], app[CLOCK]

    async def peer_keys(peer: str) -> list[PublicJwk]:
        return await peer_signing_keys(pool, peer, clock())

    return AdapterContext(
        session=session,
        hub=app[HUB],
        clock=clock,
        peer_keys=peer_keys,
        bank_ledger=StoredBankLedger(pool),
    )


async def _delivery(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with aiohttp.ClientSession() as session:
        context = adapter_context(app, session)
        intake = app[INTAKE]
        worker = DeliveryWorker(
            app[POOL],
            app[DSN],
            build_adapters(context),
            intake.hub,
            app[CLOCK],
            worker_config(settings),
            keyring=intake.keyring,
            on_answer=inline_answers(intake),
            park_notices=ParkNotices(app[POOL], settings.mail, app[CLOCK]),
        )
        app[WORKER] = worker
        await worker.start()
        try:
            yield
        finally:
            await worker.stop()


async def _clocks(app: web.Application) -> AsyncIterator[None]:
    worker = ClockWorker(app[POOL], Issuer(app[INTAKE]), app[CLOCK], app[SETTINGS].clock_poll_interval)
    await worker.start()
    try:
        yield
    finally:
        await worker.stop()


async def _peer_sync(app: web.Application) -> AsyncIterator[None]:
    """Every registered peer hub's vouching feed taken every `HUB_PEER_SYNC_SECONDS` (0: only by `hub
    peers sync`)."""
    settings = app[SETTINGS]
    if settings.peer_sync_interval <= 0:
        yield
        return
    async with aiohttp.ClientSession() as session:
        syncer = PeerSyncer(app[POOL], session, settings.hub_id, app[CLOCK], settings.peer_sync_interval)
        syncer.start()
        try:
            yield
        finally:
            await syncer.stop()


async def _mail_at_rest(app: web.Application) -> None:
    """Unmatched e-mail past its retention deleted; e-mail stored in clear before 0012 encrypted."""
    now, hours = app[CLOCK](), app[SETTINGS].mail.mailin_unmatched_retention_hours
    deleted = await purge_unmatched_mail(app[POOL], now, hours)
    sealed = await seal_clear_mail(app[POOL], app[KEYRING], now)
    if deleted or sealed:
        log.info("retention.mail", unmatched_deleted=deleted, sealed=sealed)


async def _housekeeping(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    retention = load_retention_policy(settings.retention_file)

    session = aiohttp.ClientSession()  # the bank sweep's (hub/services/bank_sweep.py)
    sweeper = BankSweeper(app[POOL], adapter_context(app, session))

    async def run() -> None:
        rounds = 0
        while True:
            await asyncio.sleep(settings.audit_interval)
            rounds += 1
            try:
                await sequence_and_checkpoint(app[POOL], app[HUB_KEY], settings.hub_id, app[CLOCK]())
                await sequence_changes(app[POOL])  # the hash-signal feed's positions (readers do it too)
                if rounds * settings.audit_interval >= 60:
                    rounds = 0
                    await purge_used_tokens(app[POOL], app[CLOCK]())
                    purged = await purge_due_cases(app[POOL], retention, app[CLOCK]())
                    if purged:
                        log.info("retention.purged", cases=len(purged))
                    sweeper.start()  # beside housekeeping: a slow HMA never holds up the audit log
                    await _mail_at_rest(app)
            except Exception as exc:  # housekeeping must never stop the hub
                log.warning("housekeeping.failed", error=exc.__class__.__name__)

    task = asyncio.create_task(run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await sweeper.stop()
    await session.close()
    try:  # a graceful stop seals and checkpoints what the last interval appended
        await seal_pending(app[POOL], app[HUB_KEY], settings.hub_id, app[CLOCK]())
    except Exception as exc:
        log.warning("audit.seal_on_stop_failed", error=exc.__class__.__name__)
