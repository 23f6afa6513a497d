"""A refusal: the hub declines a request for a reason it can name.

Each refusal carries a stable `code` (the API turns it into an RFC 9457 problem `type`) and a
human `detail` that never repeats message content.
"""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    """`retry_after` (seconds), when set, tells the client when trying again may succeed."""

    def __init__(self, code: str, detail: str, *, retry_after: int | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.retry_after = retry_after
        self.extra = extra
