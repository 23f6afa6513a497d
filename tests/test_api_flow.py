"""The core user story, end to end through the HTTP API on a real PostgreSQL.

A hotline (DE) signs a takedown request for a platform (IE); the hub answers with a signed receipt;
the platform pulls it, verifies the hotline's signature and the hub's receipt with jwcrypto (an
independent JOSE library) and keys from the hub's directory, acknowledges, and reports removal; the
hotline and a police liaison (NL) the case was shared with read the timeline; nobody else can.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from jwcrypto import jwk, jws

from hub.api.app import create_app
from tests.factories import acknowledgement, jose, removal, takedown


def jwcrypto_verify(signed: str, jwks: dict[str, Any]) -> bytes:
    """Verify a compact JWS with jwcrypto, picking the key by kid from a published JWK Set."""
    token = jws.JWS()
    token.deserialize(signed)
    kid = token.jose_header["kid"]
    published = next(k for k in jwks["keys"] if k["kid"] == kid)
    key = jwk.JWK(**{k: published[k] for k in ("kty", "crv", "x", "kid")})
    token.verify(key, alg="EdDSA")
    return bytes(token.payload)


async def test_takedown_story(aiohttp_client: Any, settings: Any, directory: Any) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    liaison = await directory.add("nl-police-test", "law-enforcement", "NL")
    outsider = await directory.add("us-platform-test", "platform", "US")
    client = await aiohttp_client(create_app(settings, background=False))

    # 1. The hotline submits a signed takedown request and gets a signed receipt.
    request = takedown(hotline, platform)
    signed_request = hotline.sign(request)
    response = await client.post("/v1/messages", **jose(signed_request))
    assert response.status == 202, await response.text()
    receipt = await response.json()
    case_id = receipt["case_id"]
    hub_jwks = await (await client.get("/.well-known/jwks.json")).json()
    claims = json.loads(jwcrypto_verify(receipt["receipt"], hub_jwks))
    assert claims["message_id"] == request["id"]
    assert claims["case_id"] == case_id
    assert claims["payload_sha256"] == receipt["payload_sha256"]
    assert claims["payload_sha256"] == hashlib.sha256(jwcrypto_payload(signed_request)).hexdigest()

    # The same message again gets the very same receipt.
    again = await client.post("/v1/messages", **jose(signed_request))
    assert again.status == 202
    assert (await again.json())["receipt"] == receipt["receipt"]

    # 2. The hotline shares the case with the liaison.
    shared = await client.post(
        f"/v1/cases/{case_id}/shares", json={"participant_id": liaison.id}, headers=hotline.auth()
    )
    assert shared.status == 201

    # 3. The platform pulls its inbox and verifies with jwcrypto and the directory's keys.
    inbox = await (await client.get("/v1/inbox", headers=platform.auth())).json()
    assert [m["message_id"] for m in inbox["messages"]] == [request["id"]]
    item = inbox["messages"][0]
    hotline_entry = await (await client.get(f"/v1/participants/{hotline.id}")).json()
    envelope = json.loads(jwcrypto_verify(item["message"], hotline_entry["jwks"]))
    assert envelope == request
    assert (
        json.loads(jwcrypto_verify(item["receipt"], hub_jwks))["payload_sha256"] == receipt["payload_sha256"]
    )
    acked = await client.post(
        "/v1/inbox/ack", json={"message_ids": [item["message_id"]]}, headers=platform.auth()
    )
    assert (await acked.json())["retrieved"] == [request["id"]]
    empty = await (await client.get("/v1/inbox", headers=platform.auth())).json()
    assert empty["messages"] == []

    # 4. The platform acknowledges, then reports removal.
    for answer in (
        acknowledgement(platform, hotline, case_id, request["id"]),
        removal(platform, hotline, case_id, request["id"]),
    ):
        answered = await client.post("/v1/messages", **jose(platform.sign(answer)))
        assert answered.status == 202, await answered.text()
        assert (await answered.json())["case_id"] == case_id

    # 5. The hotline gets both answers in its inbox and sees the case actioned.
    hotline_inbox = await (await client.get("/v1/inbox", headers=hotline.auth())).json()
    assert [m["type"] for m in hotline_inbox["messages"]] == ["acknowledgement", "status-update"]
    for view_of in (hotline, liaison):
        case = await (await client.get(f"/v1/cases/{case_id}", headers=view_of.auth())).json()
        assert case["status"] == "actioned"
        (recipient,) = case["recipients"]
        assert (recipient["participant_id"], recipient["state"]) == (platform.id, "actioned")
        # The EU clocks the request started (DSA Art. 16) were met by the answers, in time.
        assert {(d["deadline"], d["state"], d["jurisdiction"]) for d in recipient["deadlines"]} == {
            ("acknowledge", "met", "EU"),
            ("act", "met", "EU"),
        }
        assert case["overdue"] is False
        moves = [
            (e.get("from_state"), e["to_state"])
            for e in case["timeline"]
            if e["event"] == "recipient.state_changed"
        ]
        assert moves == [
            (None, "queued"),
            ("queued", "retrieved"),
            ("retrieved", "acknowledged"),
            ("acknowledged", "actioned"),
        ]
        assert any(e["event"] == "case.shared" and e["subject"] == liaison.id for e in case["timeline"])

    # 6. Nobody else sees it.
    refused = await client.get(f"/v1/cases/{case_id}", headers=outsider.auth())
    assert refused.status == 403
    assert (await refused.json())["type"].endswith(":not-a-party")


def jwcrypto_payload(compact: str) -> bytes:
    token = jws.JWS()
    token.deserialize(compact)
    return bytes(token.objects["payload"])
