"""Sealing in the console: to every recipient before signing, and opened only here, for display.

A sealed value (`common#/$defs/sealed`) is one libsodium sealed box per recipient, each to the X25519 key
that recipient publishes in the hub's directory (`hub.core.sealing`). The plaintext is the UTF-8 JSON of
the value's members. The console seals as the last step before signing and never stores a plaintext;
it opens a sealed value only to show it on a page, with the organisation's own X25519 key (`--enc-key`),
and says plainly when it cannot.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hub.core.jose import JoseError, PrivateEncryptionJwk, PublicJwk, b64url_decode, b64url_encode
from hub.core.sealing import seal, unseal

ALG = "X25519-SEALEDBOX"
PUBLIC_MEMBERS = ("kty", "crv", "x", "kid")


class NoEncryptionKeyError(Exception):
    """A recipient publishes no usable X25519 key, so nothing can be sealed to it."""

    def __init__(self, participant_id: str) -> None:
        super().__init__(
            f"{participant_id} publishes no encryption key in the directory, so sealed details cannot be"
            " sent to it; ask the hub operator to register its X25519 key"
        )
        self.participant_id = participant_id


@dataclass(frozen=True)
class Opened:
    """A sealed value as the page shows it: its members when opened here, else why not."""

    members: dict[str, Any] | None
    reason: str = ""


def encryption_key(participant_id: str, entry: Mapping[str, Any]) -> PublicJwk:
    """The recipient's current X25519 key from its directory entry (the newest active one)."""
    usable = [
        k
        for k in entry.get("jwks", {}).get("keys", [])
        if k.get("crv") == "X25519" and k.get("status", "active") == "active"
    ]
    usable.sort(key=lambda k: str(k.get("not_before", "")))
    for candidate in reversed(usable):
        try:
            return PublicJwk.from_dict(
                {k: candidate[k] for k in ("kty", "crv", "x", "kid") if k in candidate}
            )
        except JoseError:
            continue
    raise NoEncryptionKeyError(participant_id)


def seal_to(plaintext: Mapping[str, Any], recipients: Sequence[tuple[str, PublicJwk]]) -> dict[str, Any]:
    data = json.dumps(plaintext, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return {
        "sealed": [
            {"to": participant, "kid": key.kid, "alg": ALG, "ciphertext": b64url_encode(seal(data, key))}
            for participant, key in recipients
        ]
    }


def is_sealed(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {"sealed"} and isinstance(value["sealed"], list)


def open_value(
    value: Mapping[str, Any], me: str, key: PrivateEncryptionJwk | None, *, sent: bool = False
) -> Opened:
    if sent:
        return Opened(None, "sealed to the recipients: the console keeps no copy it can read")
    copies = [c for c in value.get("sealed", []) if isinstance(c, dict) and c.get("to") == me]
    if not copies:
        return Opened(None, "sealed to the other recipients only")
    if key is None:
        return Opened(None, "sealed: start the console with --enc-key to read it here")
    copy = next((c for c in copies if c.get("kid") == key.kid), None)
    if copy is None:
        return Opened(None, "sealed to another of your keys than the one this console holds")
    try:
        plaintext = json.loads(unseal(b64url_decode(str(copy.get("ciphertext", ""))), key))
    except (JoseError, ValueError):
        return Opened(None, "sealed, but it does not open with your key (altered or not for you)")
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
