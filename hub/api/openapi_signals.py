"""The hash-signal feed's part of the OpenAPI document: `GET /v1/signals` and its records."""

from __future__ import annotations

from typing import Any

from hub.api.openapi_parts import BEARER, CURSOR, json_response, problems, ref
from hub.api.parameters import SIGNALS_LIMIT
from hub.core.signals import SIGNAL_ALGS, Audience, SignalStatus

_TIME = {"type": "string", "format": "date-time"}
_STATUS = {"type": "string", "enum": [str(s) for s in SignalStatus]}


def signal_paths() -> dict[str, Any]:
    return {
        "/v1/signals": {
            "get": {
                "operationId": "readSignals",
                "summary": "The caller's hash-signal feed: changes after the cursor, oldest first",
                "description": "One item per change of one of the caller's signal copies, each the copy's "
                "full current record. Resume with the page's cursor (opaque: never build or parse one); "
                "`more` says the page is full. Positions are given in commit order, so paging never skips "
                "or repeats a change. Merge items by signal_id, the last winning: `withdrawn` means stop "
                "matching, `deleted` means delete (the value is gone). See docs/wire-contract.md, "
                "'Hash signals'.",
                "security": BEARER,
                "parameters": [CURSOR, SIGNALS_LIMIT.openapi()],
                "responses": {"200": json_response(ref("SignalPage"), "A page"), **problems(400, 401, 409)},
            }
        },
    }


def signal_schemas() -> dict[str, Any]:
    return {
        "SignalPage": {
            "type": "object",
            "required": ["signals", "cursor", "more"],
            "properties": {
                "signals": {"type": "array", "items": ref("Signal")},
                "cursor": {"type": "string", "description": "opaque: where the next page starts"},
                "more": {"type": "boolean", "description": "the page is full: ask again at once"},
            },
        },
        "Signal": {
            "type": "object",
            "required": [
                "signal_id",
                "signal_type",
                "value",
                "status",
                "status_changed_at",
                "history",
                "audience",
            ],
            "properties": {
                "signal_id": {"type": "string", "format": "uuid", "description": "the key to merge by"},
                "signal_type": {"type": "string", "enum": list(SIGNAL_ALGS)},
                "value": {
                    "type": ["string", "null"],
                    "description": "the hash, lower-case hex; null once deleted",
                },
                "status": _STATUS,
                "status_changed_at": _TIME,
                "history": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["status", "at"],
                        "properties": {"status": _STATUS, "at": _TIME},
                    },
                },
                "audience": {
                    "type": "string",
                    "enum": [str(a) for a in Audience],
                    "description": "recipient: the request was addressed to the caller; opted-in: the "
                    "person consented and the caller opted in to hash signals",
                },
                "case_id": {"type": "string", "format": "uuid", "description": "recipients only"},
                "message_id": {
                    "type": "string",
                    "format": "uuid",
                    "description": "recipients only: the request",
                },
                "content_item": {
                    "type": "integer",
                    "description": "recipients only: the index of the content item in the request",
                },
            },
        },
    }
