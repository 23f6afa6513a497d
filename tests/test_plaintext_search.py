"""The hub stores and forwards sealed fields as ciphertext only: after a whole flow, the plaintext of every
sealed field is nowhere in the database and in no log line, while each recipient opens its copy.

The search reads every column of every table of the test database (from `information_schema`), as text,
for each marker in clear, in hexadecimal, and in base64 / base64url at each of the three alignments a
substring can take (a compact JWS carries its payload base64url-encoded, so a value stored in a JWS is in
the database only in that form). That the search finds what is there is shown twice: on a table made for
it, and in the flow, where the sender's id is found inside the hub's receipts (compact JWS).
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
import structlog

from hub.api.app import create_app
from hub.api.keys import HUB_KEY, POOL
from hub.client.envelope import new_envelope
from hub.client.verify import verify_inbox_item
from hub.core.clock import rfc3339
from hub.core.jose import b64url_decode
from hub.core.sealing import unseal
from hub.log import configure_logging
from hub.settings import Settings
from hub.store.audit import sequence_and_checkpoint
from tests.factories import (
    Api,
    Directory,
    FakeClock,
    Member,
    acknowledgement,
    information_request,
    removal,
    sealed_for,
    takedown,
)

# Distinctive values, one per sealed field, so that a leak names its field.
CONTACT = "SEALEDcontactQx7vK2pW9"
SIGNATURE = "SEALEDsignatureMz4tR8cJ1"
APPEAL = "SEALEDappealBn6yH3sL5"
ATTACHMENT = "SEALEDattachmentVd2kF9gT7"
SUMMARY = "SEALEDsummaryWp5jN1xC8"
VICTIM_CONTACT = "SEALEDvictimcontactHs3qZ6mE4"
SEALED_MARKERS = (CONTACT, SIGNATURE, APPEAL, ATTACHMENT, SUMMARY, VICTIM_CONTACT)


# -- the search -------------------------------------------------------------------------------------------
def encodings(marker: str) -> dict[str, str]:
    """How the marker's bytes can appear in a stored value: as is, in hex, and base64 / base64url at
    each alignment (only the characters that depend on the marker's bytes alone)."""
    data = marker.encode()
    found = {"text": marker, "hex": data.hex()}
    for offset in range(3):
        shifted = b"\0" * offset + data
        first, end = -(-8 * offset // 6), 8 * (offset + len(data)) // 6
        found[f"base64url+{offset}"] = base64.urlsafe_b64encode(shifted).decode()[first:end]
        found[f"base64+{offset}"] = base64.b64encode(shifted).decode()[first:end]
    return found


# One query per column, the identifiers quoted by PostgreSQL (format %I); a bytea column is read both as
# its bytes (escape) and as hex, every other column as its text form.
COLUMN_PROBES = """
SELECT c.table_schema || '.' || c.table_name || '.' || c.column_name AS place,
       format('SELECT DISTINCT n FROM %I.%I, unnest($1::text[]) AS n WHERE position(n IN %s) > 0',
              c.table_schema, c.table_name,
              CASE WHEN c.data_type = 'bytea'
                   THEN format('encode(%I, ''escape'') || '' '' || %I::text', c.column_name, c.column_name)
                   ELSE format('%I::text', c.column_name) END) AS probe
FROM information_schema.columns c
JOIN information_schema.tables t
  ON (t.table_catalog, t.table_schema, t.table_name) = (c.table_catalog, c.table_schema, c.table_name)
WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1
"""


async def find_in_database(conn: asyncpg.Connection, *markers: str) -> dict[str, set[str]]:
    """For each marker found, the columns (schema.table.column) holding it in any encoding."""
    needles = {text: marker for marker in markers for text in encodings(marker).values()}
    found: dict[str, set[str]] = {}
    probes = await conn.fetch(COLUMN_PROBES)
    assert len(probes) > 50, "the search sees too few columns: is it reading the test database?"
    for row in probes:
        for hit in await conn.fetch(row["probe"], list(needles)):
            found.setdefault(needles[hit["n"]], set()).add(row["place"])
    return found


def found_in(text: str, *markers: str) -> set[str]:
    return {m for m in markers if any(form in text for form in encodings(m).values())}


# -- the logs ---------------------------------------------------------------------------------------------
@dataclass
class Logs:
    """Everything the hub's loggers print during a test: its structlog lines (rendered by the hub's own
    configuration, at debug level, into `lines` instead of stderr), stdlib records (aiohttp's access and
    server logs) and anything else written to stdout or stderr."""

    lines: io.StringIO
    capsys: pytest.CaptureFixture[str]
    caplog: pytest.LogCaptureFixture

    def text(self) -> str:
        out, err = self.capsys.readouterr()
        records = [f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in self.caplog.records]
        return "\n".join([self.lines.getvalue(), out, err, *records])


@contextmanager
def capturing_logs(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Iterator[Logs]:
    saved = structlog.get_config()
    configure_logging("debug")  # the hub's processors and JSON renderer, at the most verbose level
    lines = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=lines))
    caplog.set_level(logging.DEBUG)
    try:
        yield Logs(lines, capsys, caplog)
    finally:
        structlog.configure(**saved)


@pytest.fixture
def hub_logs(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Iterator[Logs]:
    with capturing_logs(capsys, caplog) as logs:
        yield logs


# -- the flow ---------------------------------------------------------------------------------------------
def sealed_json(value: dict[str, Any], *to: Member) -> dict[str, Any]:
    return sealed_for(*to, plaintext=json.dumps(value).encode())


def opened(sealed: dict[str, Any], member: Member) -> dict[str, Any]:
    """The recipient's own copy of a sealed value, opened with its private X25519 key."""
    [copy] = [c for c in sealed["sealed"] if c["to"] == member.id]
    assert copy["kid"] == member.enc.kid
    value: dict[str, Any] = json.loads(unseal(b64url_decode(copy["ciphertext"]), member.enc))
    return value


async def received(api: Api, member: Member, message_id: str) -> dict[str, Any]:
    """The envelope of one inbox item, verified as its recipient does (sender's and hub's signatures)."""
    [item] = [i for i in await api.inbox(member) if i["message_id"] == message_id]
    sender = await (await api.client.get(f"/v1/participants/{item['from']}")).json()
    hub_jwks = await (await api.client.get("/.well-known/jwks.json")).json()
    return verify_inbox_item(item, sender["jwks"], hub_jwks).envelope


async def test_no_sealed_plaintext_in_the_database_or_the_logs(
    settings: Settings, directory: Directory, db: asyncpg.Connection, aiohttp_client: Any, hub_logs: Logs
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    liaison = await directory.add("nl-police-test", "law-enforcement", "NL")
    support = await directory.add("de-support-test", "support-service", "DE")
    clock = FakeClock()
    app = create_app(settings, clock=clock, background=False)
    api = Api(await aiohttp_client(app), clock)

    # The hotline refers, the victim's contact and signature sealed to the platform.
    authorisation = {
        "signatory": "depicted-individual",
        "method": "electronic-signature",
        "signed_at": rfc3339(clock.now),
        "reference": "TEST-0001",
        "signature": sealed_json({"name": SIGNATURE}, platform),
    }
    request = takedown(
        hotline,
        platform,
        contact=sealed_json({"email": f"{CONTACT}@example.org", "name": CONTACT}, platform),
        authorisation=authorisation,
    )
    case_id = (await api.accepted(hotline, request))["case_id"]
    assert await api.share(hotline, case_id, liaison) == 201

    # The platform gets it, verifies both signatures and opens its copies: the plaintext round-trips.
    envelope = await received(api, platform, request["id"])
    assert opened(envelope["body"]["contact"], platform)["name"] == CONTACT
    assert opened(envelope["body"]["authorisation"]["signature"], platform) == {"name": SIGNATURE}
    response = await api.client.post(
        "/v1/inbox/ack", json={"message_ids": [request["id"]]}, headers=platform.auth(now=clock.ts())
    )
    assert response.status == 200
    await api.accepted(platform, acknowledgement(platform, hotline, case_id, request["id"]))
    decision = removal(platform, hotline, case_id, request["id"])
    await api.accepted(platform, decision)

    # The uploader's appeal, sealed to the hotline, passed on by the platform.
    appeal = new_envelope(
        "counter-notice",
        sender=platform.id,
        to=[hotline.id],
        case=case_id,
        in_reply_to=decision["id"],
        body={
            "received_at": rfc3339(clock.now),
            "grounds": "consent-claimed",
            "summary": sealed_json({"summary": APPEAL}, hotline),
            "reinstatement_planned": False,
        },
    )
    await api.accepted(platform, appeal)
    assert opened((await received(api, hotline, appeal["id"]))["body"]["summary"], hotline) == {
        "summary": APPEAL
    }

    # The liaison's production order, answered with evidence sealed to the liaison.
    order = information_request(liaison, platform, case_id)
    await api.accepted(liaison, order)
    answer = new_envelope(
        "information-response",
        sender=platform.id,
        to=[liaison.id],
        case=case_id,
        in_reply_to=order["id"],
        body={
            "answers": ["See the sealed attachment."],
            "attachments": sealed_json({"text": ATTACHMENT}, liaison),
        },
    )
    await api.accepted(platform, answer)
    evidence = (await received(api, liaison, answer["id"]))["body"]["attachments"]
    assert opened(evidence, liaison) == {"text": ATTACHMENT}

    # An assistance request to a support service, the victim's account and contact sealed to it.
    assistance = new_envelope(
        "assistance-request",
        sender=hotline.id,
        to=[support.id],
        body={
            "services": ["emotional-support"],
            "urgency": "routine",
            "languages": ["de"],
            "country_of_residence": "DE",
            "consent_to_share": True,
            "summary": sealed_json({"summary": SUMMARY}, support),
            "contact": sealed_json({"phone": VICTIM_CONTACT}, support),
        },
    )
    await api.accepted(hotline, assistance)
    body = (await received(api, support, assistance["id"]))["body"]
    assert opened(body["summary"], support) == {"summary": SUMMARY}
    assert opened(body["contact"], support) == {"phone": VICTIM_CONTACT}

    # Every case view, and the audit log sequenced and checkpointed, as the hub's housekeeping does.
    for viewer in (hotline, platform, liaison):
        await api.case(viewer, case_id)
    assert await sequence_and_checkpoint(app[POOL], app[HUB_KEY], settings.hub_id, clock.now) is not None

    found = await find_in_database(db, hotline.id, *SEALED_MARKERS)
    assert "public.messages.receipt" in found.pop(hotline.id)  # found, base64url-encoded in a JWS
    assert found == {}
    logs = hub_logs.text()
    assert '"event": "message.accepted"' in logs  # the hub's log lines were captured
    assert found_in(logs, *SEALED_MARKERS) == set()


# -- the search itself ------------------------------------------------------------------------------------
@pytest.mark.parametrize("offset", [0, 1, 2])
def test_every_encoding_of_a_marker_is_found_in_a_longer_value_at_any_alignment(offset: int) -> None:
    marker = "SEALEDprobeAb1"
    stored = b"x" * offset + marker.encode() + b"tail"
    for encoded in (base64.urlsafe_b64encode(stored), base64.b64encode(stored), stored.hex().encode()):
        assert found_in(encoded.decode().rstrip("="), marker) == {marker}
    assert found_in(base64.urlsafe_b64encode(b"unrelated" * 3).decode(), marker) == set()


async def test_the_database_search_reads_every_kind_of_column(db: asyncpg.Connection) -> None:
    markers = [f"SEALEDprobe{kind}Z9" for kind in ("Text", "Bytea", "Jsonb", "Array", "Jws")]
    await db.execute(
        "CREATE TABLE leak_probes (t text, b bytea, j jsonb, a text[], jws text, binary_blob bytea)"
    )
    jws_payload = base64.urlsafe_b64encode(json.dumps({"x": markers[4]}).encode()).decode().rstrip("=")
    await db.execute(
        "INSERT INTO leak_probes VALUES ($1, $2, $3, $4, $5, $6)",
        f"before {markers[0]} after",
        b"\x00\xff" + markers[1].encode() + b"\x01",
        json.dumps({"deep": [{"value": markers[2]}]}),
        ["a", markers[3]],
        f"eyJhbGciOiJFZERTQSJ9.{jws_payload}.c2ln",
        b"\x00" + b"nothing here",
    )

    found = await find_in_database(db, *markers, "SEALEDabsentQ0")

    assert found == {
        markers[0]: {"public.leak_probes.t"},
        markers[1]: {"public.leak_probes.b"},
        markers[2]: {"public.leak_probes.j"},
        markers[3]: {"public.leak_probes.a"},
        markers[4]: {"public.leak_probes.jws"},
    }
