"""JWS parsing, signing and verification; strict base64url; JWK validation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.core.jose import (
    BadSignatureError,
    InvalidJwkError,
    MalformedJwsError,
    PrivateEncryptionJwk,
    PrivateSigningJwk,
    PublicJwk,
    b64url_decode,
    b64url_encode,
    load_private_jwk,
    parse_jws,
    sha256_hex,
    sign_compact,
    verify_signature,
)

PAYLOAD = b'{"id":"6f1c0c52-1111-4a3e-9d53-8f7a2b0c9e10","type":"takedown-request","body":{}}'


def make_key(kid: str = "sender-1") -> PrivateSigningJwk:
    return PrivateSigningJwk.generate(kid=kid)


def b64_json(value: object) -> str:
    return b64url_encode(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def signed_entry(
    key: PrivateSigningJwk,
    protected: dict[str, Any],
    payload: bytes = PAYLOAD,
    header: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A JSON-serialisation signature entry signed over any header, valid or not."""
    protected_b64 = b64_json(protected)
    signature = key.sign(f"{protected_b64}.{b64url_encode(payload)}".encode("ascii"))
    entry: dict[str, Any] = {"protected": protected_b64, "signature": b64url_encode(signature)}
    if header is not None:
        entry["header"] = header
    return entry


def compact_with(
    protected: dict[str, Any], payload: bytes = PAYLOAD, key: PrivateSigningJwk | None = None
) -> str:
    entry = signed_entry(key or make_key(), protected, payload)
    return f"{entry['protected']}.{b64url_encode(payload)}.{entry['signature']}"


GOOD = {"alg": "EdDSA", "kid": "sender-1"}


# --- base64url ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"f", b"fo", b"foo", b"\xff\xfe\xfd\x00", bytes(range(256))])
def test_base64url_round_trip_without_padding(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text
    assert b64url_decode(text) == data


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Zm8=", "padding"),
        ("Zm 8", "outside"),
        ("Zm8\n", "outside"),
        ("+/8", "outside"),
        ("Zm9vY", "length"),
        ("QR", "spare bits"),
        ("Zm9", "spare bits"),
    ],
)
def test_base64url_decode_is_strict(text: str, reason: str) -> None:
    with pytest.raises(MalformedJwsError, match=reason):
        b64url_decode(text)


def test_base64url_decode_names_the_value() -> None:
    with pytest.raises(MalformedJwsError, match=r"^the payload is not valid base64url"):
        b64url_decode("a=", what="the payload")


# --- JWK ---------------------------------------------------------------------------------------------


def test_public_jwk_dicts_have_the_published_shape() -> None:
    signing = make_key("s1").public().to_dict()
    assert set(signing) == {"kty", "crv", "x", "kid", "use", "alg"}
    assert [signing[k] for k in ("kty", "crv", "use", "alg")] == ["OKP", "Ed25519", "sig", "EdDSA"]
    sealing = PrivateEncryptionJwk.generate("e1").public().to_dict()
    assert sealing == {"kty": "OKP", "crv": "X25519", "x": sealing["x"], "kid": "e1", "use": "enc"}


def test_public_jwk_round_trips_and_keeps_its_kid() -> None:
    public = make_key("directory-kid").public()
    again = PublicJwk.from_dict(public.to_dict())
    assert again == public
    assert again.kid == "directory-kid"


@pytest.mark.parametrize("kid", [None, ""])
def test_public_jwk_without_kid_is_named_by_thumbprint(kid: str | None) -> None:
    data = make_key().public().to_dict()
    if kid is None:
        del data["kid"]
    else:
        data["kid"] = kid
    public = PublicJwk.from_dict(data)
    assert public.kid == public.thumbprint()


def test_generated_keys_are_named_by_thumbprint_by_default() -> None:
    key = PrivateSigningJwk.generate()
    assert key.kid == key.public().thumbprint()
    sealing = PrivateEncryptionJwk.generate()
    assert sealing.kid == sealing.public().thumbprint()


def test_public_jwk_refuses_private_material_without_echoing_it() -> None:
    private = make_key().to_dict()
    with pytest.raises(InvalidJwkError, match="private") as caught:
        PublicJwk.from_dict(private)
    assert private["d"] not in str(caught.value)


