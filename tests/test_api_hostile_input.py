"""Hostile input through the HTTP API (issue 14, findings 4, 7, 8 and 10): every JSON text and every
integer the hub reads from outside is refused with a specific `400` problem, never a `500`, and nothing
is stored; a used bearer token cannot be replayed in the clock leeway after its purge.

Messages and tokens are signed with jwcrypto (an independent JOSE library) wherever it will sign the
hostile form; where it refuses to (it parses the header itself), the form is signed by hand.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import asyncpg
import pytest
from jwcrypto import jwk, jws

from hub.api.app import create_app
from hub.api.keys import POOL
from hub.api.problems import PROBLEMS
from hub.core import inputs
from hub.core.jose import b64url_encode
from hub.core.jose.jws import KEY_HEADER_FAULT, KEY_HEADERS, UNPROTECTED_FAULT
from hub.services.access import purge_used_tokens
from tests.factories import Directory, FakeClock, Member, removal, takedown
from tests.test_api_refusals import HUB_ID, Cast, assert_problem, post_message, stores_nothing, submit

DIGITS_5000 = "1" * 5000  # beyond Python's 4,300-digit int conversion limit
# Deep enough to overflow Python's recursion limit, short enough for a request header line (8 KiB).
DEEP_2000 = "[" * 2000 + "]" * 2000


@pytest.fixture
async def cast(directory: Directory) -> Cast:
    return Cast(
        hotline=await directory.add("de-hotline-test", "hotline", "DE"),
        platform=await directory.add("ie-platform-test", "platform", "IE"),
        police=await directory.add("nl-police-test", "law-enforcement", "NL"),
        outsider=await directory.add("us-platform-test", "platform", "US"),
    )


@pytest.fixture
async def client(aiohttp_client: Any, settings: Any) -> Any:
    return await aiohttp_client(create_app(settings, background=False))


# --- signing, by an independent library --------------------------------------------------------------


def jwcrypto_key(member: Member) -> jwk.JWK:
    return jwk.JWK(**member.key.to_dict())


def jwcrypto_sign(
    member: Member,
    payload: bytes,
    *,
    protected: dict[str, Any] | None = None,
    header: dict[str, Any] | None = None,
    compact: bool = True,
) -> str:
    token = jws.JWS(payload)
    head = {"alg": "EdDSA", "kid": member.key.kid, **(protected or {})}
    token.add_signature(jwcrypto_key(member), alg="EdDSA", protected=json.dumps(head), header=header)
    return str(token.serialize(compact=compact))


def jwcrypto_token(member: Member, claims: str, header: dict[str, Any] | None = None) -> str:
    """A bearer token whose claims are the exact text ``claims``."""
    return jwcrypto_sign(member, claims.encode("utf-8"), protected={"typ": "JWT", **(header or {})})


def claims_text(member: Member, **extra: str) -> str:
    """Valid claims as JSON text, with members whose values are given as raw JSON text."""
    now = int(time.time())
    members = [
        f'"iss":{json.dumps(member.id)}',
        f'"aud":"{HUB_ID}"',
        f'"iat":{now}',
        f'"exp":{now + 60}',
        f'"jti":"{uuid.uuid4()}"',
    ]
    members += [f'"{name}":{value}' for name, value in extra.items()]
    return "{" + ",".join(members) + "}"


def with_notes(envelope: dict[str, Any], raw_notes: str) -> str:
    """The envelope as JSON text with its body's `notes` member replaced by ``raw_notes`` (raw JSON)."""
    text = json.dumps(envelope)
    marker = json.dumps(envelope["body"]["notes"])
    assert text.count(marker) == 1
    return text.replace(marker, raw_notes)


def referral(cast: Cast) -> dict[str, Any]:
    return takedown(cast.hotline, cast.platform, notes="notes for the platform")


def test_every_fault_the_core_names_is_a_problem_type() -> None:
    for code in (*inputs.FAULT_CODES, KEY_HEADER_FAULT, UNPROTECTED_FAULT):
        assert PROBLEMS[code][0] == 400, code


# --- findings 7 and 8: the message payload ------------------------------------------------------------

