"""`/openapi.json`: a valid OpenAPI 3.1 document that matches the routes the app registers, both ways,
and whose response schemas the real answers conform to."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from hub.api.app import create_app
from tests.factories import jose, takedown

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
DOC = "urn:referral-hub:openapi"


@pytest.fixture
async def client(aiohttp_client: Any, settings: Any) -> Any:
    return await aiohttp_client(create_app(settings, background=False))


async def document(client: Any) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status == 200
    doc: dict[str, Any] = await response.json()
    return doc


def pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


async def conforms(doc: dict[str, Any], response: Any, path: str, method: str) -> None:
    """The response's status and media type are documented, and its body validates against the schema."""
    responses = doc["paths"][path][method]["responses"]
    status = str(response.status)
    assert status in responses, f"{method.upper()} {path} answered {status}, not documented"
    media = response.headers["Content-Type"].split(";")[0].strip()
    content = responses[status]["content"]
    assert media in content, f"{method.upper()} {path} {status}: {media} not documented"
    registry: Registry[Any] = Registry().with_resource(
        DOC, Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    ref = "#/" + pointer("paths", path, method, "responses", status, "content", media, "schema")
    validator = Draft202012Validator({"$ref": DOC + ref}, registry=registry)
    body = json.loads(await response.text())
    errors = [e.message for e in validator.iter_errors(body)]
    assert not errors, f"{method.upper()} {path} {status}: {errors}"


async def test_document_is_valid_openapi_3_1(client: Any) -> None:
    doc = await document(client)
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # openapi-spec-validator picks the 3.1 schema from the version field
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        **doc["components"]["securitySchemes"]["bearerAuth"],
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }


async def test_document_and_routes_match_both_ways(client: Any) -> None:
    doc = await document(client)
    registered: set[tuple[str, str]] = set()
    for route in client.app.router.routes():
        info = route.resource.canonical if route.resource is not None else None
        assert info is not None
        if route.method == "HEAD":
            continue  # aiohttp adds HEAD beside every GET
        registered.add((info, route.method.lower()))
    documented = {
        (path, method) for path, item in doc["paths"].items() for method in item if method in METHODS
    }
    assert registered - documented == set(), "routes missing from the document"
    assert documented - registered == set(), "documented paths the app does not serve"


