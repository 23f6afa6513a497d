"""The hub's signed receipt: proof that the hub accepted a message, and when.

A compact JWS (EdDSA, the hub's key) over a small JSON object that names the message by id and by the
SHA-256 of its exact payload bytes, so anyone holding the signed message and the hub's public key can
check that this receipt is for that message. It carries no message content.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from hub.core import inputs
from hub.core.clock import rfc3339
from hub.core.jose import (
    BadSignatureError,
    JoseError,
    MalformedJwsError,
    PrivateSigningJwk,
    PublicJwk,
    b64url_decode,
    parse_jws,
    sign_compact,
    verify_signature,
)

RECEIPT_TYPE = "hub-receipt+jwt"


def sign_receipt(
    key: PrivateSigningJwk,
    *,
    hub_id: str,
    message_id: UUID,
    message_type: str,
    sender: str,
    recipients: Sequence[str],
    case_id: UUID,
    payload_sha256: str,
    accepted_at: datetime,
) -> str:
    claims = {
        "iss": hub_id,
        "message_id": str(message_id),
        "message_type": message_type,
        "from": sender,
        "to": list(recipients),
        "case_id": str(case_id),
        "payload_sha256": payload_sha256,
        "accepted_at": rfc3339(accepted_at),
    }
    payload = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
    return sign_compact(payload, key, {"typ": RECEIPT_TYPE})


def receipt_claims(receipt: str) -> dict[str, Any]:
    """The claims of a receipt the hub itself issued (no verification: it comes from our store, or was
    just signed). A receipt is a compact JWS (`sign_receipt`): only its payload segment is decoded, not
    its header, which nothing here reads. ValueError (or MalformedJwsError) if it is not one."""
    parts = receipt.split(".") if isinstance(receipt, str) else ()
    if len(parts) != 3:
        raise MalformedJwsError("a receipt is a compact JWS of three segments")
    claims = json.loads(b64url_decode(parts[1], what="the receipt's payload"))
    if not isinstance(claims, dict):
        raise ValueError("a receipt's claims are a JSON object")
    return claims


@dataclass(frozen=True)
class ReceiptClaims:
    """What a receipt names: the message (id, type, payload digest), its case, and when it was accepted."""

    message_id: str
    message_type: str
    case_id: str
    payload_sha256: str
    accepted_at: str


def read_receipt(receipt: str) -> ReceiptClaims:
    """The claims of a receipt the hub issued (not verified); ValueError if it is not one."""
    try:
        claims = receipt_claims(receipt)
        return ReceiptClaims(
            message_id=str(claims["message_id"]),
            message_type=str(claims["message_type"]),
            case_id=str(claims["case_id"]),
            payload_sha256=str(claims["payload_sha256"]),
            accepted_at=str(claims["accepted_at"]),
        )
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise ValueError("not a receipt of this hub") from exc


class ReceiptError(ValueError):
    """Another hub's receipt does not prove what it must (docs/federation.md, section 4)."""


def verify_receipt(
    receipt: str,
    *,
    issuer: str,
    keys: Sequence[PublicJwk],
    message_id: UUID,
    payload_sha256: str,
) -> dict[str, Any]:
    """The claims of a receipt another hub issued, once it is proven: a compact JWS of `typ`
    hub-receipt+jwt signed by one of `keys` (that hub's keys in this hub's directory), `iss` that hub,
    and naming this message by id and payload digest. ReceiptError says what fails."""
    try:
        jws = parse_jws(receipt)
        kid = jws.signatures[0].kid
    except JoseError as exc:
        raise ReceiptError(f"not a receipt (a compact JWS): {exc}") from None
    if len(jws.signatures) != 1 or jws.signatures[0].protected.get("typ") != RECEIPT_TYPE:
        raise ReceiptError(f"not a receipt: one signature of typ {RECEIPT_TYPE} is needed")
    key = next((k for k in keys if k.kid == kid), None)
    if key is None:
        raise ReceiptError(f"the receipt is not signed by a key of '{issuer}'")
    try:
        verify_signature(jws, jws.signatures[0], key)
        claims = inputs.loads(jws.payload, what="the receipt")
    except BadSignatureError:
        raise ReceiptError(f"the receipt's signature does not verify with the key of '{issuer}'") from None
    except inputs.JsonFault as fault:
        raise ReceiptError(f"the receipt's claims are not JSON: {fault}") from None
    if not isinstance(claims, dict) or claims.get("iss") != issuer:
        raise ReceiptError(f"the receipt is not issued by '{issuer}'")
    if claims.get("message_id") != str(message_id) or claims.get("payload_sha256") != payload_sha256:
        raise ReceiptError("the receipt names another message (its id or payload digest differ)")
    return claims
