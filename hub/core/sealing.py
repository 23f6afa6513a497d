"""Sealing: libsodium sealed boxes to a participant's X25519 key.

Sensitive parts of a referral (victim contact, evidence) travel sealed to the recipient, so the hub stores
and forwards ciphertext it cannot read. A sealed box uses a fresh ephemeral key per message: the sender
needs only the recipient's public key from the directory, and the ciphertext (48 bytes longer than the
plaintext) differs every time, so equal plaintexts cannot be linked.
"""

from __future__ import annotations

import nacl.exceptions
import nacl.public

from hub.core.jose.errors import InvalidJwkError, JoseError
from hub.core.jose.jwk import PrivateEncryptionJwk, PublicJwk


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