def _public_with(**changes: object) -> dict[str, object]:
    data: dict[str, object] = dict(make_key().public().to_dict())
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ([1, 2], "JSON object"),
        (_public_with(kty="EC"), "kty"),
        (_public_with(kty=None), "kty"),
        (_public_with(crv="P-256"), "crv"),
        (_public_with(x=None), "'x'"),
        (_public_with(x=b64url_encode(bytes(31))), "32 bytes"),
        (_public_with(x=b64url_encode(bytes(32)) + "="), "base64url"),
        (_public_with(kid=7), "kid"),
        (_public_with(use="enc"), "use"),
        (_public_with(alg="ES256"), "alg"),
    ],
)
def test_public_jwk_refusals(data: object, reason: str) -> None:
    with pytest.raises(InvalidJwkError, match=reason):
        PublicJwk.from_dict(data)


def test_keys_cannot_be_built_with_wrong_sizes() -> None:
    with pytest.raises(InvalidJwkError):
        PublicJwk(kid="k", crv="Ed25519", x=bytes(31))
    with pytest.raises(InvalidJwkError):
        PublicJwk(kid="k", crv="P-256", x=bytes(32))
    with pytest.raises(InvalidJwkError):
        PrivateSigningJwk(kid="k", seed=bytes(33))
    with pytest.raises(InvalidJwkError):
        PrivateEncryptionJwk(kid="", d=bytes(32))


def test_private_jwks_round_trip_and_hide_their_secret() -> None:
    signing = make_key("s")
    assert PrivateSigningJwk.from_dict(signing.to_dict()) == signing
    assert signing.seed.hex() not in repr(signing)
    assert b64url_encode(signing.seed) not in repr(signing)
    sealing = PrivateEncryptionJwk.generate("e")
    assert PrivateEncryptionJwk.from_dict(sealing.to_dict()) == sealing
    assert b64url_encode(sealing.d) not in repr(sealing)


def test_private_jwk_with_mismatched_x_is_refused() -> None:
    data = make_key().to_dict()
    data["x"] = make_key().to_dict()["x"]
    with pytest.raises(InvalidJwkError, match="does not match") as caught:
        PrivateSigningJwk.from_dict(data)
    assert data["d"] not in str(caught.value)


def test_load_private_jwk_dispatches_on_curve() -> None:
    signing, sealing = make_key("s"), PrivateEncryptionJwk.generate("e")
    assert load_private_jwk(signing.to_dict()) == signing
    assert load_private_jwk(sealing.to_dict()) == sealing
    with pytest.raises(InvalidJwkError, match="no 'd'"):
        load_private_jwk(signing.public().to_dict())
    with pytest.raises(InvalidJwkError, match="X25519"):
        PrivateEncryptionJwk.from_dict(signing.to_dict())


# --- sign, parse, verify -----------------------------------------------------------------------------


def test_sign_compact_header_is_exact_and_parses_back() -> None:
    key = make_key("k1")
    token = sign_compact(PAYLOAD, key, {"typ": "hub-message+jws"})
    assert b64url_decode(token.split(".")[0]) == b'{"alg":"EdDSA","kid":"k1","typ":"hub-message+jws"}'
    jws = parse_jws(token)
    assert jws.payload == PAYLOAD
    assert jws.serialization == "compact"
    assert [s.kid for s in jws.signatures] == ["k1"]
    verify_signature(jws, jws.signatures[0], key.public())


def test_parse_accepts_bytes_with_surrounding_whitespace() -> None:
    key = make_key()
    jws = parse_jws(b"\n  " + sign_compact(PAYLOAD, key).encode("ascii") + b"\r\n")
    verify_signature(jws, jws.signatures[0], key.public())


def test_parse_flattened_json_keeps_unprotected_header() -> None:
    key = make_key()
    entry = signed_entry(key, GOOD, header={"note": "x"})
    jws = parse_jws(json.dumps({"payload": b64url_encode(PAYLOAD), **entry}).encode("utf-8"))
    assert jws.serialization == "flattened"
    assert jws.signatures[0].header == {"note": "x"}
    verify_signature(jws, jws.signatures[0], key.public())


def test_sign_compact_refuses_headers_it_could_not_parse_back() -> None:
    key = make_key()
    with pytest.raises(ValueError, match="alg"):
        sign_compact(PAYLOAD, key, {"alg": "none"})
    with pytest.raises(ValueError, match="kid"):
        sign_compact(PAYLOAD, key, {"kid": "someone-else"})
    with pytest.raises(MalformedJwsError, match="crit"):
        sign_compact(PAYLOAD, key, {"crit": ["exp"]})
    with pytest.raises(MalformedJwsError, match="empty"):
        sign_compact(b"", key)


