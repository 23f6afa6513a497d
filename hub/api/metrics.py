"""`GET /metrics`: Prometheus metrics on a registry of the application's own (never the global one).

Counted in the process, by `metrics_middleware`: accepted messages by type, refused requests by
problem type, request latency by route. Read from PostgreSQL when scraped, one cheap query each:
deliveries by state and channel, push queue depth per destination, open, breached and overdue
deadlines (overdue: `hub/core/overdue.py`'s rule), escalations issued; the queries live in
`hub/store/metrics.py` (`hub/store/queries/metrics.sql`).

Labels carry only bounded, non-personal values: route templates (never a concrete path), message types
and problem codes the hub defines, delivery states and channels, and organisation ids.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime

import asyncpg
import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import HistogramMetricFamily

from hub.api.keys import ACCEPTED, GUARD, INTAKE, POOL, SETTINGS
from hub.api.problems import CONTENT_TYPE as PROBLEM_CONTENT_TYPE
from hub.api.problems import PROBLEM_BASE, PROBLEMS
from hub.core.refusal import Refusal
from hub.store.metrics import DELIVERY_BUCKETS, Latency, read_gauges

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED = "unmatched"

log = structlog.get_logger("hub.metrics")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class DeliveryLatency:
    """A cumulative histogram read from the deliveries themselves at scrape time, so every hub process
    reports the same figures, across restarts, whichever process delivered."""

    def __init__(self) -> None:
        self.by_channel: dict[str, Latency] = {}

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(
            "hub_delivery_latency_seconds",
            "Seconds from acceptance to delivery (push) or retrieval (pull)",
            labels=["channel"],
        )
        for channel, seen in sorted(self.by_channel.items()):
            buckets = [(str(b), c) for b, c in zip(DELIVERY_BUCKETS, seen.cumulative, strict=True)]
            family.add_metric([channel], [*buckets, ("+Inf", seen.count)], seen.total)
        yield family


class HubMetrics:
    """The hub's metrics, on a `CollectorRegistry` of their own (tests create many applications)."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.accepted = Counter(
            "hub_messages_accepted",
            "Messages accepted by POST /v1/messages, by message type",
            ["message_type"],
            registry=registry,
        )
        self.refused = Counter(
            "hub_requests_refused",
            "Requests answered with a problem document, by problem type",
            ["problem"],
            registry=registry,
        )
        self.latency = Histogram(
            "hub_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            ["route", "method"],
            registry=registry,
        )
        self._latency_of: dict[tuple[str, str], Histogram] = {}
        self.deliveries = Gauge(
            "hub_deliveries",
            "Deliveries by state and channel (read from the database when scraped)",
            ["state", "channel"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "hub_delivery_queue_depth",
            "Push deliveries waiting to be sent, per destination organisation",
            ["destination"],
            registry=registry,
        )
        self.parked = Gauge(
            "hub_destinations_parked",
            "Push destinations parked after repeated refusals (401/403), waiting for an operator",
            registry=registry,
        )
        self.held = Gauge(
            "hub_deliveries_held_by_parking",
            "Push deliveries held because their destination is parked, per destination organisation",
            ["destination"],
            registry=registry,
        )
        self.deadlines = Gauge(
            "hub_deadlines", "Deadlines by state (open or breached)", ["state"], registry=registry
        )
        self.overdue = Gauge(
            "hub_deadlines_overdue",
            "Deadlines overdue now: open past their due time, or breached and not answered late"
            " (hub/core/overdue.py, as the case page and the case list count them)",
            registry=registry,
        )
        self.escalations = Gauge(
            "hub_escalations_issued", "Escalation messages the hub has issued", registry=registry
        )
        self.delivery_latency = DeliveryLatency()
        registry.register(self.delivery_latency)
        self.intake_batches = Gauge(
            "hub_intake_commits",
            "Transactions that committed accepted messages in this process (group commit)",
            registry=registry,
        )
        self.intake_batched = Gauge(
            "hub_intake_committed_messages",
            "Messages those transactions committed (divided by hub_intake_commits: the mean batch)",
            registry=registry,
        )
        self.connections = Gauge(
            "hub_connections", "Open client connections (see HUB_MAX_CONNECTIONS)", registry=registry
        )
        self.connections_shed = Gauge(
            "hub_connections_shed",
            "Connections the guard closed: parked ones evicted for a new one, ones that sent no request "
            "or body in time, ones refused at the cap",
            ["reason"],
            registry=registry,
        )
        self.database_up = Gauge(
            "hub_metrics_database_up",
            "1 if the database answered the last scrape's queries, else 0",
            registry=registry,
        )

    def observe(self, request: web.Request, response: web.StreamResponse, seconds: float) -> None:
        key = (route_of(request), request.method)
        latency = self._latency_of.get(key)
        if latency is None:  # a route template and method (both bounded): its child made once
            latency = self._latency_of[key] = self.latency.labels(route=key[0], method=key[1])
        latency.observe(seconds)
        if not isinstance(response, web.Response):
            return
        if response.content_type == PROBLEM_CONTENT_TYPE:
            code = _problem_code(response)
            if code is not None:
                self.refused.labels(problem=code).inc()
        elif response.status == 202 and request.path == "/v1/messages" and request.method == "POST":
            message_type = _accepted_type(response)
            if message_type is not None:
                self.accepted.labels(message_type=message_type).inc()

    async def refresh(self, pool: asyncpg.Pool) -> None:
        """Set the gauges from the database (`hub/store/metrics.py`: one query per gauge family)."""
        async with pool.acquire(timeout=5) as conn:
            gauges = await read_gauges(conn, datetime.now(UTC))
        self.delivery_latency.by_channel = gauges.latency
        self.deliveries.clear()
        for (state, channel), n in gauges.deliveries.items():
            self.deliveries.labels(state=state, channel=channel).set(n)
        self.queue_depth.clear()
        for destination, n in gauges.push_queues.items():
            self.queue_depth.labels(destination=destination).set(n)
        self.parked.set(len(gauges.parked))
        self.held.clear()
        for destination, n in gauges.parked.items():
            self.held.labels(destination=destination).set(n)
        self.deadlines.labels(state="open").set(gauges.open_deadlines)
        self.deadlines.labels(state="breached").set(gauges.breached_deadlines)
        self.overdue.set(gauges.overdue_deadlines)
        self.escalations.set(gauges.escalations)

    def render(self) -> bytes:
        return generate_latest(self.registry)


METRICS = web.AppKey("metrics", HubMetrics)


def route_of(request: web.Request) -> str:
    """The matched route's template (`/v1/cases/{case_id}`), never the concrete path."""
    match_info = request.match_info
    if match_info.http_exception is not None:
        return UNMATCHED
    resource = match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    response = await handler(request)
    metrics = request.app.get(METRICS)
    if metrics is not None:
        metrics.observe(request, response, time.perf_counter() - started)
    return response


async def scrape(request: web.Request) -> web.Response:
    app = request.app
    _require_scrape_token(request)
    metrics = app[METRICS]
    try:
        await metrics.refresh(app[POOL])
        metrics.database_up.set(1)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("metrics.database_unavailable", error=exc.__class__.__name__)
        metrics.database_up.set(0)
    group_commit = app[INTAKE].group_commit if INTAKE in app else None
    if group_commit is not None:
        metrics.intake_batches.set(group_commit.batches)
        metrics.intake_batched.set(group_commit.items)
    guard = app.get(GUARD)
    if guard is not None:
        metrics.connections.set(guard.open_connections)
        metrics.connections_shed.labels(reason="evicted").set(guard.evicted)
        metrics.connections_shed.labels(reason="timed_out").set(guard.timed_out)
        metrics.connections_shed.labels(reason="refused").set(guard.refused)
    response = web.Response(body=metrics.render())
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def _require_scrape_token(request: web.Request) -> None:
    """With `HUB_METRICS_TOKEN_FILE` set, a scrape must send `Authorization: Bearer <that token>`
    (compared in constant time; the file is read per scrape so a rotated token is picked up)."""
    path = request.app[SETTINGS].metrics_token_file
    if path is None:
        return
    expected = path.read_text("utf-8").strip().encode()
    given = request.headers.get("Authorization", "")
    scheme, _, token = given.partition(" ")
    if (
        not expected
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(token.strip().encode(), expected)
    ):
        raise Refusal("invalid-token", "/metrics needs the scrape token (HUB_METRICS_TOKEN_FILE)")


def _problem_code(response: web.Response) -> str | None:
    try:
        body = json.loads(response.body) if isinstance(response.body, bytes) else None
    except ValueError:
        return None
    kind = body.get("type") if isinstance(body, dict) else None
    if not isinstance(kind, str) or not kind.startswith(PROBLEM_BASE):
        return None
    code = kind.removeprefix(PROBLEM_BASE)
    return code if code in PROBLEMS else None


def _accepted_type(response: web.Response) -> str | None:
    """The type of the message a `202` took, as its receipt names it (`accepted_response` read it)."""
    claims = response.get(ACCEPTED)
    message_type = claims.message_type if claims is not None else None
    # Only the template names' alphabet: a label never carries free text.
    if isinstance(message_type, str) and message_type.replace("-", "").isalnum() and len(message_type) < 64:
        return message_type
    return None
