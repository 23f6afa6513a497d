"""Every refusal of the HTTP API, sent as a real request to `create_app(...)` on a real PostgreSQL.

Each test checks the contract of a refusal: the HTTP status, `Content-Type: application/problem+json`,
the exact problem `type` (`urn:referral-hub:problem:<code>`), the extra members where the contract has
them, that nothing was stored (row counts of the case and message tables before and after), and that the
answer never quotes the URL of reported content or the body text the sender wrote (marker strings are
planted in every message and searched for in the raw response text).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from hub.api.app import create_app
from hub.client.envelope import new_envelope
from hub.core.clock import utc_now
from hub.core.jose import (
    PrivateSigningJwk,
    b64url_encode,
    issue_token,
    parse_jws,
    sign_compact,
)
from hub.store.directory import revoke_key
from tests.conftest import table_counts
from tests.factories import (
    Directory,
    Member,
    acknowledgement,
    removal,
    reply,
    takedown,
    with_second_signature,
)

PROBLEM = "urn:referral-hub:problem:"
PROBLEM_JSON = "application/problem+json"
HUB_ID = "test-hub"  # the `settings` fixture's hub_id, the `aud` of every token

MARKER_PATH = "marker-url-4d1c9e"
MARKER_URL = f"https://photos.example.com/p/{MARKER_PATH}"
MARKER_TEXT = "marker-text-8b27f0"
MARKERS = (MARKER_URL, MARKER_PATH, MARKER_TEXT)


# --- participants, client, and the checks every test shares ------------------------------------------


@dataclass(frozen=True)
class Cast:
    hotline: Member
    platform: Member
    police: Member
    outsider: Member


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


@contextlib.asynccontextmanager
async def stores_nothing(db: asyncpg.Connection) -> AsyncIterator[None]:
    before = await table_counts(db)
    yield
    assert await table_counts(db) == before


async def assert_problem(response: Any, status: int, code: str, **members: Any) -> dict[str, Any]:
    text = await response.text()
    assert response.status == status, text
    assert response.headers["Content-Type"].split(";")[0].strip() == PROBLEM_JSON
    problem = json.loads(text)
    assert problem["type"] == PROBLEM + code, text
    assert problem["status"] == status
    assert isinstance(problem["title"], str)
    assert problem["title"]
    assert isinstance(problem["detail"], str)
    assert problem["detail"]
    for name, value in members.items():
        assert problem[name] == value, name
    for marker in MARKERS:
        assert marker not in text, f"the problem quotes {marker!r}"
    return problem


def www_authenticate_is_bearer(response: Any) -> bool:
    return response.headers.get("WWW-Authenticate", "").lower().startswith("bearer")


# --- messages --------------------------------------------------------------------------------------


def marked_takedown(sender: Member, *recipients: Member, **overrides: Any) -> dict[str, Any]:
    """A valid takedown request whose reported URL and free text carry the marker strings."""
    body: dict[str, Any] = {
        "content": [{"url": MARKER_URL, "platform_item_id": "marker-item-0001"}],
        "illegality": {
            "explanation": f"{MARKER_TEXT}: an intimate image of an adult was published without consent.",
            "laws": [{"jurisdiction": "EU", "citation": "Directive (EU) 2024/1385, Art. 5"}],
        },
        "notes": f"{MARKER_TEXT} notes for the platform",
    }
    body.update(overrides)
    return takedown(sender, *recipients, **body)


def withdrawal(sender: Member, to: Member, case_id: str) -> dict[str, Any]:
    body = {"reason": "victim-request", "delete_data": True, "note": MARKER_TEXT}
    return reply("withdrawal", sender, to, case_id, None, body)


def payload_of(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope, separators=(",", ":")).encode("utf-8")


def forge(payload: bytes, key: PrivateSigningJwk, header: dict[str, Any]) -> str:
    """A compact JWS with any protected header, signed by `key` (sign_compact refuses such headers)."""
    protected = b64url_encode(json.dumps(header).encode("utf-8"))
    body = b64url_encode(payload)
    signature = key.sign(f"{protected}.{body}".encode("ascii"))
    return f"{protected}.{body}.{b64url_encode(signature)}"


async def post_message(client: Any, signed: str | bytes, content_type: str = "application/jose") -> Any:
    data = signed.encode("utf-8") if isinstance(signed, str) else signed
    return await client.post("/v1/messages", data=data, headers={"Content-Type": content_type})


async def submit(client: Any, sender: Member, envelope: dict[str, Any]) -> dict[str, Any]:
    response = await post_message(client, sender.sign(envelope))
    assert response.status == 202, await response.text()
    receipt: dict[str, Any] = await response.json()
    return receipt


async def open_case(client: Any, cast: Cast) -> tuple[dict[str, Any], str]:
    request = marked_takedown(cast.hotline, cast.platform)
    receipt = await submit(client, cast.hotline, request)
    return request, receipt["case_id"]


# --- body: JSON, size, media type ------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/jose+json", "application/json"])
@pytest.mark.parametrize(
    "body",
    [f"{{not json {MARKER_TEXT}".encode(), b"\xff\xfe{}", b""],
    ids=["broken-json", "not-utf8", "empty"],
)
async def test_json_serialisation_that_is_not_json(
    client: Any, db: asyncpg.Connection, cast: Cast, content_type: str, body: bytes
) -> None:
    async with stores_nothing(db):
        response = await post_message(client, body, content_type)
        await assert_problem(response, 400, "malformed-json")


@pytest.mark.parametrize(
    "payload",
    [f"plain text {MARKER_TEXT}".encode(), b"[1, 2, 3]", b'"an envelope"', b"42", b"\xff\xfe\xfd"],
    ids=["text", "array", "string", "number", "not-utf8"],
)
async def test_jws_payload_not_a_json_object(
    client: Any, db: asyncpg.Connection, cast: Cast, payload: bytes
) -> None:
    async with stores_nothing(db):
        response = await post_message(client, sign_compact(payload, cast.hotline.key))
        await assert_problem(response, 400, "malformed-json")


async def test_body_too_large_by_content_length(client: Any, db: asyncpg.Connection, cast: Cast) -> None:
    limit = 64 * 1024
    signed = cast.hotline.sign(marked_takedown(cast.hotline, cast.platform))
    padded = signed.encode("ascii") + b" " * (limit + 1 - len(signed))
    assert len(padded) == limit + 1
    async with stores_nothing(db):
        response = await post_message(client, padded)
        await assert_problem(response, 413, "body-too-large", limit=limit)


async def test_body_too_large_when_chunked(client: Any, db: asyncpg.Connection, cast: Cast) -> None:
    """Without a Content-Length the limit still holds, while the body is read."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"A" * 4096

    async with stores_nothing(db):
        response = await client.post(
            "/v1/messages", data=chunks(), headers={"Content-Type": "application/jose"}
        )
        await assert_problem(response, 413, "body-too-large")


