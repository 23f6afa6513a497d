"""The `coop` adapter against a local server that speaks Coop's report API and checks what it gets.

The server checks each request as Coop's own route does (roostorg/coop at 1c1f54da,
`server/routes/reporting/ReportingRoutes.ts`: its JSON Schema, transcribed below, with the item
submission schema of `server/services/itemProcessingService/types.ts`), and the `X-API-KEY` header
(`server/utils/apiKeyMiddleware.ts`); it answers `201 {"reportId": ...}` as `submitReport.ts` does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from structlog.testing import capture_logs

from adapters.base import AdapterConfigError, AdapterContext, Destination
from adapters.coop import CoopAdapter, CoopConfig
from hub.core.delivery_outcome import Verdict
from hub.core.jose import parse_jws
from tests.test_adapter_contract import COOP, context, outbound_message

__all__ = ["context"]  # the fixture, shared with the contract suite

API_KEY = "coop-test-key-9f2c"

_ITEM = {
    "oneOf": [
        {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "data": {"type": "object"},
                "typeId": {"type": "string"},
                "typeVersion": {"type": "string"},
                "typeSchemaVariant": {"type": "string", "enum": ["original", "partial"]},
            },
            "required": ["id", "data", "typeId"],
        },
        {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "data": {"type": "object"},
                "type": {"type": "object", "required": ["id"]},
            },
            "required": ["id", "data", "type"],
        },
    ]
}
COOP_REPORT_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "properties": {
        "reporter": {
            "type": "object",
            "properties": {
                "kind": {"type": "string", "enum": ["user"]},
                "typeId": {"type": "string"},
                "id": {"type": "string"},
            },
            "required": ["kind", "typeId", "id"],
        },
        "reportedAt": {"type": "string"},
        "reportedForReason": {
            "type": "object",
            "properties": {
                "policyId": {"type": ["string", "null"]},
                "reason": {"type": ["string", "null"]},
                "csam": {"type": ["boolean", "null"]},
            },
        },
        "reportedItem": _ITEM,
        "reportedItemThread": {"type": "array", "items": _ITEM},
        "additionalItems": {"type": "array", "items": _ITEM},
    },
    "required": ["reporter", "reportedAt", "reportedItem"],
}


@dataclass
class CoopServer:
    url: str
    key_file: Path
    reports: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    status: int = 201


@pytest_asyncio.fixture
async def coop(tmp_path: Path) -> AsyncIterator[CoopServer]:
    key_file = tmp_path / "coop-api-key"
    key_file.write_text(API_KEY + "\n")
    server: CoopServer

    async def report(request: web.Request) -> web.Response:
        server.headers.append(dict(request.headers))
        if request.headers.get("X-API-KEY") != key_file.read_text().strip():
            return web.json_response({"errors": [{"title": "Invalid API Key"}]}, status=401)
        if request.content_type != "application/json":
            return web.json_response({"errors": [{"title": "Unsupported media type"}]}, status=415)
        body = await request.json()
        try:
            jsonschema.Draft4Validator(COOP_REPORT_SCHEMA).validate(body)
        except jsonschema.ValidationError as exc:
            return web.json_response({"errors": [{"title": exc.message}]}, status=400)
        server.reports.append(body)
        if server.status != 201:
            return web.json_response({"errors": [{"title": "Refused"}]}, status=server.status)
        return web.json_response({"reportId": "0d3f1e2a-report"}, status=201)

    app = web.Application()
    app.router.add_post("/api/v1/report", report)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = CoopServer(f"http://127.0.0.1:{runner.addresses[0][1]}", key_file)
    try:
        yield server
    finally:
        await runner.cleanup()


def destination(coop: CoopServer, **changes: Any) -> Destination:
    config = {**COOP.valid_config, "url": coop.url, "api_key_file": str(coop.key_file), **changes}
    return Destination("ie-platform-test", None, config)


async def test_a_referral_becomes_a_coop_report_in_coops_own_shape(
    coop: CoopServer, context: AdapterContext
) -> None:
    message = outbound_message(context)
    with capture_logs() as logs:
        outcome = await CoopAdapter(context).deliver(message, destination(coop))

    assert (outcome.verdict, outcome.http_status) == (Verdict.DELIVERED, 201)
    assert outcome.detail == "reported to Coop as report 0d3f1e2a-report (HTTP 201)"
    [report] = coop.reports
    [headers] = coop.headers
    assert headers["X-API-KEY"] == API_KEY
    assert headers["Content-Type"] == "application/json"
    assert report["reporter"] == {"kind": "user", "typeId": "hub-user", "id": "referral-hub"}
    assert report["reportedForReason"]["policyId"] == "ncii"
    assert report["reportedForReason"]["csam"] is False
    item = report["reportedItem"]
    assert (item["id"], item["typeId"]) == (str(message.message_id), "ncii-referral")
    data = item["data"]
    assert data["message"] == message.signed_form  # the exact signed form
    assert data["receipt"] == message.receipt
    assert (data["case_id"], data["type"], data["from"]) == (
        str(message.case_id),
        "takedown-request",
        "de-hotline-test",
    )
    payload = parse_jws(message.signed_form).payload.decode()
    assert data["urls"] == ["https://photos.example.com/p/test-0001"]
    assert data["urls"][0] in payload
    assert data["platform_item_ids"] == ["test-0001"]
    assert "images" not in data  # Coop would fetch the images: the hub never asks for that
    assert API_KEY not in repr(outcome)
    assert API_KEY not in repr(logs)


async def test_a_rotated_api_key_is_read_at_the_next_delivery(
    coop: CoopServer, context: AdapterContext
) -> None:
    adapter = CoopAdapter(context)
    assert (await adapter.deliver(outbound_message(context), destination(coop))).verdict is Verdict.DELIVERED
    coop.key_file.write_text("coop-rotated-key-0002\n")
    assert (await adapter.deliver(outbound_message(context), destination(coop))).verdict is Verdict.DELIVERED
    assert [h["X-API-KEY"] for h in coop.headers] == [API_KEY, "coop-rotated-key-0002"]


async def test_an_unreadable_api_key_file_needs_attention_and_sends_nothing(
    coop: CoopServer, context: AdapterContext, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-key"
    outcome = await CoopAdapter(context).deliver(
        outbound_message(context), destination(coop, api_key_file=str(missing))
    )
    assert outcome.verdict is Verdict.ATTENTION
    assert str(missing) not in outcome.detail
    assert coop.headers == []


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(400, Verdict.PERMANENT), (401, Verdict.ATTENTION), (503, Verdict.RETRY), (429, Verdict.RETRY)],
)
async def test_coops_refusals_are_classified(
    coop: CoopServer, context: AdapterContext, status: int, verdict: Verdict
) -> None:
    coop.status = status
    outcome = await CoopAdapter(context).deliver(outbound_message(context), destination(coop))
    assert (outcome.verdict, outcome.http_status) == (verdict, status)


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_the_signature_key_must_be_an_rsa_public_key_of_2048_bits_or_more() -> None:
    good = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    config = CoopConfig.from_mapping({**COOP.valid_config, "signature_key": good}, None)
    assert config.signature_key == good
    refused = [
        pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
        pem(ec.generate_private_key(ec.SECP256R1())),
        "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n",
    ]
    for key in refused:
        with pytest.raises(AdapterConfigError):
            CoopConfig.from_mapping({**COOP.valid_config, "signature_key": key}, None)


def test_actions_map_to_the_answers_the_hub_knows() -> None:
    config = CoopConfig.from_mapping(COOP.valid_config, None)
    assert config.answers == {"remove-ncii": "removed", "not-ncii": "declined"}
    with pytest.raises(AdapterConfigError, match="answers must be"):
        CoopConfig.from_mapping({**COOP.valid_config, "actions": {"ban-user": "banned"}}, None)
    with pytest.raises(AdapterConfigError, match="absolute path"):
        CoopConfig.from_mapping({**COOP.valid_config, "api_key_file": "coop-api-key"}, None)
    with pytest.raises(AdapterConfigError, match="base URL"):  # a URL without a host is no Coop
        CoopConfig.from_mapping({**COOP.valid_config, "url": "http://"}, None)
