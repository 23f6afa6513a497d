"""Sealing on the participant's side: to every recipient before signing, and opening what was sealed to us.

A sealed value (`common#/$defs/sealed`) is one libsodium sealed box per recipient, each to the X25519 key
that recipient publishes in the hub's directory as its current one (`hub.core.sealing.current_kid`); the
hub refuses a message sealed to any other key. The plaintext is the UTF-8 JSON of the value.

In a hand-written envelope (`hub send FILE`) a value to be sealed is written in clear and marked, as
`{"seal": {...plaintext...}}`, at a place where the template takes a sealed value. `seal_envelope` checks
the marks against the template the hub publishes, finds the recipients (named, or by the routing selector
applied to the directory), fetches each one's current key and replaces every mark with the sealed value.
A sealed field written in clear without the mark is refused before anything leaves the machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hub.core import inputs
from hub.core.jose import JoseError, PrivateEncryptionJwk, PublicJwk, b64url_decode, b64url_encode
from hub.core.refusal import Refusal
from hub.core.routing import RouteCandidate, resolve_route
from hub.core.sealing import (
    ALG,
    EncryptionKey,
    current_kid,
    is_sealed,
    seal,
    sealed_pointers,
    sealed_values,
    unseal,
)

MARK = "seal"
__all__ = ["ALG", "MARK", "is_sealed"]


class Directory(Protocol):
    """What sealing reads from the hub: the sender's id, the template, and the recipients' directory
    entries (their keys already checked against their bindings). `hub.client.http.HubClient` is one."""

    participant_id: str

    async def schema(self, message_type: str, version: str) -> dict[str, Any] | None: ...

    async def participant(self, participant_id: str) -> dict[str, Any]: ...

    async def participants(self) -> list[dict[str, Any]]: ...


class SealingError(Exception):
    """An envelope cannot be sealed as written: the one-line reason names the field."""


class NoEncryptionKeyError(SealingError):
    """A recipient publishes no usable X25519 key, so nothing can be sealed to it."""

    def __init__(self, participant_id: str) -> None:
        super().__init__(
            f"{participant_id} publishes no encryption key in the directory, so sealed details cannot be"
            " sent to it; ask the hub operator to register its X25519 key"
        )
        self.participant_id = participant_id


class UnboundKeyError(SealingError):
    """The directory lists an encryption key its participant did not bind: sealing to it might hand the
    victim's details to whoever added it, so nothing is sealed."""

    def __init__(self, participant_id: str, kid: str, reason: str) -> None:
        super().__init__(
            f"{participant_id} lists encryption key '{kid}' that {participant_id} did not bind ({reason}): "
            "it may have been added by someone else; nothing is sealed to it: ask "
            f"{participant_id} and the hub's operator"
        )
        self.participant_id = participant_id
        self.kid = kid


class CannotOpen(Exception):
    """A sealed value this key cannot open; `reason` is one of `REASONS`."""

    def __init__(self, reason: str) -> None:
        super().__init__(REASONS[reason])
        self.reason = reason


REASONS = {
    "not-for-you": "sealed to the other recipients only",
    "other-key": "sealed to another of your keys than the one given",
    "does-not-open": "sealed, but it does not open with your key (altered or not for you)",
    # written by the sender, unseen by the hub: read as strictly as the hub reads a payload
    "not-strict-json": "sealed, and it opens, but what it holds is not JSON the hub's rules accept",
}


# -- keys -------------------------------------------------------------------------------------------------
def encryption_key(participant_id: str, entry: Mapping[str, Any]) -> PublicJwk:
    """The recipient's current X25519 key from its directory entry (`GET /v1/participants/{id}`)."""
    jwks = entry.get("jwks", {})
    unbound = jwks.get("refused_encryption_keys", [])
    if unbound:
        raise UnboundKeyError(
            participant_id, str(unbound[0]), str(jwks.get("refused", {}).get(unbound[0], ""))
        )
    usable: dict[str, PublicJwk] = {}
    facts = []
    for candidate in entry.get("jwks", {}).get("keys", []):
        if candidate.get("crv") != "X25519":
            continue
        try:
            key = PublicJwk.from_dict({k: candidate[k] for k in ("kty", "crv", "x", "kid") if k in candidate})
            since = datetime.fromisoformat(str(candidate.get("not_before", "1970-01-01T00:00:00Z")))
        except (JoseError, KeyError, ValueError):
            continue
        usable[key.kid] = key
        facts.append(EncryptionKey(key.kid, since, candidate.get("status", "active") == "active"))
    kid = current_kid(facts)
    if kid is None:
        raise NoEncryptionKeyError(participant_id)
    return usable[kid]