async def test_body_too_large_on_inbox_ack(client: Any, db: asyncpg.Connection, cast: Cast) -> None:
    ids = [str(uuid.uuid4()) for _ in range(2000)]  # about 80 KB
    async with stores_nothing(db):
        response = await client.post("/v1/inbox/ack", json={"message_ids": ids}, headers=cast.platform.auth())
        await assert_problem(response, 413, "body-too-large")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/octet-stream"]
)
async def test_unsupported_media_type_on_messages(
    client: Any, db: asyncpg.Connection, cast: Cast, content_type: str
) -> None:
    signed = cast.hotline.sign(marked_takedown(cast.hotline, cast.platform))
    async with stores_nothing(db):
        response = await post_message(client, signed, content_type)
        await assert_problem(response, 415, "unsupported-media-type")


async def test_unsupported_media_type_on_inbox_ack(client: Any, db: asyncpg.Connection, cast: Cast) -> None:
    request, _case_id = await open_case(client, cast)
    headers = {**cast.platform.auth(), "Content-Type": "text/plain"}
    async with stores_nothing(db):
        response = await client.post(
            "/v1/inbox/ack", data=json.dumps({"message_ids": [request["id"]]}), headers=headers
        )
        await assert_problem(response, 415, "unsupported-media-type")
    # The message was not marked retrieved: it is still pending.
    inbox = await (await client.get("/v1/inbox", headers=cast.platform.auth())).json()
    assert [m["message_id"] for m in inbox["messages"]] == [request["id"]]


# --- the JWS and its key ---------------------------------------------------------------------------


def _garbage(cast: Cast, payload: bytes) -> tuple[str, str]:
    return "application/jose", f"garbage {MARKER_TEXT}"


def _two_parts(cast: Cast, payload: bytes) -> tuple[str, str]:
    compact = sign_compact(payload, cast.hotline.key)
    return "application/jose", compact.rsplit(".", 1)[0]


def _four_parts(cast: Cast, payload: bytes) -> tuple[str, str]:
    return "application/jose", sign_compact(payload, cast.hotline.key) + ".AAAA"


def _bad_base64url(cast: Cast, payload: bytes) -> tuple[str, str]:
    protected, body, signature = sign_compact(payload, cast.hotline.key).split(".")
    return "application/jose", f"{protected}.{body[:-4]}!!{body[-2:]}.{signature}"


def _padded_base64url(cast: Cast, payload: bytes) -> tuple[str, str]:
    protected, body, signature = sign_compact(payload, cast.hotline.key).split(".")
    return "application/jose", f"{protected}.{body}.{signature}=="


def _alg_hs256(cast: Cast, payload: bytes) -> tuple[str, str]:
    return "application/jose", forge(payload, cast.hotline.key, {"alg": "HS256", "kid": cast.hotline.key.kid})


def _alg_none(cast: Cast, payload: bytes) -> tuple[str, str]:
    header = b64url_encode(json.dumps({"alg": "none", "kid": cast.hotline.key.kid}).encode())
    return "application/jose", f"{header}.{b64url_encode(payload)}."


