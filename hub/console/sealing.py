"""Sealing in the console: to every recipient before signing, and opened only here, for display.

The sealing itself (each recipient's current key, the sealed boxes, opening a copy) is the client
library's (`hub.client.sealing`), shared with `hub send` and `hub inbox --enc-key`. The console seals as
the last step before signing and never stores a plaintext; it opens a sealed value only to show it on a
page, with the organisation's own X25519 key (`--enc-key`), and says plainly when it cannot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.client.sealing import (
    CannotOpen,
    NoEncryptionKeyError,
    SealingError,
    encryption_key,
    open_copy,
    seal_to,
)
from hub.core.jose import PrivateEncryptionJwk
from hub.core.sealing import is_sealed

__all__ = [
    "NoEncryptionKeyError",
    "Opened",
    "SealingError",
    "encryption_key",
    "is_sealed",
    "open_all",
    "open_value",
    "seal_to",
]

_CONSOLE_REASONS = {"other-key": "sealed to another of your keys than the one this console holds"}


@dataclass(frozen=True)
class Opened:
    """A sealed value as the page shows it: its members when opened here, else why not."""

    members: dict[str, Any] | None
    reason: str = ""


def open_value(
    value: Mapping[str, Any], me: str, key: PrivateEncryptionJwk | None, *, sent: bool = False
) -> Opened:
    if sent:
        return Opened(None, "sealed to the recipients: the console keeps no copy it can read")
    if key is None:
        if not any(isinstance(c, Mapping) and c.get("to") == me for c in value.get("sealed", [])):
            return Opened(None, "sealed to the other recipients only")
        return Opened(None, "sealed: start the console with --enc-key to read it here")
    try:
        plaintext = open_copy(value, me, key)
    except CannotOpen as exc:
        return Opened(None, _CONSOLE_REASONS.get(exc.reason, str(exc)))
    return Opened(plaintext if isinstance(plaintext, dict) else {"value": plaintext})


def open_all(node: Any, me: str, key: PrivateEncryptionJwk | None, *, sent: bool = False) -> Any:
    """A copy of a message body with each sealed value replaced by what the page may show of it."""
    if is_sealed(node):
        return open_value(node, me, key, sent=sent)
    if isinstance(node, dict):
        return {k: open_all(v, me, key, sent=sent) for k, v in node.items()}
    if isinstance(node, list):
        return [open_all(v, me, key, sent=sent) for v in node]
    return node
