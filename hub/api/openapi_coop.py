"""ROOST Coop's action callbacks' part of the OpenAPI document: `POST /v1/coop/{participant_id}/actions`."""

from __future__ import annotations

from typing import Any

from hub.api.openapi_parts import json_response, path_parameter, problems, ref


def coop_paths() -> dict[str, Any]:
    return {
        "/v1/coop/{participant_id}/actions": {
            "post": {
                "operationId": "takeCoopActionCallback",
                "summary": "A platform's ROOST Coop calls back with a decision: the platform's answer",
                "description": "Configure this URL as the callback of the Coop actions that answer a "
                "referral, and map them to answers in the platform's `coop` adapter configuration "
                "(`actions`). No bearer token: the `coop-signature` header (base64 RSASSA-PKCS1-v1_5 "
                "SHA-256 over the raw body, by the organisation's key registered as `signature_key`) is "
                "the credential; without a valid one nothing is stored (`coop-signature-invalid`). A "
                "valid callback becomes a message from the platform, signed by the hub and marked with "
                "an `attestation` (channel `coop`, the SHA-256 of the body, which the hub keeps as "
                "evidence), recorded as every hub-attested answer is. The same body again changes "
                "nothing. See docs/hash-exchange.md, 'ROOST Coop'.",
                "parameters": [
                    path_parameter("participant_id", "the platform whose Coop calls back"),
                    {
                        "name": "coop-signature",
                        "in": "header",
                        "required": True,
                        "description": "base64 RSASSA-PKCS1-v1_5 SHA-256 signature of the raw body",
                        "schema": {"type": "string"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": ref("CoopActionCallback")}},
                },
                "responses": {
                    "200": json_response(ref("CoopAnswer"), "Recorded: the hub-attested answer"),
                    **problems(400, 403, 404, 409, 410, 413, 422),
                },
            }
        },
    }


def coop_schemas() -> dict[str, Any]:
    ids: dict[str, Any] = {"id": {"type": "string"}, "typeId": {"type": "string"}}
    identifier = {"type": "object", "required": ["id"], "properties": ids}
    return {
        "CoopActionCallback": {
            "type": "object",
            "description": "The body Coop POSTs to an action's callback URL (roostorg/coop, "
            "docs/api/actions.md): item.id is the hub's message id (the report's item id).",
            "required": ["item", "action"],
            "properties": {
                "item": {**identifier, "properties": {**ids, "typeName": {"type": "string"}}},
                "action": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
                "policies": {"type": "array", "items": {"type": "object"}},
                "rules": {"type": "array", "items": {"type": "object"}},
                "custom": {"type": "object"},
                "actorEmail": {"type": "string"},
                "actorNote": {"type": "string"},
                "creator": identifier,
                "decisionReason": {"type": "string", "description": "a decline's reason"},
                "userStrikeCount": {"type": "number"},
            },
        },
        "CoopAnswer": {
            "type": "object",
            "required": ["message_id", "case_id", "receipt"],
            "properties": {
                "message_id": {"type": "string", "format": "uuid", "description": "the attested answer"},
                "case_id": {"type": "string", "format": "uuid"},
                "receipt": {
                    "type": ["string", "null"],
                    "description": "the hub's signed receipt; null when an earlier delivery of the same "
                    "callback recorded the answer",
                },
            },
        },
    }
