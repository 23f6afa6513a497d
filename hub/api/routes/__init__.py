"""HTTP routes, one module per resource; `add_routes` lists them all in one place."""

from __future__ import annotations

from aiohttp import web

from hub.api import metrics
from hub.api.routes import (
    cases,
    coop,
    directory,
    federation,
    health,
    inbox,
    messages,
    openapi,
    schemas,
    signals,
    stats,
)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/messages", messages.submit)
    app.router.add_get("/v1/inbox", inbox.read)
    app.router.add_post("/v1/inbox/ack", inbox.ack)
    app.router.add_get("/v1/cases", cases.list_all)
    app.router.add_post("/v1/search/cases", cases.search)
    app.router.add_get("/v1/cases/{case_id}", cases.read)
    app.router.add_get("/v1/cases/{case_id}/messages", cases.messages)
    app.router.add_get("/v1/cases/{case_id}/proofs", cases.proofs)
    app.router.add_post("/v1/cases/{case_id}/shares", cases.share)
    app.router.add_get("/v1/participants", directory.list_all)
    app.router.add_get("/v1/participants/{participant_id}", directory.show)
    app.router.add_get("/v1/participants/{participant_id}/log", directory.history)
    app.router.add_post("/v1/directory/bindings", directory.publish_binding)
    app.router.add_get("/v1/directory/self", directory.own_entry)
    app.router.add_get("/v1/directory/checkpoint", directory.latest_checkpoint)
    app.router.add_post("/v1/directory/checkpoint/cosignatures", directory.publish_cosignature)
    app.router.add_get("/v1/directory/consistency", directory.consistency)
    app.router.add_get("/.well-known/jwks.json", directory.hub_jwks)
    app.router.add_get("/v1/federation/participants", federation.vouching_feed)
    app.router.add_post("/v1/federation/messages", federation.forwarded_message)
    app.router.add_get("/v1/stats", stats.figures)
    app.router.add_get("/v1/stats/report.html", stats.report)
    app.router.add_get("/v1/schemas", schemas.list_all)
    app.router.add_get("/v1/schemas/{name}/{version}", schemas.show)
    app.router.add_get("/v1/signals", signals.feed)
    app.router.add_post("/v1/coop/{participant_id}/actions", coop.action_callback)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", metrics.scrape)
    app.router.add_get("/openapi.json", openapi.document)
