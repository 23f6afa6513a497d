"""A refusal: the hub declines a request for a reason it can name.

Each refusal carries a stable `code` (the API turns it into an RFC 9457 problem `type`) and a
human `detail` that never repeats message content.
"""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra
