"""RFC 8037 Appendix A test vectors (and the RFC 7748 X25519 vector A.6 reuses)."""

from __future__ import annotations

import pytest

from hub.core.jose import (
    BadSignatureError,
    MalformedJwsError,
    PrivateEncryptionJwk,
    PrivateSigningJwk,
    PublicJwk,
    b64url_decode,
    b64url_encode,
    parse_jws,
    verify_ed25519,
)

A1_PRIVATE = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
A2_PUBLIC = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
A3_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
A4_PROTECTED = "eyJhbGciOiJFZERTQSJ9"
A4_PAYLOAD = "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
A4_SIGNATURE = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
A4_COMPACT = f"{A4_PROTECTED}.{A4_PAYLOAD}.{A4_SIGNATURE}"


def test_a1_private_key_loads_with_its_exact_seed() -> None:
    key = PrivateSigningJwk.from_dict(A1_PRIVATE)
    assert key.seed == bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    exported = key.to_dict()
    assert exported["d"] == A1_PRIVATE["d"]
    assert exported["x"] == A1_PRIVATE["x"]


def test_a2_public_key_is_derived_from_the_private_key() -> None:
    private = PrivateSigningJwk.from_dict(A1_PRIVATE)
    public = PublicJwk.from_dict(A2_PUBLIC)
    assert public.x == private.public().x
    assert public.x == bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    assert public.crv == "Ed25519"


def test_a3_thumbprint() -> None:
    public = PublicJwk.from_dict(A2_PUBLIC)
    assert public.thumbprint() == A3_THUMBPRINT
    # Without a kid in the JWK, the key is named by its thumbprint.
    assert public.kid == A3_THUMBPRINT
    assert PrivateSigningJwk.from_dict(A1_PRIVATE).kid == A3_THUMBPRINT


def test_a4_signature_over_the_signing_input_is_exact() -> None:
    key = PrivateSigningJwk.from_dict(A1_PRIVATE)
    assert b64url_decode(A4_PROTECTED) == b'{"alg":"EdDSA"}'
    assert b64url_decode(A4_PAYLOAD) == b"Example of Ed25519 signing"
    signature = key.sign(f"{A4_PROTECTED}.{A4_PAYLOAD}".encode("ascii"))
    assert signature == b64url_decode(A4_SIGNATURE)
    assert b64url_encode(signature) == A4_SIGNATURE


def test_a4_jws_without_kid_is_refused_by_the_parser_naming_kid() -> None:
    with pytest.raises(MalformedJwsError, match="kid"):
        parse_jws(A4_COMPACT)


def test_a5_verification() -> None:
    public = PublicJwk.from_dict(A2_PUBLIC)
    verify_ed25519(public, f"{A4_PROTECTED}.{A4_PAYLOAD}".encode("ascii"), b64url_decode(A4_SIGNATURE))


def test_a5_verification_fails_for_a_changed_message() -> None:
    public = PublicJwk.from_dict(A2_PUBLIC)
    with pytest.raises(BadSignatureError):
        verify_ed25519(public, f"{A4_PROTECTED}.{A4_PAYLOAD}x".encode("ascii"), b64url_decode(A4_SIGNATURE))


def test_a6_x25519_keys_match_rfc7748() -> None:
    # RFC 8037 A.6 uses the RFC 7748 section 6.1 keys: the ephemeral key is Alice's, the recipient Bob's.
    alice = PrivateEncryptionJwk.from_dict(
        {"kty": "OKP", "crv": "X25519", "d": "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo"}
    )
    assert alice.d == bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    assert b64url_encode(alice.public().x) == "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"
    bob = PrivateEncryptionJwk(
        kid="bob", d=bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    )
    assert b64url_encode(bob.public().x) == "3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"