NOTES_VARIANTS: dict[str, tuple[str, str]] = {
    # the payload text's `notes`: (raw JSON, problem)
    "integer-of-5000-digits": (DIGITS_5000, "json-number-out-of-range"),
    "negative-integer-of-5000-digits": ("-" + DIGITS_5000, "json-number-out-of-range"),
    "nested-5000-deep": ("[" * 5000 + "]" * 5000, "json-too-deep"),
    "objects-nested-5000-deep": ('{"a":' * 5000 + "1" + "}" * 5000, "json-too-deep"),
    "nested-40-deep": ("[" * 40 + "]" * 40, "json-too-deep"),
    "nan": ("NaN", "json-non-finite-number"),
    "infinity": ("Infinity", "json-non-finite-number"),
    "minus-infinity": ("-Infinity", "json-non-finite-number"),
    "overflowing-double": ("1e400", "json-non-finite-number"),
    "lone-surrogate": ('"text \\ud800 text"', "json-invalid-string"),
    "nul-character": ('"text \\u0000 text"', "json-invalid-string"),
    "duplicate-member": ('"first", "notes": "second"', "json-duplicate-member"),
}


@pytest.mark.parametrize("variant", list(NOTES_VARIANTS))
async def test_hostile_payload_is_a_specific_problem(
    client: Any, db: asyncpg.Connection, cast: Cast, variant: str
) -> None:
    raw, code = NOTES_VARIANTS[variant]
    payload = with_notes(referral(cast), raw).encode("utf-8")
    async with stores_nothing(db):
        response = await post_message(client, jwcrypto_sign(cast.hotline, payload))
        await assert_problem(response, 400, code)


def _utf16(text: str) -> bytes:
    return text.encode("utf-16")  # with a byte order mark


ENCODINGS: dict[str, tuple[Any, str]] = {
    "utf-16-with-bom": (_utf16, "json-not-utf8"),
    "utf-16-le": (lambda t: t.encode("utf-16-le"), "json-not-utf8"),
    "utf-16-be": (lambda t: t.encode("utf-16-be"), "json-not-utf8"),
    "utf-32": (lambda t: t.encode("utf-32"), "json-not-utf8"),
    "utf-8-with-bom": (lambda t: t.encode("utf-8-sig"), "json-byte-order-mark"),
}


@pytest.mark.parametrize("variant", list(ENCODINGS))
async def test_a_payload_not_in_plain_utf8_is_refused_not_forwarded(
    client: Any, db: asyncpg.Connection, cast: Cast, variant: str
) -> None:
    """Python's json.loads(bytes) reads UTF-16, UTF-32 and a BOM; a Node.js recipient would not."""
    encode, code = ENCODINGS[variant]
    payload = encode(json.dumps(referral(cast)))
    async with stores_nothing(db):
        response = await post_message(client, jwcrypto_sign(cast.hotline, payload))
        await assert_problem(response, 400, code)
    inbox = await (await client.get("/v1/inbox", headers=cast.platform.auth())).json()
    assert inbox["messages"] == []


async def test_the_same_referral_in_plain_utf8_is_accepted(client: Any, cast: Cast) -> None:
    """The control for the tests above: only the encoding or the hostile member made the difference."""
    envelope = referral(cast)
    response = await post_message(client, jwcrypto_sign(cast.hotline, json.dumps(envelope).encode()))
    assert response.status == 202, await response.text()
    inbox = await (await client.get("/v1/inbox", headers=cast.platform.auth())).json()
    assert [m["message_id"] for m in inbox["messages"]] == [envelope["id"]]


async def test_an_integer_a_javascript_recipient_would_misread_is_refused(
    client: Any, db: asyncpg.Connection, cast: Cast
) -> None:
    """2**53 + 1 reads as 2**53 in JavaScript: the platform's count would not be what the hub checked."""
    request = referral(cast)
    await submit(client, cast.hotline, request)
    receipt = await (await client.get("/v1/inbox", headers=cast.platform.auth())).json()
    case_id = receipt["messages"][0]["case_id"]
    answer = removal(cast.platform, cast.hotline, case_id, request["id"])
    answer["body"]["identical_copies_removed"] = 2**53 + 1
    async with stores_nothing(db):
        response = await post_message(client, jwcrypto_sign(cast.platform, json.dumps(answer).encode()))
        await assert_problem(response, 400, "json-number-out-of-range")
    answer["body"]["identical_copies_removed"] = 2**53 - 1  # the largest safe integer is fine
    response = await post_message(client, jwcrypto_sign(cast.platform, json.dumps(answer).encode()))
    assert response.status == 202, await response.text()