def _tamper_payload(token: str) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64url_encode(PAYLOAD.replace(b'takedown', b'takedowm'))}.{signature}"


def _tamper_header(token: str) -> str:
    _, payload, signature = token.split(".")
    return f"{b64_json({'alg': 'EdDSA', 'kid': 'sender-1', 'typ': 'x'})}.{payload}.{signature}"


def _tamper_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[10] ^= 0x01
    return f"{header}.{payload}.{b64url_encode(bytes(raw))}"


@pytest.mark.parametrize("tamper", [_tamper_payload, _tamper_header, _tamper_signature])
def test_tampering_breaks_the_signature(tamper: Any) -> None:
    key = make_key()
    token = sign_compact(PAYLOAD, key)
    parse_jws(token)  # sanity: the untouched form parses
    jws = parse_jws(tamper(token))
    with pytest.raises(BadSignatureError):
        verify_signature(jws, jws.signatures[0], key.public())


def test_wrong_key_is_refused() -> None:
    jws = parse_jws(sign_compact(PAYLOAD, make_key()))
    with pytest.raises(BadSignatureError, match="does not verify"):
        verify_signature(jws, jws.signatures[0], make_key().public())


def test_an_x25519_key_cannot_verify() -> None:
    jws = parse_jws(sign_compact(PAYLOAD, make_key()))
    with pytest.raises(BadSignatureError, match="X25519"):
        verify_signature(jws, jws.signatures[0], PrivateEncryptionJwk.generate("e").public())


# --- every refusal of the parser ---------------------------------------------------------------------

_P = b64url_encode(PAYLOAD)
_ZERO_SIG = b64url_encode(bytes(64))
_DUPLICATE_KID = b64url_encode(b'{"alg":"EdDSA","kid":"a","kid":"b"}')


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document)


def _general(entries: list[dict[str, Any]], **extra: Any) -> str:
    return _json({"payload": _P, "signatures": entries, **extra})


MALFORMED: list[tuple[str, str | bytes, str]] = [
    ("empty", "  ", "empty"),
    ("not ascii", "é" + compact_with(GOOD), "ASCII"),
    ("not ascii bytes", b"\xff." + compact_with(GOOD).encode(), "ASCII"),
    ("two parts", "a.b", "3 dot-separated parts, not 2"),
    ("four parts", compact_with(GOOD) + ".x", "3 dot-separated parts, not 4"),
    ("padded payload", compact_with(GOOD).replace(".", "=.", 1), "padding"),
    ("space inside", compact_with(GOOD).replace(".", ". ", 1), "outside"),
    ("impossible length", "a." + _P + "." + _ZERO_SIG, "length"),
    ("header not json", f"{b64url_encode(b'alg')}.{_P}.{_ZERO_SIG}", "not valid JSON"),
    ("header not utf-8", f"{b64url_encode(bytes([0xFF]))}.{_P}.{_ZERO_SIG}", "UTF-8"),
    ("header not object", f"{b64_json(['EdDSA'])}.{_P}.{_ZERO_SIG}", "not a JSON object"),
    ("header duplicate", f"{_DUPLICATE_KID}.{_P}.{_ZERO_SIG}", "'kid' more than once"),
    ("no alg", compact_with({"kid": "k"}), "'alg' is missing"),
    ("alg none", compact_with({"alg": "none", "kid": "k"}), "'none' is not supported"),
    ("alg HS256", compact_with({"alg": "HS256", "kid": "k"}), "only EdDSA"),
    ("no kid", compact_with({"alg": "EdDSA"}), "'kid' is missing"),
    ("empty kid", compact_with({"alg": "EdDSA", "kid": ""}), "kid must be a non-empty string"),
    ("number kid", compact_with({"alg": "EdDSA", "kid": 12}), "kid must be a non-empty string"),
    ("crit", compact_with({**GOOD, "crit": ["b64"], "b64": False}), "crit"),
    ("b64 false", compact_with({**GOOD, "b64": False}), "b64"),
    ("detached compact", compact_with(GOOD).replace("." + _P + ".", ".."), "detached"),
    ("short signature", compact_with(GOOD).rsplit(".", 1)[0] + "." + b64url_encode(bytes(63)), "not 63"),
    ("json truncated", '{"payload": ', "the JWS is not valid JSON"),
    ("json duplicate member", '{"payload":"a","payload":"b","signatures":[]}', "more than once"),
    ("json no signatures", _json({"payload": _P}), "no signatures"),
    ("json empty signatures", _general([]), "no signatures"),
    ("json signatures not list", _json({"payload": _P, "signatures": {}}), "not a list"),
    ("json mixed forms", _general([signed_entry(make_key(), GOOD)], signature="AAAA"), "mixes"),
    ("json mixed protected", _general([signed_entry(make_key(), GOOD)], protected="e30"), "mixes"),
    ("json detached", _json({"signatures": [signed_entry(make_key(), GOOD)]}), "detached"),
    ("json empty payload", _json({"payload": "", **signed_entry(make_key(), GOOD)}), "empty"),
    ("json payload not string", _json({"payload": 5, **signed_entry(make_key(), GOOD)}), "not a base64url"),
    ("json no protected", _general([{"header": GOOD, "signature": _ZERO_SIG}]), "no protected header"),
    (
        "json alg unprotected",
        _general([signed_entry(make_key(), {"kid": "k"}, header={"alg": "EdDSA"})]),
        "'alg' is in the unprotected header",
    ),
    (
        "json kid unprotected",
        _general([signed_entry(make_key(), {"alg": "EdDSA"}, header={"kid": "k"})]),
        "'kid' is in the unprotected header",
    ),
    (
        "json header both",
        _general([signed_entry(make_key(), {**GOOD, "typ": "a"}, header={"typ": "b"})]),
        "'typ' is both protected and unprotected",
    ),
    ("json header not object", _general([signed_entry(make_key(), GOOD, header=["x"])]), "not a JSON object"),  # type: ignore[arg-type]
    ("json crit unprotected", _general([signed_entry(make_key(), GOOD, header={"crit": ["x"]})]), "crit"),
    ("json entry not object", _general(["x"]), "not a JSON object"),  # type: ignore[list-item]
    ("json no signature", _general([{"protected": b64_json(GOOD)}]), "signature is missing"),
    (
        "json nine signatures",
        _general([signed_entry(make_key(f"k{i}"), {"alg": "EdDSA", "kid": f"k{i}"}) for i in range(9)]),
        "9 signatures; the limit is 8",
    ),
    ("json NaN", '{"payload":"a","signature":NaN}', "not valid JSON"),
    ("json not utf-8", b'{"payload":"\xff"}', "UTF-8"),
]


