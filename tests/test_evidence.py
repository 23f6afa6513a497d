"""Evidence bundles: exported after the core story, they verify offline with our verifier and, file by
file, with an independent JOSE library (jwcrypto); any tampering with a file is caught."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from typing import Any

import asyncpg
from jwcrypto import jwk, jws

from hub.api.app import create_app
from hub.api.keys import HUB_KEY, KEYRING, POOL
from hub.core.clock import utc_now
from hub.evidence.export import export_bundle
from hub.evidence.verify import verify_bundle
from hub.store.audit import sequence_and_checkpoint
from tests.factories import acknowledgement, jose, removal, takedown


async def bundle_of_story(
    aiohttp_client: Any, settings: Any, directory: Any, db: asyncpg.Connection
) -> bytes:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    app = create_app(settings, background=False)
    client = await aiohttp_client(app)
    request = takedown(hotline, platform)
    case_id = (await (await client.post("/v1/messages", **jose(hotline.sign(request)))).json())["case_id"]
    await client.post("/v1/inbox/ack", json={"message_ids": [request["id"]]}, headers=platform.auth())
    for answer in (
        acknowledgement(platform, hotline, case_id, request["id"]),
        removal(platform, hotline, case_id, request["id"]),
    ):
        assert (await client.post("/v1/messages", **jose(platform.sign(answer)))).status == 202
    await sequence_and_checkpoint(app[POOL], app[HUB_KEY], settings.hub_id, utc_now())
    return await export_bundle(
        db, uuid.UUID(case_id), hub_id=settings.hub_id, now=utc_now(), keyring=app[KEYRING]
    )


def files_of(bundle: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    return buffer.getvalue()


async def test_a_fresh_bundle_verifies_offline(
    aiohttp_client: Any, settings: Any, directory: Any, db: Any
) -> None:
    bundle = await bundle_of_story(aiohttp_client, settings, directory, db)
    report = verify_bundle(bundle)
    assert report.ok, report.faults
    assert report.checked["message signatures"] == 3
    assert report.checked["receipts"] == 3
    assert report.checked["delivery evidences"] >= 1
    assert report.checked["audit entries"] >= 8
    files = files_of(bundle)
    assert "README.txt" in files
    assert "keys/hub.jwks.json" in files
    assert json.loads(files["timeline.json"])["status"] == "actioned"


async def test_jwcrypto_verifies_every_signed_file_with_the_keys_in_the_bundle(
    aiohttp_client: Any, settings: Any, directory: Any, db: Any
) -> None:
    files = files_of(await bundle_of_story(aiohttp_client, settings, directory, db))
    manifest = json.loads(files["manifest.json"])
    keys = {}
    for name, body in files.items():
        if name.startswith("keys/"):
            for key in json.loads(body)["keys"]:
                keys[key["kid"]] = jwk.JWK(**{k: key[k] for k in ("kty", "crv", "x", "kid")})
    signed_files = [m["file"] for m in manifest["messages"]] + [m["receipt"] for m in manifest["messages"]]
    signed_files += manifest["delivery_evidence"] + ["audit/checkpoint.jws"]
    for name in signed_files:
        token = jws.JWS()
        token.deserialize(files[name].decode())
        token.verify(keys[token.jose_header["kid"]], alg="EdDSA")
    for item in manifest["messages"]:
        token = jws.JWS()
        token.deserialize(files[item["file"]].decode())
        receipt = jws.JWS()
        receipt.deserialize(files[item["receipt"]].decode())
        assert (
            json.loads(receipt.objects["payload"])["payload_sha256"]
            == hashlib.sha256(token.objects["payload"]).hexdigest()
        )
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == digest


async def test_tampering_with_any_file_is_caught(
    aiohttp_client: Any, settings: Any, directory: Any, db: Any
) -> None:
    files = files_of(await bundle_of_story(aiohttp_client, settings, directory, db))
    manifest = json.loads(files["manifest.json"])
    message = manifest["messages"][0]["file"]
    header, payload, signature = files[message].decode().split(".")
    forged = payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB")
    tampered = {**files, message: f"{header}.{forged}.{signature}".encode()}
    report = verify_bundle(rezip(tampered))
    assert not report.ok
    assert any(message in fault for fault in report.faults)

    entries = json.loads(files["audit/entries.json"])
    entries[0]["actor"] = "someone-else"
    report = verify_bundle(rezip({**files, "audit/entries.json": json.dumps(entries).encode()}))
    assert any("audit entry" in fault for fault in report.faults)
