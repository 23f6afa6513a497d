"""The public directory, the hub's keys, the templates, and the health endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jwcrypto import jwk

from hub.api.app import create_app
from hub.core.templates import TemplateCatalog
from hub.store import directory as store_directory


async def test_participants_are_listed_with_their_key_sets(
    aiohttp_client: Any, settings: Any, directory: Any, db: Any
) -> None:
    platform = await directory.add("ie-platform-test", "platform", "IE")
    await directory.add("de-hotline-test", "hotline", "DE")
    await store_directory.revoke_key(
        db, participant_id=platform.id, kid=platform.enc.kid, reason="compromised"
    )
    client = await aiohttp_client(create_app(settings, background=False))

    listing = await (await client.get("/v1/participants")).json()
    # The hub lists itself too (kind "hub"): it signs escalations of its own.
    assert [(p["id"], p["kind"]) for p in listing["participants"]] == [
        ("de-hotline-test", "hotline"),
        ("ie-platform-test", "platform"),
        ("test-hub", "hub"),
    ]
    assert listing["participants"][1] == {
        "id": "ie-platform-test",
        "name": "Fictitious platform ie-platform-test",
        "kind": "platform",
        "country": "IE",
        "accepts": ["takedown-request"],
        "push_delivery": False,
        "adapter": "pull",
        "domains": [],
        "trusted_flagger": False,
        "hash_signals": False,
        "contact_email_registered": False,  # the address itself is never published (issue 16.9)
        "home_hub": None,  # one of this hub's own (docs/federation.md)
    }

    entry = await (await client.get(f"/v1/participants/{platform.id}")).json()
    keys = {k["kid"]: k for k in entry["jwks"]["keys"]}
    assert set(keys) == {platform.key.kid, platform.enc.kid}
    assert keys[platform.key.kid]["status"] == "active"
    assert keys[platform.enc.kid]["status"] == "revoked"
    assert "d" not in keys[platform.key.kid]
    # A stock JOSE library reads the published keys.
    assert jwk.JWK(**{k: keys[platform.key.kid][k] for k in ("kty", "crv", "x", "kid")}).thumbprint()
    enc = jwk.JWK(**{k: keys[platform.enc.kid][k] for k in ("kty", "crv", "x", "kid")})
    assert enc.export_public(as_dict=True)["crv"] == "X25519"


async def test_key_validity_windows_are_published(aiohttp_client: Any, settings: Any, directory: Any) -> None:
    past = datetime.now(UTC) - timedelta(days=30)
    old = await directory.add(
        "ie-platform-test", "platform", "IE", not_before=past, not_after=past + timedelta(days=1)
    )
    client = await aiohttp_client(create_app(settings, background=False))
    entry = await (await client.get(f"/v1/participants/{old.id}")).json()
    signing = next(k for k in entry["jwks"]["keys"] if k["kid"] == old.key.kid)
    assert signing["status"] == "expired"
    assert signing["not_after"].startswith((past + timedelta(days=1)).strftime("%Y-%m-%d"))


async def test_hub_publishes_its_signing_key(aiohttp_client: Any, settings: Any) -> None:
    client = await aiohttp_client(create_app(settings, background=False))
    jwks = await (await client.get("/.well-known/jwks.json")).json()
    (key,) = jwks["keys"]
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert "d" not in key
    # The key file is the hub's, private to it, and the same key is used on the next start.
    assert settings.signing_key_file.stat().st_mode & 0o777 == 0o600
    again = await aiohttp_client(create_app(settings, background=False))
    assert (await (await again.get("/.well-known/jwks.json")).json()) == jwks


async def test_schemas_are_published(aiohttp_client: Any, settings: Any, catalog: TemplateCatalog) -> None:
    client = await aiohttp_client(create_app(settings, background=False))
    listing = await (await client.get("/v1/schemas")).json()
    names = {(s["type"], s["version"]) for s in listing["schemas"]}
    assert {"takedown-request", "assistance-request", "acknowledgement", "status-update", "withdrawal"} <= {
        n for n, _ in names
    }
    response = await client.get("/v1/schemas/takedown-request/1.0")
    assert response.content_type == "application/schema+json"
    schema = await response.json(content_type=None)
    assert schema == dict(catalog.schema("takedown-request", "1.0"))
    assert schema["$id"] == "urn:referral-hub:schema:takedown-request:1.0"


async def test_health_and_readiness(aiohttp_client: Any, settings: Any, db: Any) -> None:
    client = await aiohttp_client(create_app(settings, background=False))
    assert (await (await client.get("/healthz")).json()) == {"status": "ok", "hub_id": "test-hub"}
    ready = await client.get("/readyz")
    assert ready.status == 200
    # A schema behind the code's (a migration row lost) makes the hub unready.
    await db.execute(
        "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)"
    )
    unready = await client.get("/readyz")
    assert unready.status == 503
    assert (await unready.json())["status"] == "unavailable"


async def test_every_response_carries_a_request_id(aiohttp_client: Any, settings: Any) -> None:
    client = await aiohttp_client(create_app(settings, background=False))
    given = await client.get("/healthz", headers={"X-Request-Id": "trace-123"})
    assert given.headers["X-Request-Id"] == "trace-123"
    made = await client.get("/nowhere")
    assert len(made.headers["X-Request-Id"]) == 32


async def test_after_a_key_rotation_the_hub_publishes_old_and_new_keys(
    aiohttp_client: Any, settings: Any
) -> None:
    first = await aiohttp_client(create_app(settings, background=False))
    old = (await (await first.get("/.well-known/jwks.json")).json())["keys"]
    settings.signing_key_file.rename(settings.signing_key_file.with_suffix(".old"))  # the operator rotates
    second = await aiohttp_client(create_app(settings, background=False))
    keys = (await (await second.get("/.well-known/jwks.json")).json())["keys"]
    assert len(keys) == 2
    assert keys[1]["kid"] == old[0]["kid"]  # what the old key signed still verifies
    assert keys[0]["kid"] != old[0]["kid"]  # the new key signs from now on
