"""What a form is for: the template, where it is posted, and the case and recipients of an answer.

Its own module so that the compose view and the review step (`hub.console.views.review`) both read it
without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Compose:
    message_type: str
    version: str
    action: str
    case: dict[str, Any] | None = None
    in_reply_to: str | None = None
    to: list[str] | None = None  # fixed recipients of an answer
    options: list[tuple[str, str]] = field(default_factory=list)
    unreachable: bool = False  # the hub did not answer: the form is shown again as filled, nothing sent
