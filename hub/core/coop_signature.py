"""ROOST Coop's request signatures: how the hub checks that a callback came from a platform's Coop (pure).

Coop signs every request it sends to an action's callback URL (roostorg/coop,
`server/services/networkingService/index.ts`, `signWith` from `server/rule_engine/ActionPublisher.ts`;
the key pair of `server/services/signingKeyPairService/signingKeyPairService.ts`): an RSASSA-PKCS1-v1_5
SHA-256 signature over the raw request body, base64 (standard alphabet, padded) in the `coop-signature`
header (HTTP header names are case-insensitive: Coop's docs write `Coop-Signature`). The organisation's
public key is shown in Coop under Settings, API Keys, "Webhook Signature Verification Key", as a PEM
`PUBLIC KEY` (SPKI) block (`docs/development/api-auth.md`). The platform registers it in its `coop` adapter
configuration (`signature_key`); the hub verifies with it and nothing else.

`docs/api/partial-items.md` shows a `t=...,v1=...` value instead: the code does not produce one, and this
module refuses it as not base64.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

MIN_KEY_BITS = 2048  # what Coop generates (`modulusLength: 2048`); anything weaker is refused
MAX_HEADER_CHARS = 2048  # a 8192-bit signature is 1,366 base64 characters


class CoopKeyError(ValueError):
    """The registered key is no RSA public key in PEM form of at least 2048 bits."""


def load_coop_key(pem: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError, TypeError):
        raise CoopKeyError("signature_key must be Coop's PEM public key (BEGIN PUBLIC KEY)") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise CoopKeyError("signature_key must be an RSA public key: Coop signs with RSASSA-PKCS1-v1_5")
    if key.key_size < MIN_KEY_BITS:
        raise CoopKeyError(f"signature_key must have at least {MIN_KEY_BITS} bits")
    return key


def signature_verifies(key: rsa.RSAPublicKey, body: bytes, header: str | None) -> bool:
    """Whether `header` (the `coop-signature` value) is Coop's signature of exactly `body`."""
    if not header or len(header) > MAX_HEADER_CHARS:
        return False
    try:
        signature = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
