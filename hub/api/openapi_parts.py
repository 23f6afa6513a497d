"""The pieces every part of the OpenAPI document (`hub.api.openapi`) builds with: references, JSON and
problem responses, parameters, the bearer security requirement."""

from __future__ import annotations

from typing import Any

from hub.api.problems import PROBLEMS

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(schema: dict[str, Any], description: str, media: str = JSON) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": schema}}}


def problems(*statuses: int) -> dict[str, Any]:
    """Problem responses for `statuses`, plus 500 and 503 (any route may meet a fault or a database down)."""
    out: dict[str, Any] = {}
    for status in sorted({*statuses, 500, 503}):
        codes = sorted(code for code, (s, _) in PROBLEMS.items() if s == status)
        out[str(status)] = {
            "description": "Problem: " + ", ".join(codes),
            "content": {PROBLEM_JSON: {"schema": ref("Problem")}},
        }
    return out


def query_parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def path_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


CURSOR = query_parameter("cursor", "an opaque cursor the hub returned", {"type": "string"})
PERIOD = [
    query_parameter(
        "from",
        "first day, YYYY-MM-DD (default: 1 January of this year)",
        {"type": "string", "format": "date"},
    ),
    query_parameter("to", "day after the last, YYYY-MM-DD (excluded)", {"type": "string", "format": "date"}),
]
