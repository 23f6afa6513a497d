"""Sealing: libsodium sealed boxes to a participant's X25519 key.

Sensitive parts of a referral (victim contact, evidence) travel sealed to the recipient, so the hub stores
and forwards ciphertext it cannot read. A sealed box uses a fresh ephemeral key per message: the sender
needs only the recipient's public key from the directory, and the ciphertext (48 bytes longer than the
plaintext) differs every time, so equal plaintexts cannot be linked.

The rule of which key a sealed value must name lives here too (`check_sealed_to`): every copy goes to a
recipient of the message, one per recipient, to that recipient's current X25519 key (`current_kid`). The
hub cannot open what it forwards, but it can see the key ids, and it refuses what its recipients could not
open. Where a template takes sealed values is read from its schema (`sealed_pointers`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nacl.exceptions
import nacl.public

from hub.core.jose.errors import InvalidJwkError, JoseError
from hub.core.jose.jwk import PrivateEncryptionJwk, PublicJwk
from hub.core.refusal import Refusal


class UnsealError(JoseError):
    """Sealed data could not be opened: the wrong key, or the ciphertext was altered or truncated."""


def seal(plaintext: bytes, recipient: PublicJwk) -> bytes:
    """Encrypt ``plaintext`` so that only the holder of ``recipient``'s private X25519 key can read it."""
    if recipient.crv != "X25519":
        raise InvalidJwkError(f"only an X25519 key can receive sealed data; {recipient.kid[:40]!r} is not")
    box = nacl.public.SealedBox(nacl.public.PublicKey(recipient.x))
    try:
        return bytes(box.encrypt(plaintext))
    except nacl.exceptions.CryptoError:
        # libsodium refuses low-order public keys, which would make the shared secret predictable.
        raise InvalidJwkError(f"key {recipient.kid[:40]!r} is not a usable X25519 public key") from None


def unseal(ciphertext: bytes, key: PrivateEncryptionJwk) -> bytes:
    """Open a sealed box with ``key``; raise ``UnsealError`` if it was not sealed to it or was altered."""
    box = nacl.public.SealedBox(nacl.public.PrivateKey(key.d))
    try:
        return bytes(box.decrypt(ciphertext))
    except nacl.exceptions.CryptoError:
        raise UnsealError(f"the sealed data cannot be opened with key {key.kid[:40]!r}") from None


# -- sealed values in a message ------------------------------------------------------------------------
# A sealed value (`common#/$defs/sealed`) is `{"sealed": [copy, ...]}`, one copy per recipient:
# `{"to": participant, "kid": its X25519 key, "alg": ALG, "ciphertext": base64url}`.
ALG = "X25519-SEALEDBOX"
SEALED_REF = "urn:referral-hub:schema:common:1.0#/$defs/sealed"


@dataclass(frozen=True)
class EncryptionKey:
    """One X25519 key of a participant as the directory holds it, and whether it is usable now."""

    kid: str
    not_before: datetime
    usable: bool


def current_kid(keys: Iterable[EncryptionKey]) -> str | None:
    """A participant's current encryption key: the usable one that became valid last (ties: by kid).
    Senders seal to it, and the hub refuses a message sealed to any other."""
    usable = [k for k in keys if k.usable]
    return max(usable, key=lambda k: (k.not_before, k.kid)).kid if usable else None


def is_sealed(value: object) -> bool:
    if type(value) is dict:  # what JSON gives: no ABC check, no set built
        return len(value) == 1 and "sealed" in value and isinstance(value["sealed"], list)
    return isinstance(value, Mapping) and set(value) == {"sealed"} and isinstance(value["sealed"], list)