def _missing_kid(cast: Cast, payload: bytes) -> tuple[str, str]:
    return "application/jose", forge(payload, cast.hotline.key, {"alg": "EdDSA"})


def _kid_unprotected(cast: Cast, payload: bytes) -> tuple[str, str]:
    compact = forge(payload, cast.hotline.key, {"alg": "EdDSA"})
    protected, body, signature = compact.split(".")
    document = {
        "payload": body,
        "protected": protected,
        "header": {"kid": cast.hotline.key.kid},
        "signature": signature,
    }
    return "application/jose+json", json.dumps(document)


def _crit(cast: Cast, payload: bytes) -> tuple[str, str]:
    header = {"alg": "EdDSA", "kid": cast.hotline.key.kid, "crit": ["exp"], "exp": 1}
    return "application/jose", forge(payload, cast.hotline.key, header)


def _two_signatures(cast: Cast, payload: bytes) -> tuple[str, str]:
    general = with_second_signature(sign_compact(payload, cast.hotline.key), cast.platform.key)
    return "application/jose+json", json.dumps(general)


def _no_signatures(cast: Cast, payload: bytes) -> tuple[str, str]:
    return "application/jose+json", json.dumps({"payload": b64url_encode(payload), "signatures": []})


MALFORMED_JWS: dict[str, Callable[[Cast, bytes], tuple[str, str]]] = {
    "garbage": _garbage,
    "two-parts": _two_parts,
    "four-parts": _four_parts,
    "bad-base64url": _bad_base64url,
    "padded-base64url": _padded_base64url,
    "alg-hs256": _alg_hs256,
    "alg-none": _alg_none,
    "missing-kid": _missing_kid,
    "kid-unprotected": _kid_unprotected,
    "crit": _crit,
    "two-signatures": _two_signatures,
    "no-signatures": _no_signatures,
}


@pytest.mark.parametrize("variant", list(MALFORMED_JWS))
async def test_malformed_jws(client: Any, db: asyncpg.Connection, cast: Cast, variant: str) -> None:
    payload = payload_of(marked_takedown(cast.hotline, cast.platform))
    content_type, body = MALFORMED_JWS[variant](cast, payload)
    async with stores_nothing(db):
        response = await post_message(client, body, content_type)
        await assert_problem(response, 400, "malformed-jws")


@pytest.mark.parametrize("variant", ["unregistered-key", "encryption-key"])
async def test_unknown_key(client: Any, db: asyncpg.Connection, cast: Cast, variant: str) -> None:
    payload = payload_of(marked_takedown(cast.hotline, cast.platform))
    if variant == "unregistered-key":
        signed = sign_compact(payload, PrivateSigningJwk.generate("de-hotline-test-sig-unregistered"))
    else:  # the kid of the hotline's X25519 key, which is in the directory but for sealing only
        signed = forge(payload, cast.hotline.key, {"alg": "EdDSA", "kid": cast.hotline.enc.kid})
    async with stores_nothing(db):
        response = await post_message(client, signed)
        await assert_problem(response, 401, "unknown-key")


async def _member_with_bad_key(directory: Directory, db: asyncpg.Connection, variant: str) -> Member:
    now = utc_now()
    if variant == "expired":
        return await directory.add(
            "fr-hotline-test",
            "hotline",
            "FR",
            not_before=now - timedelta(days=30),
            not_after=now - timedelta(days=1),
        )
    if variant == "not-yet-valid":
        return await directory.add("fr-hotline-test", "hotline", "FR", not_before=now + timedelta(days=1))
    member = await directory.add("fr-hotline-test", "hotline", "FR")
    await revoke_key(db, participant_id=member.id, kid=member.key.kid, reason="key compromised")
    return member


@pytest.mark.parametrize("variant", ["expired", "not-yet-valid", "revoked"])
async def test_key_not_valid(
    client: Any, db: asyncpg.Connection, directory: Directory, cast: Cast, variant: str
) -> None:
    sender = await _member_with_bad_key(directory, db, variant)
    async with stores_nothing(db):
        response = await post_message(client, sender.sign(marked_takedown(sender, cast.platform)))
        await assert_problem(response, 401, "key-not-valid")


@pytest.mark.parametrize("variant", ["tampered-payload", "other-key-same-kid", "signature-of-other-message"])
async def test_bad_signature(client: Any, db: asyncpg.Connection, cast: Cast, variant: str) -> None:
    request = marked_takedown(cast.hotline, cast.platform)
    signed = cast.hotline.sign(request)
    protected, payload_b64, signature = signed.split(".")
    if variant == "tampered-payload":
        tampered = {**request, "body": {**request["body"], "category": "digital-forgery"}}
        signed = f"{protected}.{b64url_encode(payload_of(tampered))}.{signature}"
    elif variant == "other-key-same-kid":
        stranger = PrivateSigningJwk.generate("stranger-sig")
        signed = forge(payload_of(request), stranger, {"alg": "EdDSA", "kid": cast.hotline.key.kid})
    else:
        other = cast.hotline.sign(marked_takedown(cast.hotline, cast.platform))
        signed = f"{protected}.{payload_b64}.{other.split('.')[2]}"
    async with stores_nothing(db):
        response = await post_message(client, signed)
        await assert_problem(response, 401, "bad-signature")


