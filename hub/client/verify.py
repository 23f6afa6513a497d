"""Checking a message taken from an inbox, as its recipient would.

Two signatures are checked: the message's, and the hub's receipt, with the hub's published key, whose
`payload_sha256` must be the digest of the very payload received. The message's signature is checked
with the sender's keys from the hub's directory (the key must belong to the claimed sender), except for
the hub's own messages and the answers the hub attests for a participant (an `attestation` member in the
signed payload: a platform's reply by e-mail), which verify with the hub's published keys and only with
them (`hub.core.attestation`, the rule every verifier shares). `VerifiedMessage.provenance` says which it
was, in the words every surface shows: "signed by <sender>", "issued by the hub", or "answered by e-mail
from <address>, attested by the hub".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.core import inputs
from hub.core.attestation import Attestation, attestation_of, provenance, signed_by_hub
from hub.core.global_id import global_id, home_hub_of
from hub.core.jose import JoseError, PublicJwk, parse_jws, sha256_hex, verify_signature


class VerificationError(Exception):
    """An inbox item does not verify."""


@dataclass(frozen=True)
class VerifiedMessage:
    envelope: dict[str, Any]
    receipt: dict[str, Any]
    provenance: str = ""  # "signed by <sender>", "issued by the hub", or what attests it
    attestation: Attestation | None = None  # set on an answer the hub attests


def _key_from_set(jwks: Mapping[str, Any], kid: str) -> PublicJwk:
    for candidate in jwks.get("keys", []):
        if candidate.get("kid") == kid:
            fields = {k: candidate[k] for k in ("kty", "crv", "x", "kid") if k in candidate}
            return PublicJwk.from_dict(fields)
    refused = jwks.get("refused", {})
    if isinstance(refused, Mapping) and kid in refused:
        raise VerificationError(
            f"key '{kid}' is not the sender's own: {refused[kid]}; do not act on this message"
        )
    raise VerificationError(f"no key '{kid}' in the published key set")


def _same_sender(written: object, listed: object) -> bool:
    """The envelope's `from` names the sender the hub lists: the same id, or, for a message a peer hub
    forwarded, its local id on that hub, which the hub lists by global id (docs/federation.md, 2)."""
    if not isinstance(written, str) or not isinstance(listed, str):
        return False
    home = home_hub_of(listed)
    return written == listed or (home is not None and global_id(written, home) == listed)


def verify_inbox_item(
    item: Mapping[str, Any],
    sender_jwks: Mapping[str, Any],
    hub_jwks: Mapping[str, Any],
    recipient: str | None = None,
) -> VerifiedMessage:
    try:
        message = parse_jws(item["message"])
        receipt = parse_jws(item["receipt"])
        verify_signature(receipt, receipt.signatures[0], _key_from_set(hub_jwks, receipt.signatures[0].kid))
        claims = inputs.loads(receipt.payload)
        # Read before its signature is checked only to choose the keys that must have made it; the
        # check below then covers every byte, the attestation included.
        envelope = inputs.loads(message.payload)
        if not isinstance(envelope, dict) or not isinstance(claims, dict):
            raise ValueError("the payload is not a JSON object")
        hub_id = str(claims.get("iss", ""))
        keys = hub_jwks if signed_by_hub(envelope, hub_id) else sender_jwks
        verify_signature(message, message.signatures[0], _key_from_set(keys, message.signatures[0].kid))
    except (JoseError, KeyError, ValueError) as exc:
        raise VerificationError(f"the message does not verify: {exc}") from None
    if claims.get("payload_sha256") != sha256_hex(message.payload):
        raise VerificationError("the hub's receipt names another payload")
    agreeing = (
        _same_sender(envelope.get("from"), item.get("from"))
        and item.get("from") == claims.get("from")
        and claims.get("message_id") == envelope.get("id") == item.get("message_id")
        and claims.get("message_type") == envelope.get("type") == item.get("type")
        and claims.get("case_id") == item.get("case_id")
    )
    if not agreeing:
        raise VerificationError("the message, its receipt and the inbox entry disagree")
    if recipient is not None and recipient not in claims.get("to", ()):
        raise VerificationError("the hub's receipt does not name this recipient")
    return VerifiedMessage(
        envelope=envelope,
        receipt=claims,
        provenance=provenance(envelope, hub_id),
        attestation=attestation_of(envelope),
    )