# --- finding 7: the JWS header and the JSON serialisation, unauthenticated -----------------------------

HEADER_VARIANTS: dict[str, tuple[str, str]] = {
    # extra protected-header text: (raw JSON of member "x", problem)
    "integer-of-5000-digits": (DIGITS_5000, "json-number-out-of-range"),
    "nested-5000-deep": ("[" * 5000 + "]" * 5000, "json-too-deep"),
    "overflowing-double": ("1e400", "json-non-finite-number"),
    "lone-surrogate": ('"\\udfff"', "json-invalid-string"),
}


@pytest.mark.parametrize("variant", list(HEADER_VARIANTS))
async def test_hostile_protected_header_is_a_specific_problem(
    client: Any, db: asyncpg.Connection, cast: Cast, variant: str
) -> None:
    raw, code = HEADER_VARIANTS[variant]
    header = '{"alg":"EdDSA","kid":' + json.dumps(cast.hotline.key.kid) + ',"x":' + raw + "}"
    payload = json.dumps(referral(cast)).encode()
    signed = _compact(header.encode(), payload, cast)
    async with stores_nothing(db):
        response = await post_message(client, signed)
        await assert_problem(response, 400, code)


def _compact(header: bytes, payload: bytes, cast: Cast) -> str:
    """Signed by hand: jwcrypto refuses to sign a header it cannot parse itself."""
    protected, body = b64url_encode(header), b64url_encode(payload)
    signature = cast.hotline.key.sign(f"{protected}.{body}".encode("ascii"))
    return f"{protected}.{body}.{b64url_encode(signature)}"


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        (f'"n":{DIGITS_5000}', "json-number-out-of-range"),
        ('"n":' + "[" * 5000 + "]" * 5000, "json-too-deep"),
        ('"n":NaN', "json-non-finite-number"),
        ('"payload":"e30"', "json-duplicate-member"),
    ],
    ids=["integer-of-5000-digits", "nested-5000-deep", "nan", "duplicate-payload"],
)
@pytest.mark.parametrize("content_type", ["application/jose+json", "application/json"])
async def test_hostile_json_serialisation_is_a_specific_problem(
    client: Any, db: asyncpg.Connection, cast: Cast, extra: str, code: str, content_type: str
) -> None:
    signed = jwcrypto_sign(cast.hotline, json.dumps(referral(cast)).encode(), compact=False)
    hostile = signed[:-1] + "," + extra + "}"
    async with stores_nothing(db):
        response = await post_message(client, hostile, content_type)
        await assert_problem(response, 400, code)


# --- finding 10: unprotected content and keys beside the kid -------------------------------------------


@pytest.mark.parametrize("name", KEY_HEADERS)
@pytest.mark.parametrize("where", ["protected", "unprotected"])
async def test_a_header_naming_a_key_is_refused(
    client: Any, db: asyncpg.Connection, cast: Cast, name: str, where: str
) -> None:
    attacker = jwk.JWK.generate(kty="OKP", crv="Ed25519")
    value: Any = {
        "jku": "https://keys.attacker.example/jwks.json",
        "x5u": "https://keys.attacker.example/cert.pem",
        "jwk": json.loads(attacker.export_public()),
        "x5c": ["MIIBszCCAVmgAwIBAgIUJ"],
        "x5t": "dGh1bWJwcmludA",
        "x5t#S256": "dGh1bWJwcmludA",
    }[name]
    payload = json.dumps(referral(cast)).encode()
    if where == "protected":
        signed = jwcrypto_sign(cast.hotline, payload, protected={name: value})
    else:
        signed = jwcrypto_sign(cast.hotline, payload, header={name: value}, compact=False)
    content_type = "application/jose" if where == "protected" else "application/jose+json"
    async with stores_nothing(db):
        response = await post_message(client, signed, content_type)
        await assert_problem(response, 400, "jws-key-header")