async def test_sender_mismatch(client: Any, db: asyncpg.Connection, cast: Cast) -> None:
    request = marked_takedown(cast.hotline, cast.platform)
    request["from"] = cast.outsider.id  # a registered participant, but not the key's owner
    async with stores_nothing(db):
        response = await post_message(client, cast.hotline.sign(request))
        await assert_problem(response, 403, "sender-mismatch")


# --- templates -------------------------------------------------------------------------------------

DELETE = object()

SCHEMA_FAULTS: dict[str, tuple[tuple[str, ...], Any, str]] = {
    # variant: (path to edit in the envelope, new value or DELETE, the one expected JSON Pointer)
    "missing-body-field": (("body", "non_consent_statement"), DELETE, "/body/non_consent_statement"),
    "missing-envelope-field": (("created_at",), DELETE, "/created_at"),
    "bad-date-time-format": (("created_at",), "yesterday afternoon", "/created_at"),
    "bad-uuid-format": (("id",), "not-a-uuid", "/id"),
    "bad-nested-format": (
        ("body", "authorisation", "signed_at"),
        "2026-02-30T10:00:00Z",
        "/body/authorisation/signed_at",
    ),
    "extra-body-property": (("body", "colour"), "blue", "/body/colour"),
    "extra-envelope-property": (("priority",), "high", "/priority"),
    "case-not-a-uuid": (("case",), "case-one", "/case"),
    "not-affirmed": (("body", "accuracy_statement", "affirmed"), False, "/body/accuracy_statement/affirmed"),
    "pointer-escaping": (("body", "a/b~c"), 1, "/body/a~1b~0c"),
}


def edit(document: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    *parents, last = path
    for name in parents:
        document = document[name]
    if value is DELETE:
        del document[last]
    else:
        document[last] = value


@pytest.mark.parametrize("variant", list(SCHEMA_FAULTS))
async def test_schema_invalid(client: Any, db: asyncpg.Connection, cast: Cast, variant: str) -> None:
    path, value, pointer = SCHEMA_FAULTS[variant]
    request = marked_takedown(cast.hotline, cast.platform)
    edit(request, path, value)
    async with stores_nothing(db):
        response = await post_message(client, cast.hotline.sign(request))
        problem = await assert_problem(response, 422, "schema-invalid")
    assert [e["pointer"] for e in problem["errors"]] == [pointer]
    assert all(isinstance(e["detail"], str) and e["detail"] for e in problem["errors"])


async def test_schema_invalid_lists_every_fault(client: Any, db: asyncpg.Connection, cast: Cast) -> None:
    request = marked_takedown(cast.hotline, cast.platform)
    del request["body"]["jurisdictions"]
    request["body"]["category"] = "photo"
    request["body"]["colour"] = "blue"
    async with stores_nothing(db):
        response = await post_message(client, cast.hotline.sign(request))
        problem = await assert_problem(response, 422, "schema-invalid")
    assert sorted(e["pointer"] for e in problem["errors"]) == [
        "/body/category",
        "/body/colour",
        "/body/jurisdictions",
    ]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("body", "content", 0, "url"), f"{MARKER_URL} with spaces"),
        (("body", "illegality", "explanation"), MARKER_TEXT),
    ],
    ids=["url-not-a-uri", "explanation-too-short"],
)
async def test_schema_faults_do_not_quote_content(
    client: Any, db: asyncpg.Connection, cast: Cast, path: tuple[Any, ...], value: str
) -> None:
    """A fault names where the value is wrong, never the value: here the value is the marker itself."""
    request = marked_takedown(cast.hotline, cast.platform)
    edit(request, path, value)
    async with stores_nothing(db):
        response = await post_message(client, cast.hotline.sign(request))
        problem = await assert_problem(response, 422, "schema-invalid")
    assert [e["pointer"] for e in problem["errors"]] == ["/" + "/".join(map(str, path))]


@pytest.mark.parametrize(
    ("message_type", "version"),
    [("takedown-request", "9.9"), ("takedown-demand", "1.0")],
    ids=["unknown-version", "unknown-type"],
)
async def test_unknown_template(
    client: Any, db: asyncpg.Connection, cast: Cast, message_type: str, version: str
) -> None:
    request = marked_takedown(cast.hotline, cast.platform)
    request["type"], request["version"] = message_type, version
    async with stores_nothing(db):
        response = await post_message(client, cast.hotline.sign(request))
        await assert_problem(response, 422, "unknown-template")


