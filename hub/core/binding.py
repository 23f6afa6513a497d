"""Directory bindings: what a participant signs so that no operator can change its entry unseen.

A participant's first signing key is registered by the operator after an out-of-band check of its
fingerprint (`fingerprint`, readable aloud). Every later change to its entry is a **binding**: a compact
JWS (`typ` `hub-directory-binding+jwt`) by one of the participant's current signing keys, naming the
participant (`iss`), the hub (`aud`), the time (`iat`) and one operation:

- `add-key` with the public `jwk` (a new signing key also carries `possession`: the same claims, without
  `possession`, signed by the new key itself, so nobody binds a key they do not hold);
- `revoke-key` with the `kid` and a `reason`;
- `set-delivery` with the `delivery` (endpoint, adapter, adapter configuration) the hub must use;
- `add-destination` with a further `destination` (its `name`, endpoint, adapter, adapter configuration)
  that each message to the participant also goes to, e.g. an HMA bank beside its webhook (issue 19), and
  `remove-destination` with the `name` of one to stop.

The hub keeps each binding beside what it changed and writes it into the audit log, so that clients and
monitors can check, from the log alone, that every key and delivery address is the participant's own
(`hub.core.key_chain`). A lost key is recovered by a `reset`, which is no binding: a new identity that
clients refuse until a person confirms it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.core.jose import (
    JoseError,
    PrivateSigningJwk,
    PublicJwk,
    b64url_decode,
    parse_jws,
    sign_compact,
    verify_signature,
)

BINDING_TYPE = "hub-directory-binding+jwt"
OPERATIONS = ("add-key", "revoke-key", "set-delivery", "add-destination", "remove-destination")
DESTINATION_NAME = re.compile(r"[a-z][a-z0-9_-]{0,40}")  # the store's rule (participant_destinations)
MAX_BINDING_BYTES = 16_384


class BindingError(Exception):
    """A binding the hub or a client refuses, with the reason."""


@dataclass(frozen=True)
class Binding:
    """A parsed binding (signature not yet checked unless it came from `verify_binding`)."""

    text: str
    signer_kid: str
    claims: Mapping[str, Any]

    @property
    def participant_id(self) -> str:
        return str(self.claims["iss"])

    @property
    def operation(self) -> str:
        return str(self.claims["op"])

    @property
    def issued_at(self) -> int:
        return int(self.claims["iat"])

    @property
    def key(self) -> PublicJwk:
        """The key an `add-key` binding adds."""
        return PublicJwk.from_dict(self.claims["jwk"])

    @property
    def delivery(self) -> dict[str, Any]:
        return dict(self.claims["delivery"])

    @property
    def destination(self) -> dict[str, Any]:
        """The further destination an `add-destination` binding adds (`destination_document`'s shape)."""
        return dict(self.claims["destination"])

    @property
    def destination_name(self) -> str:
        """The name of the destination an `add-destination` or `remove-destination` binding names."""
        if self.operation == "add-destination":
            return str(self.claims["destination"]["name"])
        return str(self.claims["name"])


# -- fingerprints -----------------------------------------------------------------------------------------
def fingerprint(key: PublicJwk) -> str:
    """The key's RFC 7638 SHA-256 thumbprint in base32 groups of four, to be read aloud and compared
    (`hub keys fingerprint`): 52 letters and digits 2-7, no look-alike 0/1/8/9."""
    return thumbprint_fingerprint(key.thumbprint())


def thumbprint_fingerprint(thumbprint: str) -> str:
    """The readable fingerprint of an RFC 7638 thumbprint (base64url), as `fingerprint` gives it."""
    digest = b64url_decode(thumbprint, what="thumbprint")
    text = base64.b32encode(digest).decode("ascii").rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def matches_fingerprint(given: str, key: PublicJwk) -> bool:
    """Whether `given` names `key`: the grouped base32 form (spaces, dashes and case ignored) or the
    base64url thumbprint, with or without a `sha256:` prefix."""
    return matches_thumbprint(given, key.thumbprint())


def matches_thumbprint(given: str, thumbprint: str) -> bool:
    """Whether `given` names the key of this RFC 7638 thumbprint, as `matches_fingerprint` reads it."""
    cleaned = given.strip().removeprefix("sha256:").removeprefix("SHA256:")
    if cleaned == thumbprint:
        return True
    compact = "".join(c for c in cleaned if c not in " -\t").upper()
    return compact == thumbprint_fingerprint(thumbprint).replace(" ", "")


# -- signing (the participant's side) ---------------------------------------------------------------------
def _encode(claims: Mapping[str, Any]) -> bytes:
    return json.dumps(claims, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _claims(participant_id: str, hub_id: str, issued_at: int, op: str, **fields: Any) -> dict[str, Any]:
    return {"iss": participant_id, "aud": hub_id, "iat": issued_at, "op": op, **fields}


def sign_binding(signer: PrivateSigningJwk, claims: Mapping[str, Any]) -> str:
    return sign_compact(_encode(claims), signer, {"typ": BINDING_TYPE})


def bind_key(
    signer: PrivateSigningJwk,
    *,
    participant_id: str,
    hub_id: str,
    key: PublicJwk,
    issued_at: int,
    new_signing_key: PrivateSigningJwk | None = None,
) -> str:
    """A binding that adds `key`; a signing key must come with its private half (`new_signing_key`),
    which signs the proof of possession."""
    claims = _claims(participant_id, hub_id, issued_at, "add-key", jwk=key.to_dict())
    if key.use == "sig":
        if new_signing_key is None or new_signing_key.public() != key:
            raise BindingError(
                "a new signing key is bound only with its private key, which proves possession"
            )
        claims["possession"] = sign_binding(new_signing_key, claims)
    return sign_binding(signer, claims)


def bind_revocation(
    signer: PrivateSigningJwk, *, participant_id: str, hub_id: str, kid: str, reason: str, issued_at: int
) -> str:
    return sign_binding(
        signer, _claims(participant_id, hub_id, issued_at, "revoke-key", kid=kid, reason=reason)
    )


def bind_delivery(
    signer: PrivateSigningJwk,
    *,
    participant_id: str,
    hub_id: str,
    delivery: Mapping[str, Any],
    issued_at: int,
) -> str:
    """A binding of the delivery address: `{"endpoint": URL|None, "adapter": NAME, "adapter_config": {}}`."""
    return sign_binding(
        signer, _claims(participant_id, hub_id, issued_at, "set-delivery", delivery=dict(delivery))
    )


def delivery_document(
    endpoint: str | None, adapter: str, adapter_config: Mapping[str, Any]
) -> dict[str, Any]:
    """The delivery address as a binding names it and as the directory compares it (one shape)."""
    return {"endpoint": endpoint, "adapter": adapter, "adapter_config": dict(adapter_config)}


def bind_destination(
    signer: PrivateSigningJwk,
    *,
    participant_id: str,
    hub_id: str,
    destination: Mapping[str, Any],
    issued_at: int,
) -> str:
    """A binding of a further destination (`destination_document`)."""
    return sign_binding(
        signer,
        _claims(participant_id, hub_id, issued_at, "add-destination", destination=dict(destination)),
    )


def bind_destination_removal(
    signer: PrivateSigningJwk, *, participant_id: str, hub_id: str, name: str, issued_at: int
) -> str:
    return sign_binding(signer, _claims(participant_id, hub_id, issued_at, "remove-destination", name=name))


def destination_document(
    name: str, endpoint: str | None, adapter: str, adapter_config: Mapping[str, Any]
) -> dict[str, Any]:
    """A further destination as a binding names it and as the directory lists it (one shape)."""
    return {"name": name, **delivery_document(endpoint, adapter, adapter_config)}


# -- reading and verifying (the hub's and every client's side) --------------------------------------------
def read_binding(text: str) -> Binding:
    """Parse a binding and check its shape, not its signature (`verify_binding` does both)."""
    if not isinstance(text, str) or len(text) > MAX_BINDING_BYTES:
        raise BindingError(f"a binding is a compact JWS of at most {MAX_BINDING_BYTES} bytes")
    try:
        jws = parse_jws(text)
        if jws.serialization != "compact" or len(jws.signatures) != 1:
            raise BindingError("a binding is a compact JWS with one signature")
        signature = jws.signatures[0]
        kid = signature.kid
        claims = json.loads(jws.payload)
    except (JoseError, ValueError) as exc:
        raise BindingError(f"not a binding: {exc}") from None
    if signature.protected.get("typ") != BINDING_TYPE:
        raise BindingError(f"a binding's protected header has typ {BINDING_TYPE!r}")
    if not isinstance(claims, dict):
        raise BindingError("a binding's payload is a JSON object")
    for name, kind in (("iss", str), ("aud", str), ("iat", int), ("op", str)):
        if not isinstance(claims.get(name), kind) or isinstance(claims.get(name), bool):
            raise BindingError(f"a binding names '{name}' ({kind.__name__})")
    op = claims["op"]
    if op not in OPERATIONS:
        raise BindingError(f"unknown binding operation {op[:40]!r}; expected one of {', '.join(OPERATIONS)}")
    _check_operation(op, claims)
    return Binding(text=text, signer_kid=kid, claims=claims)


def _check_operation(op: str, claims: Mapping[str, Any]) -> None:
    if op == "add-key":
        try:
            PublicJwk.from_dict(claims.get("jwk"))
        except JoseError as exc:
            raise BindingError(f"the bound key is not a public JWK: {exc}") from None
    elif op == "revoke-key":
        if not isinstance(claims.get("kid"), str) or not isinstance(claims.get("reason"), str):
            raise BindingError("a revoke-key binding names the 'kid' and a 'reason'")
    elif op == "add-destination":
        destination = claims.get("destination")
        if not isinstance(destination, dict) or set(destination) != {
            "name",
            "endpoint",
            "adapter",
            "adapter_config",
        }:
            raise BindingError(
                "an add-destination binding names 'destination': name, endpoint, adapter, adapter_config"
            )
        _check_name(destination["name"])
    elif op == "remove-destination":
        _check_name(claims.get("name"))
    else:
        delivery = claims.get("delivery")
        if not isinstance(delivery, dict) or set(delivery) != {"endpoint", "adapter", "adapter_config"}:
            raise BindingError("a set-delivery binding names 'delivery': endpoint, adapter, adapter_config")


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not DESTINATION_NAME.fullmatch(name):
        raise BindingError("a destination's name is 1 to 41 of a-z, 0-9, '_' and '-', starting with a letter")


def verify_binding(text: str, signer: PublicJwk, *, participant_id: str, hub_id: str) -> Binding:
    """The binding, if `signer` signed it for `participant_id` at this hub (and, for a new signing key,
    the key itself signed the same claims). Raises `BindingError` with the reason."""
    binding = read_binding(text)
    if binding.signer_kid != signer.kid:
        raise BindingError(f"the binding is signed by key {binding.signer_kid!r}, not {signer.kid!r}")
    if signer.use != "sig":
        raise BindingError("a binding is signed with a signing (Ed25519) key")
    jws = parse_jws(text)
    try:
        verify_signature(jws, jws.signatures[0], signer)
    except JoseError:
        raise BindingError(f"the binding's signature does not verify with key {signer.kid!r}") from None
    if binding.participant_id != participant_id:
        raise BindingError(
            f"the binding is for participant {binding.participant_id!r}, not {participant_id!r}"
        )
    if binding.claims["aud"] != hub_id:
        raise BindingError(f"the binding is for hub {str(binding.claims['aud'])[:60]!r}, not {hub_id!r}")
    if binding.operation == "add-key" and binding.key.use == "sig":
        _check_possession(binding)
    return binding


def _check_possession(binding: Binding) -> None:
    proof = binding.claims.get("possession")
    if not isinstance(proof, str):
        raise BindingError("a new signing key is bound with 'possession': the claims signed by the new key")
    key = binding.key
    try:
        jws = parse_jws(proof)
        if jws.serialization != "compact" or jws.signatures[0].kid != key.kid:
            raise BindingError("the proof of possession is not signed by the new key")
        verify_signature(jws, jws.signatures[0], key)
        signed = json.loads(jws.payload)
    except (JoseError, ValueError):
        raise BindingError("the proof of possession does not verify with the new key") from None
    if signed != {k: v for k, v in binding.claims.items() if k != "possession"}:
        raise BindingError("the proof of possession signs other claims than the binding")
