"""The hub-to-hub part of the OpenAPI document (docs/federation.md): the vouching feed a peer reads and
the endpoint a peer forwards messages to."""

from __future__ import annotations

from typing import Any

from hub.api.openapi_parts import BEARER, JSON, json_response, problems, ref


def federation_paths() -> dict[str, Any]:
    return {
        "/v1/federation/participants": {
            "get": {
                "operationId": "vouchingFeed",
                "summary": "The participants this hub vouches for, signed by it (docs/federation.md)",
                "responses": {
                    "200": {
                        "description": "A compact JWS, typ hub-federation-feed+jwt, by the hub's key",
                        "content": {"application/jose": {"schema": {"type": "string"}}},
                    },
                    **problems(),
                },
            }
        },
        "/v1/federation/messages": {
            "post": {
                "operationId": "forwardMessage",
                "summary": "A peer hub forwards a message to one of this hub's participants",
                "description": "docs/federation.md, section 4. The caller is a registered peer (kind hub, "
                "bearer token iss: the peer, aud: this hub). Checked in order: the caller a peer "
                "(not-a-peer), the message a JWS of a valid envelope, its sender vouched for by the peer "
                "(sender-not-vouched) with a key the peer's feed gave, the peer's receipt for it "
                "(invalid-hop-receipt), every recipient '<id>@<this hub>' (not-for-this-hub); then as "
                "POST /v1/messages. The same message again gets the first receipt; the same id with "
                "other bytes is duplicate-id.",
                "security": BEARER,
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "the message id (the hub keys on the id in the message itself)",
                        "schema": {"type": "string", "format": "uuid"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": ref("Forwarding")}},
                },
                "responses": {
                    "202": {
                        **json_response(ref("Receipt"), "Accepted: this hub's signed receipt"),
                        "headers": {"Location": {"schema": {"type": "string"}, "description": "the case"}},
                    },
                    **problems(400, 401, 403, 409, 413, 415, 422),
                },
            }
        },
    }


def federation_schemas() -> dict[str, Any]:
    return {
        "Forwarding": {
            "type": "object",
            "required": ["message", "receipt"],
            "properties": {
                "message": {"type": "string", "description": "the exact signed form the sender made (a JWS)"},
                "receipt": {"type": "string", "description": "the forwarding hub's receipt (compact JWS)"},
            },
        },
    }