@pytest.mark.parametrize("minor_depicted", ["yes", "unknown"])
async def test_csam_referral(client: Any, db: asyncpg.Connection, cast: Cast, minor_depicted: str) -> None:
    request = marked_takedown(cast.hotline, cast.platform, minor_depicted=minor_depicted)
    async with stores_nothing(db):
        response = await post_message(client, cast.hotline.sign(request))
        problem = await assert_problem(response, 422, "csam-referral")
    assert "CSAM channel" in problem["detail"]


# --- recipients ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fan_out", [False, True], ids=["alone", "beside-a-known-recipient"])
async def test_unknown_recipient(client: Any, db: asyncpg.Connection, cast: Cast, fan_out: bool) -> None:
    request = marked_takedown(cast.hotline, cast.platform)
    request["to"] = [cast.platform.id, "zz-nobody-test"] if fan_out else ["zz-nobody-test"]
    async with stores_nothing(db):
        response = await post_message(client, cast.hotline.sign(request))
        await assert_problem(response, 422, "unknown-recipient", recipient="zz-nobody-test")


async def test_invalid_recipient_self(client: Any, db: asyncpg.Connection, cast: Cast) -> None:
    request = marked_takedown(cast.hotline, cast.hotline)  # hotlines accept takedown requests
    async with stores_nothing(db):
        response = await post_message(client, cast.hotline.sign(request))
        await assert_problem(response, 422, "invalid-recipient", recipient=cast.hotline.id)


async def test_invalid_recipient_self_in_a_case(client: Any, db: asyncpg.Connection, cast: Cast) -> None:
    request, case_id = await open_case(client, cast)
    answer = acknowledgement(cast.platform, cast.platform, case_id, request["id"])
    async with stores_nothing(db):
        response = await post_message(client, cast.platform.sign(answer))
        await assert_problem(response, 422, "invalid-recipient", recipient=cast.platform.id)


@pytest.mark.parametrize("fan_out", [False, True], ids=["alone", "beside-an-accepting-recipient"])
async def test_recipient_does_not_accept(
    client: Any, db: asyncpg.Connection, cast: Cast, fan_out: bool
) -> None:
    recipients = (cast.platform, cast.police) if fan_out else (cast.police,)
    request = marked_takedown(cast.hotline, *recipients)
    async with stores_nothing(db):
        response = await post_message(client, cast.hotline.sign(request))
        await assert_problem(response, 422, "recipient-does-not-accept", recipient=cast.police.id)


# --- cases: unknown, replies, parties, duplicates, transitions -------------------------------------


async def test_unknown_case(client: Any, db: asyncpg.Connection, cast: Cast) -> None:
    answer = acknowledgement(cast.platform, cast.hotline, str(uuid.uuid4()), str(uuid.uuid4()))
    async with stores_nothing(db):
        response = await post_message(client, cast.platform.sign(answer))
        await assert_problem(response, 422, "unknown-case")


@pytest.mark.parametrize("target", ["random-id", "message-of-another-case"])
async def test_invalid_reply(client: Any, db: asyncpg.Connection, cast: Cast, target: str) -> None:
    _request, case_id = await open_case(client, cast)
    other_request, _other_case = await open_case(client, cast)
    in_reply_to = str(uuid.uuid4()) if target == "random-id" else other_request["id"]
    answer = acknowledgement(cast.platform, cast.hotline, case_id, in_reply_to)
    async with stores_nothing(db):
        response = await post_message(client, cast.platform.sign(answer))
        await assert_problem(response, 422, "invalid-reply")


async def _share(client: Any, case_id: str, by: Member, participant_id: str) -> Any:
    return await client.post(
        f"/v1/cases/{case_id}/shares", json={"participant_id": participant_id}, headers=by.auth()
    )


@pytest.mark.parametrize(
    "variant", ["ack-by-outsider", "ack-by-originator", "ack-by-shared-party", "withdrawal-by-recipient"]
)
async def test_not_a_party_message(client: Any, db: asyncpg.Connection, cast: Cast, variant: str) -> None:
    request, case_id = await open_case(client, cast)
    assert (await _share(client, case_id, cast.hotline, cast.police.id)).status == 201
    sender: Member
    if variant == "ack-by-outsider":
        sender, message = cast.outsider, acknowledgement(cast.outsider, cast.hotline, case_id, request["id"])
    elif variant == "ack-by-originator":
        sender, message = cast.hotline, acknowledgement(cast.hotline, cast.platform, case_id, request["id"])
    elif variant == "ack-by-shared-party":
        sender, message = cast.police, acknowledgement(cast.police, cast.hotline, case_id, request["id"])
    else:
        sender, message = cast.platform, withdrawal(cast.platform, cast.hotline, case_id)
    async with stores_nothing(db):
        response = await post_message(client, sender.sign(message))
        await assert_problem(response, 403, "not-a-party")


