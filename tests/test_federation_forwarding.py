"""Issue 20: a peer hub forwards a message, `POST /v1/federation/messages` on the receiving hub B
(docs/federation.md, section 4): the checks in order with their problems, B's receipt, the hop on B's
timeline, delivery to B's own participant, and idempotency by message id. Hub A is its own database
(the vouching feed is made from it) and its own key; B is an aiohttp app on a database of its own."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from hub.api.app import create_app
from hub.core.hub_identity import HubIdentity
from hub.core.jose import PrivateSigningJwk, PublicJwk, issue_token, parse_jws, sha256_hex
from hub.core.receipt import sign_receipt, verify_receipt
from hub.services import vouching
from hub.settings import Settings
from hub.store.database import connect
from tests.conftest import table_counts, with_database
from tests.factories import Directory, Member, takedown
from tests.test_federation import HUB_A, register_peer

HUB_B = "hub-b.example.eu"
PROBLEM = "urn:referral-hub:problem:"


@pytest_asyncio.fixture
async def hub_b_url(server_dsn: str, template_dsn: str) -> AsyncIterator[str]:
    """Hub B's own database: another clone of the migrated template."""
    name = f"hub_b_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_dsn}"')
        yield with_database(server_dsn, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def hub_settings(hub_id: str, url: str, data_dir: Path) -> Settings:
    data_dir.mkdir(exist_ok=True)
    return Settings(
        database_url=url,
        data_dir=data_dir,
        hub_id=hub_id,
        host="127.0.0.1",
        port=0,
        signing_key_file=data_dir / "hub-signing-key.jwk",
        max_body_bytes=64 * 1024,
        log_level="warning",
    )


@dataclass
class Forwarding:
    """Hub A (its directory and key) forwarding to hub B (an app): a hotline on A, a platform on B."""

    client: Any  # hub B's TestClient
    b: asyncpg.Connection
    hub_a: HubIdentity
    hotline: Member
    platform: Member  # on B, by its local id
    remote_platform: Member  # the same, as the hotline names it: its global id on B

    def envelope(self, **overrides: Any) -> dict[str, Any]:
        return takedown(self.hotline, self.remote_platform, **overrides)

    def receipt_of(self, signed: str, *, key: PrivateSigningJwk | None = None, issuer: str = HUB_A) -> str:
        """Hub A's receipt for a message it accepted from the hotline."""
        payload = parse_jws(signed.encode()).payload
        envelope = json.loads(payload)
        return sign_receipt(
            key or self.hub_a.key,
            hub_id=issuer,
            message_id=uuid.UUID(envelope["id"]),
            message_type=envelope["type"],
            sender=envelope["from"],
            recipients=envelope["to"],
            case_id=uuid.uuid4(),
            payload_sha256=sha256_hex(payload),
            accepted_at=datetime.now(UTC),
        )

    async def forward(
        self, signed: str, receipt: str | None = None, *, caller: Member | None = None
    ) -> tuple[int, dict[str, Any]]:
        if caller is None:
            token = issue_token(self.hub_a.key, issuer=HUB_A, audience=HUB_B, now=int(time.time()))
        else:
            token = caller.token(audience=HUB_B)
        response = await self.client.post(
            "/v1/federation/messages",
            json={"message": signed, "receipt": self.receipt_of(signed) if receipt is None else receipt},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
        )
        return response.status, await response.json()


@pytest_asyncio.fixture
async def forwarding(
    hub_b_url: str, aiohttp_client: Any, db: asyncpg.Connection, tmp_path: Path
) -> AsyncIterator[Forwarding]:
    hub_a = HubIdentity(HUB_A, PrivateSigningJwk.generate("hub-a-key"))
    hotline = await Directory(db).add("de-hotline", "hotline", "DE")
    client = await aiohttp_client(
        create_app(hub_settings(HUB_B, hub_b_url, tmp_path / "hub-b"), background=False)
    )
    async with connect(hub_b_url) as b:
        platform = await Directory(b).add("ie-platform", "platform", "IE")
        await register_peer(b, hub_a)
        feed = await vouching.peer_feed(b, HUB_A, await vouching.own_feed(db, hub_a, int(time.time())))
        await vouching.mirror_feed(b, feed, datetime.now(UTC))
        remote = Member(f"ie-platform@{HUB_B}", "platform", "IE", platform.key, platform.enc)
        yield Forwarding(client, b, hub_a, hotline, platform, remote)


async def hub_b_key(client: Any) -> PublicJwk:
    (key,) = (await (await client.get("/.well-known/jwks.json")).json())["keys"]
    return PublicJwk.from_dict(key)


async def test_hub_b_takes_a_forwarded_message_with_its_receipt_and_records_the_hop(
    forwarding: Forwarding,
) -> None:
    f = forwarding
    signed = f.hotline.sign(f.envelope())
    a_receipt = f.receipt_of(signed)

    status, answer = await f.forward(signed, a_receipt)

    assert status == 202, answer
    payload = parse_jws(signed.encode()).payload
    claims = verify_receipt(
        answer["receipt"],
        issuer=HUB_B,
        keys=[await hub_b_key(f.client)],
        message_id=uuid.UUID(answer["message_id"]),
        payload_sha256=sha256_hex(payload),
    )
    # B reads the ids in its own namespace: the sender is A's, the recipient its own
    assert (claims["from"], claims["to"]) == (f"de-hotline@{HUB_A}", ["ie-platform"])
    row = await f.b.fetchrow(
        "SELECT sender_id, recipients, signed_form FROM messages WHERE id = $1",
        uuid.UUID(answer["message_id"]),
    )
    assert (row["sender_id"], row["recipients"]) == (f"de-hotline@{HUB_A}", ["ie-platform"])
    hop = await f.b.fetchrow(
        "SELECT actor, detail FROM case_events WHERE case_id = $1 AND event = 'message.received_from_hub'",
        uuid.UUID(answer["case_id"]),
    )
    assert hop["actor"] == HUB_A
    assert hop["detail"]["receipt"] == a_receipt
    # B delivers it by the platform's own adapter (here its pull inbox), the signature untouched
    inbox = await f.client.get(
        "/v1/inbox", headers={"Authorization": f"Bearer {f.platform.token(audience=HUB_B)}"}
    )
    (item,) = (await inbox.json())["messages"]
    assert item["message"] == signed
    assert item["receipt"] == answer["receipt"]


async def test_the_same_forwarding_again_gets_the_first_receipt_and_other_bytes_are_a_conflict(
    forwarding: Forwarding,
) -> None:
    f = forwarding
    envelope = f.envelope()
    signed = f.hotline.sign(envelope)
    first = await f.forward(signed)
    before = await table_counts(f.b)

    again = await f.forward(signed)

    assert first[0] == again[0] == 202
    assert again[1]["receipt"] == first[1]["receipt"]
    assert await table_counts(f.b) == before
    hops = "SELECT count(*) FROM case_events WHERE event = 'message.received_from_hub'"
    assert await f.b.fetchval(hops) == 1
    other = f.hotline.sign({**envelope, "created_at": "2026-12-04T10:00:00Z"})
    status, problem = await f.forward(other)
    assert (status, problem["type"]) == (409, PROBLEM + "duplicate-id")
    assert await table_counts(f.b) == before


async def test_each_check_refuses_in_order_with_its_problem_and_stores_nothing(
    forwarding: Forwarding,
) -> None:
    f = forwarding
    genuine = f.hotline.sign(f.envelope())
    impostor = PrivateSigningJwk.generate("impostor")
    before = await table_counts(f.b)
    local_to = f.hotline.sign(takedown(f.hotline, f.platform))  # names B's platform by its local id
    third = Member("ie-platform@hub-c.example.au", "platform", "IE", f.platform.key, f.platform.enc)
    other_digest = f.receipt_of(f.hotline.sign(f.envelope()))
    cases: list[tuple[str, str, str | None, Member | None, int]] = [
        ("not-a-peer", genuine, None, f.platform, 403),  # a participant of B is no peer
        ("malformed-jws", "not a jws", "x", None, 400),
        ("sender-not-vouched", f.hotline.sign(f.envelope(), impostor), None, None, 422),
        ("invalid-hop-receipt", genuine, f.receipt_of(genuine, key=impostor), None, 422),
        ("invalid-hop-receipt", genuine, other_digest, None, 422),  # names another message
        ("invalid-hop-receipt", genuine, f.receipt_of(genuine, issuer="hub-c.example.au"), None, 422),
        ("not-for-this-hub", local_to, None, None, 422),
        ("not-for-this-hub", f.hotline.sign(takedown(f.hotline, third)), None, None, 422),
    ]
    for code, signed, receipt, caller, expected in cases:
        status, problem = await f.forward(signed, receipt, caller=caller)
        assert (status, problem["type"]) == (expected, PROBLEM + code), (code, problem)
    assert await table_counts(f.b) == before
    # and the genuine forwarding, after all those, is taken
    assert (await f.forward(genuine))[0] == 202


@pytest.mark.parametrize("missing", ["message", "receipt"])
async def test_a_forwarding_without_its_message_or_receipt_is_refused(
    forwarding: Forwarding, missing: str
) -> None:
    f = forwarding
    signed = f.hotline.sign(f.envelope())
    body = {"message": signed, "receipt": f.receipt_of(signed)}
    del body[missing]
    token = issue_token(f.hub_a.key, issuer=HUB_A, audience=HUB_B, now=int(time.time()))
    response = await f.client.post(
        "/v1/federation/messages", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    expected = "malformed-jws" if missing == "message" else "invalid-hop-receipt"
    assert (await response.json())["type"] == PROBLEM + expected


async def test_a_caller_that_is_no_peer_is_refused_before_its_body_is_read(forwarding: Forwarding) -> None:
    """Check 1 comes first: a participant's token with a body that is not even JSON is not-a-peer."""
    f = forwarding
    response = await f.client.post(
        "/v1/federation/messages",
        data=b"{not json",
        headers={
            "Authorization": f"Bearer {f.platform.token(audience=HUB_B)}",
            "Content-Type": "application/json",
        },
    )
    assert (response.status, (await response.json())["type"]) == (403, PROBLEM + "not-a-peer")
