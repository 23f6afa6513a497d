"""Encryption at rest for what the hub must keep readable for a while, and crypto-shredding.

Each case has its own random 256-bit data key. The exact signed messages of the case (which carry the
URLs of reported content and the sender's words) are stored encrypted with it (XSalsa20-Poly1305,
libsodium secretbox). The case key itself is stored wrapped by the hub's storage key, which lives
outside the database (a file, like the signing key). Destroying a case key at purge makes every copy of
that case's messages unreadable, backups included: crypto-shredding.
"""

from __future__ import annotations

import nacl.exceptions
import nacl.secret
import nacl.utils

KEY_BYTES = nacl.secret.SecretBox.KEY_SIZE


class VaultError(Exception):
    """A ciphertext does not open with the key given (wrong key, or altered data)."""


def new_key() -> bytes:
    return bytes(nacl.utils.random(KEY_BYTES))


def seal_with(key: bytes, plaintext: bytes) -> bytes:
    return bytes(nacl.secret.SecretBox(key).encrypt(plaintext))


def open_with(key: bytes, ciphertext: bytes) -> bytes:
    try:
        return bytes(nacl.secret.SecretBox(key).decrypt(ciphertext))
    except nacl.exceptions.CryptoError:
        raise VaultError("the data does not open with this key") from None


def wrap(storage_key: bytes, case_key: bytes) -> bytes:
    return seal_with(storage_key, case_key)


def unwrap(storage_key: bytes, wrapped: bytes) -> bytes:
    return open_with(storage_key, wrapped)