async def test_not_a_party_reads_case(client: Any, db: asyncpg.Connection, cast: Cast) -> None:
    _request, case_id = await open_case(client, cast)
    async with stores_nothing(db):
        response = await client.get(f"/v1/cases/{case_id}", headers=cast.outsider.auth())
        await assert_problem(response, 403, "not-a-party")


@pytest.mark.parametrize("by", ["outsider", "shared-party"])
async def test_not_a_party_shares_case(client: Any, db: asyncpg.Connection, cast: Cast, by: str) -> None:
    _request, case_id = await open_case(client, cast)
    assert (await _share(client, case_id, cast.hotline, cast.police.id)).status == 201
    sharer = cast.outsider if by == "outsider" else cast.police
    async with stores_nothing(db):
        response = await _share(client, case_id, sharer, cast.outsider.id)
        await assert_problem(response, 403, "not-a-party")


async def test_share_with_unknown_participant(client: Any, db: asyncpg.Connection, cast: Cast) -> None:
    _request, case_id = await open_case(client, cast)
    async with stores_nothing(db):
        response = await _share(client, case_id, cast.hotline, "zz-nobody-test")
        await assert_problem(response, 422, "unknown-recipient")


@pytest.mark.parametrize(
    "body", [{}, {"participant_id": ""}, {"participant_id": 7}], ids=["missing", "empty", "number"]
)
async def test_share_invalid_parameter(
    client: Any, db: asyncpg.Connection, cast: Cast, body: dict[str, Any]
) -> None:
    _request, case_id = await open_case(client, cast)
    async with stores_nothing(db):
        response = await client.post(f"/v1/cases/{case_id}/shares", json=body, headers=cast.hotline.auth())
        await assert_problem(response, 400, "invalid-parameter", parameter="participant_id")


async def test_duplicate_id(client: Any, db: asyncpg.Connection, directory: Directory, cast: Cast) -> None:
    request = marked_takedown(cast.hotline, cast.platform)
    signed = cast.hotline.sign(request)
    first = await post_message(client, signed)
    assert first.status == 202, await first.text()
    original = await first.json()

    other_content = {**request, "body": {**request["body"], "category": "digital-forgery"}}
    second_hotline = await directory.add("fr-hotline-test", "hotline", "FR")
    other_sender = marked_takedown(second_hotline, cast.platform)
    other_sender["id"] = request["id"]
    async with stores_nothing(db):
        same_sender = await post_message(client, cast.hotline.sign(other_content))
        await assert_problem(same_sender, 409, "duplicate-id")
        reused = await post_message(client, second_hotline.sign(other_sender))
        await assert_problem(reused, 409, "duplicate-id")
        again = await post_message(client, signed)
        assert again.status == 202, await again.text()
        assert await again.json() == original


@pytest.mark.parametrize("answer", ["status-update-actioned", "acknowledgement", "second-withdrawal"])
async def test_invalid_transition_after_withdrawal(
    client: Any, db: asyncpg.Connection, cast: Cast, answer: str
) -> None:
    request, case_id = await open_case(client, cast)
    await submit(client, cast.hotline, withdrawal(cast.hotline, cast.platform, case_id))
    if answer == "status-update-actioned":
        sender, message = cast.platform, removal(cast.platform, cast.hotline, case_id, request["id"])
        requested = "actioned"
    elif answer == "acknowledgement":
        sender, message = cast.platform, acknowledgement(cast.platform, cast.hotline, case_id, request["id"])
        requested = "acknowledged"
    else:
        sender, message = cast.hotline, withdrawal(cast.hotline, cast.platform, case_id)
        requested = "withdrawn"
    async with stores_nothing(db):
        response = await post_message(client, sender.sign(message))
        await assert_problem(
            response, 409, "invalid-transition", current_state="withdrawn", requested_state=requested
        )


async def test_lower_case_rfc3339_timestamp_is_not_an_internal_error(
    client: Any, db: asyncpg.Connection, cast: Cast
) -> None:
    """RFC 3339 and the schema allow 't' and 'z' in lower case; it once reached a 500 after validation."""
    request = marked_takedown(cast.hotline, cast.platform)
    request["created_at"] = "2026-06-01t09:15:00z"
    response = await post_message(client, cast.hotline.sign(request))
    assert response.status == 202, await response.text()


# --- bearer tokens ---------------------------------------------------------------------------------


def hand_token(key: PrivateSigningJwk, **claims: Any) -> str:
    return sign_compact(json.dumps(claims).encode("utf-8"), key, {"typ": "JWT"})


