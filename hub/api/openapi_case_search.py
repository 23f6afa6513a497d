"""`POST /v1/search/cases`'s part of the OpenAPI document: finding one's cases by a content URL."""

from __future__ import annotations

from typing import Any

from hub.api.openapi_parts import BEARER, JSON, json_response, problems, ref

_TIME = {"type": "string", "format": "date-time"}


def case_search_paths() -> dict[str, Any]:
    return {
        "/v1/search/cases": {
            "post": {
                "operationId": "searchCases",
                "summary": "The caller's cases whose takedown requests name a content URL",
                "description": "The hub keeps no content URL in clear: at intake it stores a keyed digest "
                "(HMAC-SHA256 under a key of its own) of each URL's normal form (scheme and host in lower "
                "case, no default port, no fragment; path and query exact), and a search computes the "
                "same digest. Only messages the caller sent or was sent are matched. The URL goes in the "
                "body, so that no address or access log holds it.",
                "security": BEARER,
                "requestBody": {"required": True, "content": {JSON: {"schema": ref("CaseSearch")}}},
                "responses": {
                    "200": json_response(ref("CaseSearchResult"), "The cases found, newest first"),
                    **problems(400, 401, 413, 415, 422),
                },
            }
        },
    }


def case_search_schemas() -> dict[str, Any]:
    return {
        "CaseSearch": {
            "type": "object",
            "required": ["content_url"],
            "properties": {"content_url": {"type": "string", "format": "uri", "maxLength": 8192}},
        },
        "CaseSearchResult": {
            "type": "object",
            "required": ["cases"],
            "properties": {
                "cases": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["case_id", "message_id", "message_type", "accepted_at"],
                        "properties": {
                            "case_id": {"type": "string", "format": "uuid"},
                            "message_id": {"type": "string", "format": "uuid"},
                            "message_type": {"type": "string"},
                            "accepted_at": _TIME,
                        },
                    },
                }
            },
        },
    }