@pytest.mark.parametrize("form", ["flattened-header", "flattened-member", "general-header", "general-member"])
async def test_unprotected_content_is_refused_not_forwarded(
    client: Any, db: asyncpg.Connection, cast: Cast, form: str
) -> None:
    """What no signature covers would reach the recipients as if the sender had said it."""
    payload = json.dumps(referral(cast)).encode()
    header = {"note": "urgent: call this number"} if form.endswith("header") else None
    document = json.loads(jwcrypto_sign(cast.hotline, payload, header=header, compact=False))
    if form.endswith("member"):
        document["note"] = "urgent: call this number"
    if form.startswith("general"):
        entry = {k: document.pop(k) for k in ("protected", "header", "signature") if k in document}
        if form.endswith("member"):
            entry["note"] = document.pop("note")
        document = {**document, "signatures": [entry]}
    async with stores_nothing(db):
        response = await post_message(client, json.dumps(document), "application/jose+json")
        await assert_problem(response, 400, "jws-unprotected-content")
    inbox = await (await client.get("/v1/inbox", headers=cast.platform.auth())).json()
    assert inbox["messages"] == []


# --- findings 7 and 10: bearer tokens (read before anything is authenticated) --------------------------

TOKEN_VARIANTS: dict[str, tuple[Any, str]] = {
    "claim-integer-of-5000-digits": (
        lambda m: jwcrypto_token(m, claims_text(m, n=DIGITS_5000)),
        "json-number-out-of-range",
    ),
    "claim-nested-2000-deep": (
        lambda m: jwcrypto_token(m, claims_text(m, n=DEEP_2000)),
        "json-too-deep",
    ),
    "claim-nan": (lambda m: jwcrypto_token(m, claims_text(m, n="NaN")), "json-non-finite-number"),
    "claim-utf-16": (
        lambda m: jwcrypto_sign(m, claims_text(m).encode("utf-16"), protected={"typ": "JWT"}),
        "json-not-utf8",
    ),
    "header-integer-of-5000-digits": (
        lambda m: _hand_token(m, f'"n":{DIGITS_5000}'),
        "json-number-out-of-range",
    ),
    "header-nested-2000-deep": (lambda m: _hand_token(m, '"n":' + DEEP_2000), "json-too-deep"),
    "header-jwk": (
        lambda m: jwcrypto_token(
            m, claims_text(m), {"jwk": json.loads(jwk.JWK.generate(kty="OKP", crv="Ed25519").export_public())}
        ),
        "jws-key-header",
    ),
    "header-jku": (
        lambda m: jwcrypto_token(m, claims_text(m), {"jku": "https://keys.attacker.example/jwks.json"}),
        "jws-key-header",
    ),
}


def _hand_token(member: Member, extra_header: str) -> str:
    header = '{"alg":"EdDSA","typ":"JWT","kid":' + json.dumps(member.key.kid) + "," + extra_header + "}"
    protected, body = b64url_encode(header.encode()), b64url_encode(claims_text(member).encode())
    signature = member.key.sign(f"{protected}.{body}".encode("ascii"))
    return f"{protected}.{body}.{b64url_encode(signature)}"


@pytest.mark.parametrize("variant", list(TOKEN_VARIANTS))
async def test_hostile_bearer_token_is_a_specific_problem(
    client: Any, db: asyncpg.Connection, cast: Cast, variant: str
) -> None:
    make, code = TOKEN_VARIANTS[variant]
    async with stores_nothing(db):
        response = await client.get("/v1/inbox", headers={"Authorization": f"Bearer {make(cast.platform)}"})
        await assert_problem(response, 400, code)