# -- sealing ----------------------------------------------------------------------------------------------
def seal_to(plaintext: object, recipients: Sequence[tuple[str, PublicJwk]]) -> dict[str, Any]:
    data = json.dumps(plaintext, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return {
        "sealed": [
            {"to": participant, "kid": key.kid, "alg": ALG, "ciphertext": b64url_encode(seal(data, key))}
            for participant, key in recipients
        ]
    }


def is_marked(value: object) -> bool:
    return isinstance(value, Mapping) and set(value) == {MARK}


def marked_values(node: object, pointer: str = "") -> Iterator[tuple[str, Any]]:
    """(JSON pointer, plaintext) of every value marked to be sealed."""
    if is_marked(node):
        yield pointer, node[MARK]  # type: ignore[index]
    elif isinstance(node, Mapping):
        for name, inner in node.items():
            yield from marked_values(inner, f"{pointer}/{_escape(str(name))}")
    elif isinstance(node, list):
        for index, inner in enumerate(node):
            yield from marked_values(inner, f"{pointer}/{index}")


def check_marks(envelope: Mapping[str, Any], template: Mapping[str, Any]) -> None:
    """Every mark where the template takes a sealed value, and no such value left in clear unmarked."""
    where = sealed_pointers(template)
    name = f"{envelope.get('type')} {envelope.get('version')}"
    for pointer, _ in marked_values(envelope):
        if not any(_matches(pattern, pointer) for pattern in where):
            raise SealingError(f'{pointer} is marked "seal", but {name} takes no sealed value there')
    for pattern in where:
        for pointer, value in _values_at(envelope, pattern.split("/")[1:], ""):
            if not is_marked(value) and not is_sealed(value):
                raise SealingError(
                    f"{pointer} is sealed to the recipients: write its plaintext as "
                    f'{{"{MARK}": {{...}}}} to have it sealed before it leaves this machine'
                )


def seal_marked(node: Any, recipients: Sequence[tuple[str, PublicJwk]]) -> Any:
    """A copy of `node` with every marked value sealed to each of `recipients`."""
    if is_marked(node):
        return seal_to(node[MARK], recipients)
    if isinstance(node, Mapping):
        return {key: seal_marked(value, recipients) for key, value in node.items()}
    if isinstance(node, list):
        return [seal_marked(value, recipients) for value in node]
    return node


async def seal_envelope(client: Directory, envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope with its marked values sealed to each recipient's current key, checked against the
    template the hub publishes. Raises `SealingError` (nothing is sent)."""
    template = await client.schema(str(envelope.get("type")), str(envelope.get("version")))
    if template is not None:
        check_marks(envelope, template)
    if next(marked_values(envelope), None) is None:
        return dict(envelope)
    recipients = await _recipients(client, envelope)
    keys = []
    for recipient in recipients:
        keys.append((recipient, encryption_key(recipient, await client.participant(recipient))))
    return dict(seal_marked(envelope, keys))


async def _recipients(client: Directory, envelope: Mapping[str, Any]) -> tuple[str, ...]:
    """Those named in `to`, or those the routing selector finds in the directory (the hub's own rule)."""
    to, route, body = envelope.get("to"), envelope.get("route"), envelope.get("body")
    if isinstance(to, list) and to:
        return tuple(str(r) for r in to)
    if not isinstance(route, Mapping) or not isinstance(body, Mapping):
        raise SealingError("the envelope names no recipients (`to` or `route`) to seal to")
    candidates = [
        RouteCandidate(str(p["id"]), str(p["kind"]), str(p["country"]), tuple(p.get("domains", ())))
        for p in await client.participants()
    ]
    try:
        return resolve_route(route, body, candidates, client.participant_id)
    except Refusal as refusal:
        raise SealingError(f"cannot find the recipients to seal to: {refusal.detail}") from None


# -- opening ----------------------------------------------------------------------------------------------
def open_copy(value: Mapping[str, Any], me: str | None, key: PrivateEncryptionJwk) -> Any:
    """The plaintext of the copy of `value` sealed to `me` (None: to whoever holds `key`) with `key`;
    raises `CannotOpen`."""
    copies = [
        c for c in value.get("sealed", []) if isinstance(c, Mapping) and (me is None or c.get("to") == me)
    ]
    if not copies:
        raise CannotOpen("not-for-you")
    copy = next((c for c in copies if c.get("kid") == key.kid), None)
    if copy is None:
        raise CannotOpen("other-key" if me is not None else "not-for-you")
    try:
        opened = unseal(b64url_decode(str(copy.get("ciphertext", ""))), key)
    except (JoseError, ValueError):
        raise CannotOpen("does-not-open") from None
    try:
        return inputs.loads(opened, what="the sealed value")
    except inputs.JsonFault:
        raise CannotOpen("not-strict-json") from None


@dataclass(frozen=True)
class OpenedValues:
    """What a key opened in a message body, by JSON pointer, and why the rest stayed closed."""

    opened: dict[str, Any]
    not_opened: dict[str, str]


def open_sealed(
    node: object, me: str | None, key: PrivateEncryptionJwk, pointer: str = "/body"
) -> OpenedValues:
    opened: dict[str, Any] = {}
    closed: dict[str, str] = {}
    for at, value in sealed_values(node, pointer):
        try:
            opened[at] = open_copy(value, me, key)
        except CannotOpen as exc:
            closed[at] = str(exc)
    return OpenedValues(opened, closed)


# -- pointers ---------------------------------------------------------------------------------------------
def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _matches(pattern: str, pointer: str) -> bool:
    want, have = pattern.split("/"), pointer.split("/")
    return len(want) == len(have) and all(w in ("*", h) for w, h in zip(want, have, strict=True))


def _values_at(node: object, segments: Sequence[str], pointer: str) -> Iterator[tuple[str, Any]]:
    if not segments:
        yield pointer, node
        return
    head, rest = segments[0], segments[1:]
    if head == "*" and isinstance(node, list):
        for index, inner in enumerate(node):
            yield from _values_at(inner, rest, f"{pointer}/{index}")
    elif isinstance(node, Mapping):
        name = head.replace("~1", "/").replace("~0", "~")
        if name in node:
            yield from _values_at(node[name], rest, f"{pointer}/{head}")