def _claims(member: Member, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": member.id, "aud": HUB_ID, "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
    claims.update(overrides)
    return claims


INVALID_TOKENS: dict[str, Callable[[Cast], str]] = {
    "basic-scheme": lambda c: "Basic ZGUtaG90bGluZTpzZWNyZXQ=",
    "token-without-scheme": lambda c: c.hotline.token(),
    "bearer-empty": lambda c: "Bearer ",
    "bearer-garbage": lambda c: "Bearer not.a.token",
    "wrong-audience": lambda c: f"Bearer {c.hotline.token(audience='other-hub')}",
    "expired": lambda c: f"Bearer {c.hotline.token(now=int(time.time()) - 600)}",
    "issued-in-the-future": lambda c: f"Bearer {c.hotline.token(now=int(time.time()) + 600)}",
    "lifetime-over-5-minutes": lambda c: (
        "Bearer " + hand_token(c.hotline.key, **_claims(c.hotline, exp=int(time.time()) + 301))
    ),
    "missing-jti": lambda c: (
        "Bearer " + hand_token(c.hotline.key, **{k: v for k, v in _claims(c.hotline).items() if k != "jti"})
    ),
    "iss-forged": lambda c: (
        "Bearer " + issue_token(c.platform.key, issuer=c.hotline.id, audience=HUB_ID, now=int(time.time()))
    ),
    "unregistered-key": lambda c: (
        "Bearer "
        + issue_token(
            PrivateSigningJwk.generate("unregistered-sig"),
            issuer=c.hotline.id,
            audience=HUB_ID,
            now=int(time.time()),
        )
    ),
    "other-key-same-kid": lambda c: (
        "Bearer "
        + forge(
            json.dumps(_claims(c.hotline)).encode(),
            PrivateSigningJwk.generate("stranger-sig"),
            {"alg": "EdDSA", "kid": c.hotline.key.kid, "typ": "JWT"},
        )
    ),
    "json-serialisation": lambda c: (
        "Bearer " + json.dumps(with_second_signature(c.hotline.token(), c.hotline.key))
    ),
}


@pytest.mark.parametrize("variant", list(INVALID_TOKENS))
async def test_invalid_token(client: Any, db: asyncpg.Connection, cast: Cast, variant: str) -> None:
    authorization = INVALID_TOKENS[variant](cast)
    async with stores_nothing(db):
        response = await client.get("/v1/inbox", headers={"Authorization": authorization})
        await assert_problem(response, 401, "invalid-token")
    assert www_authenticate_is_bearer(response)


def test_issue_token_refuses_a_lifetime_over_5_minutes() -> None:
    """Why the over-long token above is built by hand: the client side refuses to issue one."""
    key = PrivateSigningJwk.generate("de-hotline-test-sig")
    with pytest.raises(ValueError, match="lifetime"):
        issue_token(key, issuer="de-hotline-test", audience=HUB_ID, now=int(time.time()), lifetime=301)


AUTHENTICATED = [
    ("GET", "/v1/inbox", None),
    ("POST", "/v1/inbox/ack", {"message_ids": [str(uuid.UUID(int=2))]}),
    ("GET", f"/v1/cases/{uuid.UUID(int=3)}", None),
    ("POST", f"/v1/cases/{uuid.UUID(int=3)}/shares", {"participant_id": "nl-police-test"}),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), AUTHENTICATED, ids=[f"{m} {p}" for m, p, _ in AUTHENTICATED]
)
async def test_missing_token(
    client: Any, db: asyncpg.Connection, cast: Cast, method: str, path: str, body: Any
) -> None:
    async with stores_nothing(db):
        response = await client.request(method, path, json=body)
        await assert_problem(response, 401, "missing-token")
    assert www_authenticate_is_bearer(response)


async def test_token_replay(client: Any, db: asyncpg.Connection, cast: Cast) -> None:
    headers = cast.platform.auth()
    first = await client.get("/v1/inbox", headers=headers)
    assert first.status == 200, await first.text()
    async with stores_nothing(db):
        second = await client.get("/v1/inbox", headers=headers)
        await assert_problem(second, 401, "token-replay")
    assert www_authenticate_is_bearer(second)


@pytest.mark.parametrize("variant", ["expired", "not-yet-valid", "revoked"])
async def test_token_signed_with_a_key_not_valid(
    client: Any, db: asyncpg.Connection, directory: Directory, variant: str
) -> None:
    member = await _member_with_bad_key(directory, db, variant)
    async with stores_nothing(db):
        response = await client.get("/v1/inbox", headers=member.auth())
        await assert_problem(response, 401, "key-not-valid")
    assert www_authenticate_is_bearer(response)


# --- reading: cases, inbox, parameters -------------------------------------------------------------


@pytest.mark.parametrize("case_id", [str(uuid.UUID(int=4)), "not-a-uuid"], ids=["random-uuid", "not-a-uuid"])
async def test_case_not_found(client: Any, db: asyncpg.Connection, cast: Cast, case_id: str) -> None:
    async with stores_nothing(db):
        response = await client.get(f"/v1/cases/{case_id}", headers=cast.hotline.auth())
        await assert_problem(response, 404, "case-not-found")
        shared = await _share(client, case_id, cast.hotline, cast.police.id)
        await assert_problem(shared, 404, "case-not-found")


