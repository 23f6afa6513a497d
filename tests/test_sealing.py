"""Sealed boxes to a participant's X25519 key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.core.jose import InvalidJwkError, JoseError, PrivateEncryptionJwk, PrivateSigningJwk, PublicJwk
from hub.core.refusal import Refusal
from hub.core.sealing import (
    EncryptionKey,
    UnsealError,
    check_sealed_to,
    current_kid,
    seal,
    sealed_values,
    unseal,
)

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


# -- which keys a message's sealed values must name (issue 16, finding 5) -------------------------------
def _copy(to: str, kid: str) -> dict[str, str]:
    return {"to": to, "kid": kid, "alg": "X25519-SEALEDBOX", "ciphertext": "A" * 64}


CURRENT = {"ie-platform": "ie-enc-2", "fr-platform": "fr-enc-1"}


@pytest.mark.parametrize(
    ("copies", "code", "fragment"),
    [
        (
            [_copy("ie-platform", "ie-enc-1"), _copy("fr-platform", "fr-enc-1")],
            "sealed-key-mismatch",
            "ie-enc-2",
        ),
        ([_copy("ie-platform", "ie-enc-2")], "sealed-key-mismatch", "no copy sealed to 'fr-platform'"),
        (
            [
                _copy("ie-platform-example", "x"),
                _copy("ie-platform", "ie-enc-2"),
                _copy("fr-platform", "fr-enc-1"),
            ],
            "sealed-key-mismatch",
            "not a recipient",
        ),
        (
            [
                _copy("ie-platform", "ie-enc-2"),
                _copy("ie-platform", "ie-enc-2"),
                _copy("fr-platform", "fr-enc-1"),
            ],
            "sealed-key-mismatch",
            "two copies",
        ),
    ],
)
def test_sealed_values_must_name_each_recipient_s_current_key(
    copies: list[dict[str, str]], code: str, fragment: str
) -> None:
    body = {"notes": "clear", "authorisation": {"signature": {"sealed": copies}}}
    with pytest.raises(Refusal) as refused:
        check_sealed_to(body, CURRENT)
    assert refused.value.code == code
    assert fragment in refused.value.detail
    assert refused.value.extra["pointer"] == "/body/authorisation/signature"


def test_a_message_sealed_to_every_current_key_passes_and_one_without_a_key_does_not() -> None:
    good = {"contact": {"sealed": [_copy("ie-platform", "ie-enc-2"), _copy("fr-platform", "fr-enc-1")]}}
    check_sealed_to(good, CURRENT)
    check_sealed_to({"notes": "nothing sealed"}, {"ie-platform": None})
    with pytest.raises(Refusal) as refused:
        check_sealed_to({"contact": {"sealed": [_copy("ie-platform", "ie-enc-2")]}}, {"ie-platform": None})
    assert refused.value.code == "recipient-without-encryption-key"


def test_the_current_key_is_the_usable_one_valid_since_last() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    keys = [
        EncryptionKey("old", t0, usable=True),
        EncryptionKey("new", t0 + timedelta(days=30), usable=True),
        EncryptionKey("revoked", t0 + timedelta(days=60), usable=False),
    ]
    assert current_kid(keys) == "new"
    assert current_kid(keys[2:]) is None


def test_sealed_values_are_found_in_document_order_with_their_pointers() -> None:
    copy = {"sealed": [_copy("ie-platform", "ie-enc-2")]}
    body = {
        "a/b": copy,
        "notes": "clear",
        "items": [{"n": 1}, {"x~y": copy, "deep": [[copy]]}],
        "not_sealed": {"sealed": "a text", "other": 1},
        "two_names": {"sealed": [], "extra": copy},
    }
    found = [pointer for pointer, _ in sealed_values(body, "/body")]
    assert found == [
        "/body/a~1b",
        "/body/items/1/x~0y",
        "/body/items/1/deep/0/0",
        "/body/two_names/extra",
    ]
    assert list(sealed_values(copy)) == [("", copy)]
    assert list(sealed_values({"notes": "nothing sealed"})) == []