async def test_a_well_formed_jwcrypto_token_is_accepted(client: Any, cast: Cast) -> None:
    """The control for the token tests above."""
    token = jwcrypto_token(cast.platform, claims_text(cast.platform))
    response = await client.get("/v1/inbox", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200, await response.text()


# --- finding 7: query parameters, cursors and request bodies --------------------------------------------


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        (f"/v1/inbox?limit={DIGITS_5000}", "limit"),
        (f"/v1/inbox?wait={DIGITS_5000}", "wait"),
        (f"/v1/cases?limit={DIGITS_5000}", "limit"),
        ("/v1/cases?cursor=" + b64url_encode(f"9999-12-31T23:59:59-14:00|{uuid.uuid4()}".encode()), "cursor"),
        ("/v1/cases?cursor=" + b64url_encode(f"0001-01-01T00:00:00+14:00|{uuid.uuid4()}".encode()), "cursor"),
        ("/v1/cases?cursor=" + b64url_encode(f"2026-01-01T00:00:00|{uuid.uuid4()}".encode()), "cursor"),
        (f"/v1/signals?limit={DIGITS_5000}", "limit"),
        (f"/v1/signals?cursor=sig1.{DIGITS_5000}", "cursor"),
    ],
    ids=[
        "inbox-limit",
        "inbox-wait",
        "cases-limit",
        "cases-cursor-past-year-9999",
        "cases-cursor-before-year-1",
        "cases-cursor-naive-time",
        "signals-limit",
        "signals-cursor-of-5000-digits",
    ],
)
async def test_out_of_range_parameter_is_invalid_parameter(
    client: Any, db: asyncpg.Connection, cast: Cast, path: str, parameter: str
) -> None:
    async with stores_nothing(db):
        response = await client.get(path, headers=cast.platform.auth())
        await assert_problem(response, 400, "invalid-parameter", parameter=parameter)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ('{"message_ids":[' + DIGITS_5000 + "]}", "json-number-out-of-range"),
        ('{"message_ids":' + "[" * 5000 + "]" * 5000 + "}", "json-too-deep"),
        ('{"message_ids":[NaN]}', "json-non-finite-number"),
        (f'{{"message_ids":["{uuid.uuid4()}"],"message_ids":["{uuid.uuid4()}"]}}', "json-duplicate-member"),
    ],
    ids=["integer-of-5000-digits", "nested-5000-deep", "nan", "duplicate-member"],
)
@pytest.mark.parametrize("path", ["/v1/inbox/ack", f"/v1/cases/{uuid.UUID(int=3)}/shares"])
async def test_hostile_request_body_is_a_specific_problem(
    client: Any, db: asyncpg.Connection, cast: Cast, body: str, code: str, path: str
) -> None:
    headers = {**cast.platform.auth(), "Content-Type": "application/json"}
    async with stores_nothing(db):
        response = await client.post(path, data=body.encode(), headers=headers)
        await assert_problem(response, 400, code)


# --- finding 4: a used token is remembered for as long as it could be accepted --------------------------


async def test_a_used_token_cannot_be_replayed_in_the_leeway_after_the_purge(
    aiohttp_client: Any, settings: Any, directory: Directory, db: asyncpg.Connection
) -> None:
    clock = FakeClock()
    client = await aiohttp_client(create_app(settings, clock=clock, background=False))
    platform = await directory.add("ie-platform-test", "platform", "IE")
    token = jwcrypto_token(
        platform,
        json.dumps(
            {
                "iss": platform.id,
                "aud": HUB_ID,
                "iat": clock.ts(),
                "exp": clock.ts() + 60,
                "jti": str(uuid.uuid4()),
            }
        ),
    )
    headers = {"Authorization": f"Bearer {token}"}
    pool = client.server.app[POOL]

    first = await client.get("/v1/inbox", headers=headers)
    assert first.status == 200, await first.text()

    clock.advance(seconds=75)  # past exp, inside the 30 s leeway the hub grants on exp
    await purge_used_tokens(pool, clock())  # what housekeeping runs every minute
    async with stores_nothing(db):
        replayed = await client.get("/v1/inbox", headers=headers)
        await assert_problem(replayed, 401, "token-replay")

    clock.advance(seconds=16)  # past exp + leeway: refused as expired, and then its jti may go
    late = await client.get("/v1/inbox", headers=headers)
    await assert_problem(late, 401, "invalid-token")
    await purge_used_tokens(pool, clock())
    assert await db.fetchval("SELECT count(*) FROM used_tokens") == 0
