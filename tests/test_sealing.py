"""Sealed boxes to a participant's X25519 key."""

from __future__ import annotations

import pytest

from hub.core.jose import InvalidJwkError, JoseError, PrivateEncryptionJwk, PrivateSigningJwk, PublicJwk
from hub.core.sealing import UnsealError, seal, unseal

SECRET = b'{"victim_contact":"+31 6 1234 5678","evidence_sha256":"00ff"}'


def test_round_trip() -> None:
    key = PrivateEncryptionJwk.generate("platform-enc-1")
    assert unseal(seal(SECRET, key.public()), key) == SECRET


def test_empty_plaintext_round_trips() -> None:
    key = PrivateEncryptionJwk.generate()
    assert unseal(seal(b"", key.public()), key) == b""


def test_ciphertext_differs_each_time_and_hides_the_plaintext() -> None:
    recipient = PrivateEncryptionJwk.generate().public()
    first, second = seal(SECRET, recipient), seal(SECRET, recipient)
    assert first != second
    assert len(first) == len(SECRET) + 48
    assert SECRET not in first


def test_wrong_key_fails_without_revealing_it() -> None:
    intended, other = PrivateEncryptionJwk.generate("intended"), PrivateEncryptionJwk.generate("other")
    sealed = seal(SECRET, intended.public())
    with pytest.raises(UnsealError, match="'other'") as caught:
        unseal(sealed, other)
    assert isinstance(caught.value, JoseError)
    assert other.d.hex() not in str(caught.value)


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_altered_ciphertext_fails(damage: str) -> None:
    key = PrivateEncryptionJwk.generate()
    sealed = bytearray(seal(SECRET, key.public()))
    if damage == "flip":
        sealed[-1] ^= 0x01
    elif damage == "truncate":
        del sealed[-1]
    else:
        sealed.clear()
    with pytest.raises(UnsealError):
        unseal(bytes(sealed), key)


def test_sealing_to_a_signing_key_is_refused() -> None:
    with pytest.raises(InvalidJwkError, match="X25519"):
        seal(SECRET, PrivateSigningJwk.generate("sig").public())


def test_sealing_to_a_low_order_key_is_refused() -> None:
    with pytest.raises(InvalidJwkError, match="not a usable X25519"):
        seal(SECRET, PublicJwk(kid="zero", crv="X25519", x=bytes(32)))