async def test_messages_takes_both_jose_media_types_and_references_templates(
    client: Any, catalog: Any
) -> None:
    doc = await document(client)
    submit = doc["paths"]["/v1/messages"]["post"]
    assert set(submit["requestBody"]["content"]) == {"application/jose", "application/jose+json"}
    urls = {t["schema"] for t in submit["x-templates"]}
    assert urls == {f"/v1/schemas/{n}/{v}" for n, v in catalog.templates()}
    for url in urls:  # every referenced template is served where the document says
        response = await client.get(url)
        assert response.status == 200, url
    for operation in (op for item in doc["paths"].values() for op in item.values()):
        for status, answer in operation["responses"].items():
            if status.startswith(("4", "5")) and "application/problem+json" in answer.get("content", {}):
                schema = answer["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}


async def test_every_documented_integer_bound_is_the_one_the_hub_enforces(
    client: Any, directory: Any
) -> None:
    """The document's bounds come from the handlers' own parameter definitions (hub/api/parameters.py):
    the hub takes the documented maximum and refuses one more, naming the parameter."""
    doc = await document(client)
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    sent = await client.post("/v1/messages", **jose(hotline.sign(takedown(hotline, platform))))
    assert sent.status == 202  # the inbox is not empty, so the longest long-poll returns at once
    checked = []
    for path, item in doc["paths"].items():
        for parameter in item.get("get", {}).get("parameters", []):
            schema = parameter["schema"]
            if parameter["in"] != "query" or schema.get("type") != "integer" or parameter.get("required"):
                continue  # a required one (a consistency proof's two sizes) is not asked for alone
            name, top = parameter["name"], schema["maximum"]
            taken = await client.get(f"{path}?{name}={top}", headers=platform.auth())
            if taken.status == 404:  # a size to look up (a checkpoint's): taken, and not found
                assert (await taken.json())["type"].endswith("unknown-checkpoint"), (path, name)
            else:
                assert taken.status == 200, (path, name, top)
            refused = await client.get(f"{path}?{name}={top + 1}", headers=platform.auth())
            assert refused.status == 400, (path, name, top + 1)
            problem = await refused.json()
            assert problem["type"].endswith("invalid-parameter")
            assert f"from {schema['minimum']} to {top}" in problem["detail"]
            checked.append((path, name))
    assert {("/v1/inbox", "limit"), ("/v1/inbox", "wait"), ("/v1/cases", "limit")} <= set(checked)


async def test_real_responses_conform(client: Any, directory: Any) -> None:
    doc = await document(client)
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")

    accepted = await client.post("/v1/messages", **jose(hotline.sign(takedown(hotline, platform))))
    assert accepted.status == 202
    await conforms(doc, accepted, "/v1/messages", "post")
    case_id = (await accepted.json())["case_id"]
    refused = await client.post("/v1/messages", data=b"{", headers={"Content-Type": "application/jose+json"})
    assert refused.status == 400
    await conforms(doc, refused, "/v1/messages", "post")
    wrong_type = await client.post("/v1/messages", data=b"x", headers={"Content-Type": "text/plain"})
    await conforms(doc, wrong_type, "/v1/messages", "post")

    await conforms(doc, await client.get("/v1/inbox", headers=platform.auth()), "/v1/inbox", "get")
    await conforms(doc, await client.get("/v1/inbox"), "/v1/inbox", "get")  # 401 problem
    await conforms(doc, await client.get("/v1/inbox?limit=0", headers=platform.auth()), "/v1/inbox", "get")
    await conforms(doc, await client.get("/v1/cases", headers=hotline.auth()), "/v1/cases", "get")
    case = await client.get(f"/v1/cases/{case_id}", headers=hotline.auth())
    await conforms(doc, case, "/v1/cases/{case_id}", "get")
    outsider = await client.get(
        f"/v1/cases/{case_id}", headers=(await directory.add("us-x", "platform", "US")).auth()
    )
    await conforms(doc, outsider, "/v1/cases/{case_id}", "get")
    await conforms(doc, await client.get("/v1/participants"), "/v1/participants", "get")
    await conforms(
        doc, await client.get(f"/v1/participants/{platform.id}"), "/v1/participants/{participant_id}", "get"
    )
    await conforms(
        doc, await client.get("/v1/participants/nobody"), "/v1/participants/{participant_id}", "get"
    )
    await conforms(doc, await client.get("/.well-known/jwks.json"), "/.well-known/jwks.json", "get")
    await conforms(doc, await client.get("/v1/schemas"), "/v1/schemas", "get")
    await conforms(doc, await client.get("/v1/schemas/nothing/1.0"), "/v1/schemas/{name}/{version}", "get")
    await conforms(doc, await client.get("/v1/stats", headers=hotline.auth()), "/v1/stats", "get")
    await conforms(doc, await client.get("/healthz"), "/healthz", "get")
    await conforms(doc, await client.get("/readyz"), "/readyz", "get")
    ack = await client.post("/v1/inbox/ack", json={"message_ids": []}, headers=platform.auth())
    await conforms(doc, ack, "/v1/inbox/ack", "post")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Fuzzed cases per operation, after the coverage phase's own cases for every operation (about 1,000 of the
# 1,400 at 25): CI (CI=true) takes 10, which halves the test's time (docs/performance.md, "The test suite").
FUZZED_PER_OPERATION = "10" if os.environ.get("CI") else "25"


@pytest.mark.skipif(shutil.which("st") is None, reason="schemathesis is not installed")
def test_schemathesis_finds_no_5xx_and_no_nonconforming_response(tmp_path: Any, database_url: str) -> None:
    """A live hub (`hub serve`) fuzzed from its own document: no 5xx, every response conforms.

    Positive-data acceptance is not checked: a schema-valid body is not a validly signed message, and
    operations behind single-use bearer tokens are exercised for their 401 answers only."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "HUB_DATA_DIR": str(tmp_path),
        "HUB_DATABASE_URL": database_url,
        "HUB_PORT": str(port),
        "HUB_ID": "st-hub",
        "HUB_LOG_LEVEL": "warning",
    }
    hub = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the hub did not become ready"
            time.sleep(0.3)
        result = subprocess.run(
            [
                shutil.which("st") or "st",
                "run",
                f"{base}/openapi.json",
                "--url",
                base,
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
                "--max-examples",
                FUZZED_PER_OPERATION,
                "--seed",
                "1",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-4000:]
    finally:
        hub.terminate()
        hub.wait(timeout=30)