@pytest.mark.parametrize(
    ("data", "reason"), [(d, r) for _, d, r in MALFORMED], ids=[n for n, _, _ in MALFORMED]
)
def test_parse_refuses_with_a_specific_reason(data: str | bytes, reason: str) -> None:
    with pytest.raises(MalformedJwsError) as caught:
        parse_jws(data)
    assert reason in str(caught.value)


def test_eight_signatures_are_accepted() -> None:
    keys = [make_key(f"k{i}") for i in range(8)]
    jws = parse_jws(_general([signed_entry(k, {"alg": "EdDSA", "kid": k.kid}) for k in keys]))
    assert jws.serialization == "general"
    for signature, key in zip(jws.signatures, keys, strict=True):
        verify_signature(jws, signature, key.public())


def test_sha256_hex() -> None:
    assert sha256_hex(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_the_protected_header_is_the_same_for_each_signature_and_its_extra_header() -> None:
    key = make_key("hub-1")
    receipt = sign_compact(b'{"a":1}', key, {"typ": "hub-receipt+jwt"})
    again = sign_compact(b'{"a":2}', key, {"typ": "hub-receipt+jwt"})
    token = sign_compact(b'{"a":1}', key, {"typ": "JWT"})
    plain = sign_compact(b'{"a":1}', key)
    headers = [parse_jws(jws).signatures[0].protected for jws in (receipt, again, token, plain)]
    assert headers == [
        {"alg": "EdDSA", "kid": "hub-1", "typ": "hub-receipt+jwt"},
        {"alg": "EdDSA", "kid": "hub-1", "typ": "hub-receipt+jwt"},
        {"alg": "EdDSA", "kid": "hub-1", "typ": "JWT"},
        {"alg": "EdDSA", "kid": "hub-1"},
    ]
    assert parse_jws(sign_compact(b"{}", make_key("hub-2"), {"typ": "JWT"})).signatures[0].kid == "hub-2"
    for _ in range(2):  # refused every time, not only before anything was kept
        with pytest.raises(ValueError, match="must not set"):
            sign_compact(b"{}", key, {"kid": "other"})
