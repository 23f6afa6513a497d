"""Messages signed by an independent JOSE library (jwcrypto) are accepted in every serialisation, and
stored and forwarded in their exact signed form."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jwcrypto import jwk, jws

from hub.api.app import create_app
from tests.factories import Member, takedown


def jwcrypto_sign(member: Member, payload: bytes, serialisation: str) -> str:
    key = jwk.JWK(**member.key.to_dict())
    token = jws.JWS(payload)
    token.add_signature(key, alg="EdDSA", protected=json.dumps({"alg": "EdDSA", "kid": member.key.kid}))
    return token.serialize(compact=(serialisation == "compact"))


@pytest.mark.parametrize(
    ("serialisation", "content_type"),
    [
        ("compact", "application/jose"),
        ("general", "application/jose+json"),
        ("flattened", "application/json"),
    ],
)
async def test_hub_accepts_what_jwcrypto_signs(
    aiohttp_client: Any, settings: Any, directory: Any, serialisation: str, content_type: str
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    client = await aiohttp_client(create_app(settings, background=False))
    envelope = takedown(hotline, platform)
    signed = jwcrypto_sign(hotline, json.dumps(envelope, indent=1).encode(), serialisation)
    if serialisation == "general":  # jwcrypto flattens a single signature; spell it out as general
        flattened = json.loads(signed)
        payload = flattened.pop("payload")
        signed = json.dumps({"payload": payload, "signatures": [flattened]})

    response = await client.post("/v1/messages", data=signed.encode(), headers={"Content-Type": content_type})
    assert response.status == 202, await response.text()

    inbox = await (await client.get("/v1/inbox", headers=platform.auth())).json()
    assert inbox["messages"][0]["message"] == signed  # the exact signed form, byte for byte
    forwarded = jws.JWS()
    forwarded.deserialize(inbox["messages"][0]["message"])
    forwarded.verify(jwk.JWK(**hotline.key.public().to_dict()), alg="EdDSA")
    assert json.loads(forwarded.payload) == envelope