def sealed_values(node: object, pointer: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(JSON pointer, value) for every sealed value in `node`, however deep, in document order.

    One walk of the tree on the referral's hot path: the names on the way down are kept in a list and
    a pointer is made only for a sealed value found, not for every member passed."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    _find_sealed(node, pointer, [], found)
    return iter(found)


_SCALARS = (str, int, float, bool, type(None))


def _find_sealed(
    node: object, pointer: str, path: list[str], found: list[tuple[str, Mapping[str, Any]]]
) -> None:
    if is_sealed(node):
        found.append((pointer + "".join(f"/{_escape(part)}" for part in path), node))  # type: ignore[arg-type]
    elif type(node) is dict or isinstance(node, Mapping):
        for name, inner in node.items():
            if type(inner) not in _SCALARS:
                path.append(str(name))
                _find_sealed(inner, pointer, path, found)
                path.pop()
    elif type(node) is list or isinstance(node, list):
        for index, inner in enumerate(node):
            if type(inner) not in _SCALARS:
                path.append(str(index))
                _find_sealed(inner, pointer, path, found)
                path.pop()


def check_sealed_to(body: Mapping[str, Any], current: Mapping[str, str | None]) -> None:
    """Refuse a message whose sealed values are not each sealed exactly once to every recipient's
    current encryption key (`current`: recipient -> its current kid, None if it has none), and to no one
    else: a copy to another key is one its recipient can never open, and the hub cannot tell."""
    check_sealed_copies(sealed_values(body, "/body"), current)


def check_sealed_copies(
    found: Iterable[tuple[str, Mapping[str, Any]]], current: Mapping[str, str | None]
) -> None:
    """`check_sealed_to` over the sealed values already found in the body (`sealed_values(body,
    "/body")`), so that a caller which first asks whether there are any walks the body once."""
    for pointer, value in found:
        seen: set[str] = set()
        for copy in value["sealed"]:
            to, kid = str(copy.get("to", "")), str(copy.get("kid", ""))
            if to not in current:
                raise Refusal(
                    "sealed-key-mismatch",
                    f"{pointer} has a copy sealed to '{to[:64]}', who is not a recipient of this message",
                    pointer=pointer,
                    recipient=to[:64],
                )
            if to in seen:
                raise Refusal(
                    "sealed-key-mismatch",
                    f"{pointer} has two copies sealed to '{to}': seal one, to its current key",
                    pointer=pointer,
                    recipient=to,
                )
            seen.add(to)
            expected = current[to]
            if expected is None:
                raise _without_key(to, pointer)
            if kid != expected:
                raise Refusal(
                    "sealed-key-mismatch",
                    f"{pointer} is sealed to key '{kid[:80]}' of '{to}', which is not its current "
                    f"encryption key '{expected}': seal it again with the key the directory publishes now",
                    pointer=pointer,
                    recipient=to,
                    sealed_kid=kid[:200],
                    current_kid=expected,
                )
        for recipient, expected in current.items():
            if recipient in seen:
                continue
            if expected is None:
                raise _without_key(recipient, pointer)
            raise Refusal(
                "sealed-key-mismatch",
                f"{pointer} has no copy sealed to '{recipient}': seal it to its key '{expected}'",
                pointer=pointer,
                recipient=recipient,
                current_kid=expected,
            )


def _without_key(recipient: str, pointer: str) -> Refusal:
    return Refusal(
        "recipient-without-encryption-key",
        f"'{recipient}' publishes no usable encryption key, so {pointer} cannot be sealed to it; "
        "its operator must register its X25519 key (hub participants add-key) before it can receive this",
        pointer=pointer,
        recipient=recipient,
    )


def sealed_pointers(schema: Mapping[str, Any]) -> list[str]:
    """Where a template takes sealed values: JSON pointers, `*` for any item of an array. Read from the
    template's own schema (its `allOf` parts, properties, items and references within the document); a
    value is sealed where the schema refers to `common#/$defs/sealed`."""
    found: list[str] = []
    _walk(schema, schema, "", found, 0)
    return found


def _walk(
    node: Mapping[str, Any], root: Mapping[str, Any], pointer: str, found: list[str], depth: int
) -> None:
    if node.get("$ref") == SEALED_REF:
        if pointer not in found:
            found.append(pointer)
        return
    if depth > 32:  # a recursive schema: sealed values are not that deep
        return
    for inner, at in _children(node, root, pointer):
        _walk(inner, root, at, found, depth + 1)


def _children(
    node: Mapping[str, Any], root: Mapping[str, Any], pointer: str
) -> Iterator[tuple[Mapping[str, Any], str]]:
    """The subschemas of `node` with the instance pointer each applies at."""
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            name = part.replace("~1", "/").replace("~0", "~")
            target = target.get(name) if isinstance(target, Mapping) else None
        if isinstance(target, Mapping):
            yield target, pointer
    for part in node.get("allOf", []):
        if isinstance(part, Mapping):
            yield part, pointer
    for name, inner in (node.get("properties") or {}).items():
        if isinstance(inner, Mapping):
            yield inner, f"{pointer}/{_escape(str(name))}"
    items = node.get("items")
    if isinstance(items, Mapping):
        yield items, f"{pointer}/*"


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")