@pytest.mark.parametrize("which", ["random-id", "someone-elses-message", "one-known-one-unknown"])
async def test_unknown_message(client: Any, db: asyncpg.Connection, cast: Cast, which: str) -> None:
    request, _case_id = await open_case(client, cast)
    unknown = str(uuid.uuid4())
    ids = {
        "random-id": ([unknown], [unknown]),
        "someone-elses-message": ([request["id"]], [request["id"]]),
        "one-known-one-unknown": ([request["id"], unknown], [unknown]),
    }[which]
    caller = cast.outsider if which == "someone-elses-message" else cast.platform
    async with stores_nothing(db):
        response = await client.post("/v1/inbox/ack", json={"message_ids": ids[0]}, headers=caller.auth())
        await assert_problem(response, 422, "unknown-message", message_ids=ids[1])
    # Nothing was marked retrieved: the platform's message is still pending.
    inbox = await (await client.get("/v1/inbox", headers=cast.platform.auth())).json()
    assert [m["message_id"] for m in inbox["messages"]] == [request["id"]]


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({}, "message_ids"),
        ({"message_ids": []}, "message_ids"),
        ({"message_ids": "not-a-list"}, "message_ids"),
        ({"message_ids": ["not-a-uuid"]}, "message_ids"),
        ({"message_ids": [str(uuid.uuid4()) for _ in range(101)]}, "message_ids"),
    ],
    ids=["missing", "empty", "not-a-list", "not-uuids", "too-many"],
)
async def test_inbox_ack_invalid_parameter(
    client: Any, db: asyncpg.Connection, cast: Cast, body: dict[str, Any], parameter: str
) -> None:
    async with stores_nothing(db):
        response = await client.post("/v1/inbox/ack", json=body, headers=cast.platform.auth())
        await assert_problem(response, 400, "invalid-parameter", parameter=parameter)


async def test_inbox_ack_body_not_a_json_object(client: Any, db: asyncpg.Connection, cast: Cast) -> None:
    async with stores_nothing(db):
        response = await client.post("/v1/inbox/ack", json=["x"], headers=cast.platform.auth())
        await assert_problem(response, 400, "malformed-json")


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("wait=999", "wait"),
        ("wait=1.5", "wait"),
        ("cursor=abc", "cursor"),
        ("cursor=-5", "cursor"),
        ("cursor=1234567890123456789", "cursor"),
    ],
)
async def test_invalid_parameter(
    client: Any, db: asyncpg.Connection, cast: Cast, query: str, parameter: str
) -> None:
    async with stores_nothing(db):
        response = await client.get(f"/v1/inbox?{query}", headers=cast.platform.auth())
        await assert_problem(response, 400, "invalid-parameter", parameter=parameter)


@pytest.mark.parametrize("query", ["limit=%C2%B2", "cursor=%C2%B2"], ids=["limit", "cursor"])
async def test_invalid_parameter_unicode_digit(
    client: Any, db: asyncpg.Connection, cast: Cast, query: str
) -> None:
    """'²' is a digit to str.isdigit() but not to int(): it once reached a 500."""
    async with stores_nothing(db):
        response = await client.get(f"/v1/inbox?{query}", headers=cast.platform.auth())
        await assert_problem(response, 400, "invalid-parameter", parameter=query.split("=")[0])


# --- routes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/nothing-here",
        "/v1/participants/zz-nobody-test",
        "/v1/schemas/x/1.0",
        "/v1/schemas/takedown-request/9.9",
    ],
)
async def test_not_found(client: Any, db: asyncpg.Connection, path: str) -> None:
    async with stores_nothing(db):
        response = await client.get(path)
        await assert_problem(response, 404, "not-found")


async def test_method_not_allowed(client: Any, db: asyncpg.Connection) -> None:
    async with stores_nothing(db):
        response = await client.delete("/v1/messages")
        await assert_problem(response, 405, "method-not-allowed")
    assert "POST" in response.headers.get("Allow", "")  # RFC 9110 15.5.6


async def test_markers_are_sent_and_not_echoed(client: Any, db: asyncpg.Connection, cast: Cast) -> None:
    """A self-check of the marker search: the markers are in the signed request, not in the answer."""
    request = marked_takedown(cast.hotline, cast.police)
    signed = cast.hotline.sign(request)
    assert MARKER_URL in parse_jws(signed).payload.decode("utf-8")
    assert MARKER_TEXT in parse_jws(signed).payload.decode("utf-8")
    async with stores_nothing(db):
        response = await post_message(client, signed)
        await assert_problem(response, 422, "recipient-does-not-accept", recipient=cast.police.id)


async def test_unknown_template_named_for_later(client: Any, db: asyncpg.Connection, cast: Cast) -> None:
    """A type no template defines (here a court order, which the hub does not carry) is unknown."""
    envelope = new_envelope(
        "court-order", sender=cast.hotline.id, to=[cast.platform.id], body={"text": MARKER_TEXT}
    )
    async with stores_nothing(db):
        response = await post_message(client, cast.hotline.sign(envelope))
        await assert_problem(response, 422, "unknown-template")
