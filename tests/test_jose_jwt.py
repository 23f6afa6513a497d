"""Bearer tokens: issue, read, check claims (the contract's iss/aud/iat/exp/jti rules)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from hub.core.jose import (
    MAX_TOKEN_LIFETIME,
    BadSignatureError,
    InvalidTokenError,
    PrivateSigningJwk,
    b64url_decode,
    b64url_encode,
    check_claims,
    issue_token,
    parse_jws,
    read_token,
    sign_compact,
    verify_signature,
)
from tests.factories import with_second_signature

HUB = "hub.example"
NOW = 1_750_000_000


def make_key(kid: str = "hotline-key-1") -> PrivateSigningJwk:
    return PrivateSigningJwk.generate(kid=kid)


def token_with(claims: dict[str, Any], key: PrivateSigningJwk | None = None) -> str:
    """A correctly signed token carrying any claims, valid or not."""
    payload = json.dumps(claims, separators=(",", ":")).encode("utf-8")
    return sign_compact(payload, key or make_key(), {"typ": "JWT"})


def good_claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {"iss": "hotline-nl", "aud": HUB, "iat": NOW, "exp": NOW + 120, "jti": "t-1"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def accept(token: str, now: int = NOW) -> Any:
    jws, claims = read_token(token)
    return check_claims(jws, claims, audience=HUB, now=now)


def test_issued_token_reads_verifies_and_checks() -> None:
    key = make_key()
    token = issue_token(key, issuer="hotline-nl", audience=HUB, now=NOW, token_id="abc")
    jws, claims = read_token(token)
    assert json.loads(b64url_decode(token.split(".")[0])) == {"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}
    assert claims == {"iss": "hotline-nl", "aud": HUB, "iat": NOW, "exp": NOW + 120, "jti": "abc"}
    verify_signature(jws, jws.signatures[0], key.public())
    accepted = check_claims(jws, claims, audience=HUB, now=NOW + 5)
    assert (accepted.issuer, accepted.audience, accepted.token_id, accepted.kid) == (
        "hotline-nl",
        HUB,
        "abc",
        key.kid,
    )
    assert (accepted.issued_at, accepted.expires_at) == (NOW, NOW + 120)


def test_default_jti_is_a_fresh_uuid4() -> None:
    key = make_key()
    first = read_token(issue_token(key, issuer="i", audience=HUB, now=NOW))[1]["jti"]
    second = read_token(issue_token(key, issuer="i", audience=HUB, now=NOW))[1]["jti"]
    assert uuid.UUID(first).version == 4
    assert first != second


def test_token_signed_by_another_key_does_not_verify() -> None:
    jws, _ = read_token(issue_token(make_key(), issuer="i", audience=HUB, now=NOW))
    with pytest.raises(BadSignatureError):
        verify_signature(jws, jws.signatures[0], make_key().public())


@pytest.mark.parametrize("lifetime", [0, -1, MAX_TOKEN_LIFETIME + 1])
def test_issue_refuses_lifetimes_outside_the_contract(lifetime: int) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        issue_token(make_key(), issuer="i", audience=HUB, now=NOW, lifetime=lifetime)


def test_five_minute_lifetime_is_accepted() -> None:
    accept(token_with(good_claims(exp=NOW + MAX_TOKEN_LIFETIME)))


def test_expiry_honours_the_leeway_exactly() -> None:
    token = token_with(good_claims())
    accept(token, now=NOW + 120 + 29)
    with pytest.raises(InvalidTokenError, match="token expired"):
        accept(token, now=NOW + 120 + 30)


def test_iat_in_the_future_beyond_leeway_is_refused() -> None:
    accept(token_with(good_claims(iat=NOW + 30, exp=NOW + 90)))
    with pytest.raises(InvalidTokenError, match="future"):
        accept(token_with(good_claims(iat=NOW + 31, exp=NOW + 90)))


def test_audience_may_be_a_list_containing_the_hub() -> None:
    assert accept(token_with(good_claims(aud=["other", HUB]))).audience == HUB


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        (good_claims(exp=NOW + MAX_TOKEN_LIFETIME + 1), "lifetime exceeds 300 seconds"),
        (good_claims(iat=NOW - 1000, exp=NOW + 100), "lifetime exceeds"),
        (good_claims(exp=NOW), "expires before it was issued"),
        (good_claims(aud="another-hub"), "wrong 'aud'"),
        (good_claims(aud=["a", "b"]), "wrong 'aud'"),
        (good_claims(aud=[HUB, 5]), "'aud' claim must be a string or a list"),
        (good_claims(aud=None), "'aud' claim must be"),
        (good_claims(jti=None), "'jti' claim must be a non-empty string"),
        (good_claims(jti=""), "'jti' claim must be a non-empty string"),
        (good_claims(jti=7), "'jti' claim must be a non-empty string"),
        (good_claims(jti="x" * 201), "longer than 200"),
        (good_claims(iss=None), "'iss' claim"),
        (good_claims(iss=""), "'iss' claim"),
        (good_claims(iat=None), "'iat' claim must be an integer"),
        (good_claims(iat=float(NOW)), "'iat' claim must be an integer"),
        (good_claims(exp=True), "'exp' claim must be an integer"),
        (good_claims(exp=str(NOW + 60)), "'exp' claim must be an integer"),
        (good_claims(nbf=NOW + 100), "not valid yet"),
    ],
)
def test_claims_refusals(claims: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidTokenError) as caught:
        accept(token_with(claims))
    assert reason in str(caught.value)


def test_jti_of_200_characters_is_accepted() -> None:
    assert accept(token_with(good_claims(jti="x" * 200))).token_id == "x" * 200


def _payload_token(payload: bytes) -> str:
    return sign_compact(payload, make_key(), {"typ": "JWT"})


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("not-a-token", "malformed token: a compact JWS has 3 dot-separated parts"),
        ("a.b", "malformed token"),
        (_payload_token(b"[1, 2]"), "not a JSON object"),
        (_payload_token(b"{not json"), "not valid JSON"),
        (_payload_token(b'{"jti":"a","jti":"b"}'), "'jti' more than once"),
        (_payload_token(b'{"iss":"\xff"}'), "not valid JSON"),
        (sign_compact(b'{"iss":"x"}', make_key(), {"typ": "hub-message+jws"}), "typ"),
    ],
)
def test_read_token_refusals(token: str, reason: str) -> None:
    with pytest.raises(InvalidTokenError) as caught:
        read_token(token)
    assert reason in str(caught.value)


def test_read_token_refuses_json_serialisations() -> None:
    key = make_key()
    token = issue_token(key, issuer="i", audience=HUB, now=NOW)
    protected, payload, signature = token.split(".")
    flattened = json.dumps({"payload": payload, "protected": protected, "signature": signature})
    with pytest.raises(InvalidTokenError, match="compact serialisation"):
        read_token(flattened)
    read_token(token)  # the same token in compact form is fine


def test_check_claims_refuses_a_token_with_several_signatures() -> None:
    token = issue_token(make_key(), issuer="i", audience=HUB, now=NOW)
    jws, claims = read_token(token)
    doubled = with_second_signature(token, make_key("second"))
    with pytest.raises(InvalidTokenError, match="one signature"):
        check_claims(parse_jws(json.dumps(doubled)), claims, audience=HUB, now=NOW)
    check_claims(jws, claims, audience=HUB, now=NOW)


def test_token_without_kid_is_refused() -> None:
    header = b64url_encode(b'{"alg":"EdDSA","typ":"JWT"}')
    payload = b64url_encode(json.dumps(good_claims()).encode())
    signature = b64url_encode(make_key().sign(f"{header}.{payload}".encode()))
    with pytest.raises(InvalidTokenError, match="kid"):
        read_token(f"{header}.{payload}.{signature}")
