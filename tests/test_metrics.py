"""`/metrics`: scraped after submissions, a refusal and an inbox read, parsed as Prometheus text."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from hub.api.app import create_app
from tests.factories import add_with_endpoint, jose, takedown

MARKER_PATH = "marker-url-5e2a7c"
MARKER_URL = f"https://photos.example.com/p/{MARKER_PATH}"
MARKER_TEXT = "marker-text-91c3d4"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_after_traffic(aiohttp_client: Any, settings: Any, directory: Any) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    client = await aiohttp_client(create_app(settings, background=False))

    before = samples(await (await client.get("/metrics")).text())
    assert value(before, "hub_messages_accepted_total", message_type="takedown-request") == 0

    for _ in range(3):
        envelope = takedown(
            hotline,
            platform,
            content=[{"url": MARKER_URL, "platform_item_id": "marker-item-0001"}],
            notes=f"{MARKER_TEXT} notes",
        )
        assert (await client.post("/v1/messages", **jose(hotline.sign(envelope)))).status == 202
    refused = await client.post("/v1/messages", data=b"x", headers={"Content-Type": "text/plain"})
    assert refused.status == 415
    unauthenticated = await client.get("/v1/inbox")
    assert unauthenticated.status == 401
    inbox = await client.get("/v1/inbox", headers=platform.auth())
    assert inbox.status == 200
    assert len((await inbox.json())["messages"]) == 3
    await client.get(f"/v1/cases/{MARKER_PATH}", headers=hotline.auth())  # a concrete path, refused

    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await response.text()
    found = samples(text)

    assert value(found, "hub_messages_accepted_total", message_type="takedown-request") == 3
    assert value(found, "hub_requests_refused_total", problem="unsupported-media-type") == 1
    assert value(found, "hub_requests_refused_total", problem="missing-token") == 1
    assert value(found, "hub_requests_refused_total", problem="case-not-found") == 1
    assert value(found, "hub_request_duration_seconds_count", route="/v1/messages", method="POST") == 4
    assert value(found, "hub_request_duration_seconds_count", route="/v1/inbox", method="GET") == 2
    assert value(found, "hub_request_duration_seconds_count", route="/v1/cases/{case_id}", method="GET") == 1
    # Gauges read from the database: three pull deliveries waiting for the platform.
    assert value(found, "hub_deliveries", state="pending", channel="pull") == 3
    assert value(found, "hub_deadlines", state="open") >= 0
    assert ("hub_deadlines", (("state", "breached"),)) in found
    assert ("hub_deadlines_overdue", ()) in found
    assert value(found, "hub_escalations_issued") == 0
    assert value(found, "hub_metrics_database_up") == 1
    # Never a reported URL, free text, or a concrete path in a label.
    for marker in (MARKER_URL, MARKER_PATH, MARKER_TEXT):
        assert marker not in text


async def test_queue_depth_per_push_destination(
    aiohttp_client: Any, settings: Any, directory: Any, db: Any
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    pushed = await add_with_endpoint(db, "fr-platform-push")
    client = await aiohttp_client(create_app(settings, background=False))  # no worker: they wait
    for _ in range(2):
        assert (
            await client.post("/v1/messages", **jose(hotline.sign(takedown(hotline, pushed))))
        ).status == 202
    found = samples(await (await client.get("/metrics")).text())
    assert value(found, "hub_delivery_queue_depth", destination="fr-platform-push") == 2
    assert value(found, "hub_deliveries", state="pending", channel="push") == 2


async def test_each_app_has_its_own_registry(aiohttp_client: Any, settings: Any) -> None:
    first = await aiohttp_client(create_app(settings, background=False))
    await first.get("/healthz")
    second = await aiohttp_client(create_app(settings, background=False))
    found = samples(await (await second.get("/metrics")).text())
    assert value(found, "hub_request_duration_seconds_count", route="/healthz", method="GET") == 0


async def test_delivery_latency_is_a_histogram_of_what_recipients_got(
    aiohttp_client: Any, settings: Any, directory: Any
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from hub.api.app import create_app
    from tests.factories import jose, takedown

    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    client = await aiohttp_client(create_app(settings, background=False))
    request = takedown(hotline, platform)
    assert (await client.post("/v1/messages", **jose(hotline.sign(request)))).status == 202
    await client.post("/v1/inbox/ack", json={"message_ids": [request["id"]]}, headers=platform.auth())
    text = await (await client.get("/metrics")).text()
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == "hub_delivery_latency_seconds"]
    samples = {
        (s.name, s.labels.get("le")): s.value for s in family.samples if s.labels.get("channel") == "pull"
    }
    assert samples[("hub_delivery_latency_seconds_count", None)] == 1
    assert samples[("hub_delivery_latency_seconds_bucket", "+Inf")] == 1
    assert samples[("hub_delivery_latency_seconds_bucket", "172800.0")] == 1  # retrieved within 48 h


async def test_a_parked_destination_and_what_it_holds_are_visible(
    aiohttp_client: Any, settings: Any, directory: Any, db: Any
) -> None:
    """Issue 16.9: parking is in the metrics (the alert rule in deploy/prometheus watches it)."""
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    pushed = await add_with_endpoint(db, "fr-platform-push")
    client = await aiohttp_client(create_app(settings, background=False))
    for _ in range(2):
        assert (
            await client.post("/v1/messages", **jose(hotline.sign(takedown(hotline, pushed))))
        ).status == 202
    found = samples(await (await client.get("/metrics")).text())
    assert value(found, "hub_destinations_parked") == 0
    # Parked as the worker parks it at the policy's limit (tests/test_delivery_worker.py drives that).
    await db.execute(
        "UPDATE destinations SET parked_at = now(), parked_reason = 'HTTP 401' WHERE participant_id = $1",
        "fr-platform-push",
    )
    found = samples(await (await client.get("/metrics")).text())
    assert value(found, "hub_destinations_parked") == 1
    assert value(found, "hub_deliveries_held_by_parking", destination="fr-platform-push") == 2
