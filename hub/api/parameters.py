"""The bounded query parameters: one definition each, that the handler reads with and `/openapi.json`
describes, so the document's bounds cannot drift from what the hub enforces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from hub.api.request import int_parameter
from hub.services import signal_feed
from hub.services.inbox import MAX_PAGE


@dataclass(frozen=True)
class IntParameter:
    name: str
    description: str
    default: int
    minimum: int
    maximum: int

    def read(self, request: web.Request) -> int:
        """The value in `request`'s query, or the default; out of bounds is an `invalid-parameter` problem."""
        return int_parameter(request, self.name, self.default, self.minimum, self.maximum)

    def openapi(self) -> dict[str, Any]:
        schema = {
            "type": "integer",
            "minimum": self.minimum,
            "maximum": self.maximum,
            "default": self.default,
        }
        return {
            "name": self.name,
            "in": "query",
            "required": False,
            "description": self.description,
            "schema": schema,
        }


INBOX_LIMIT = IntParameter("limit", "page size", default=50, minimum=1, maximum=MAX_PAGE)
INBOX_WAIT = IntParameter("wait", "long-poll seconds", default=0, minimum=0, maximum=30)
CASES_LIMIT = IntParameter("limit", "page size", default=50, minimum=1, maximum=200)
SIGNALS_LIMIT = IntParameter(
    "limit", "changes per page", default=500, minimum=1, maximum=signal_feed.MAX_PAGE
)
