"""Factories: plain functions and a small helper with overridable defaults. All data is fictitious."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from hub.client.envelope import new_envelope, sign_message
from hub.core.clock import rfc3339, utc_now
from hub.core.jose import PrivateEncryptionJwk, PrivateSigningJwk, b64url_encode, issue_token
from hub.core.sealing import seal
from hub.store import directory

DEFAULT_ACCEPTS = {
    "hotline": ["takedown-request", "assistance-request"],
    "platform": ["takedown-request"],
    "support-service": ["assistance-request"],
    "law-enforcement": [],
    "regulator": [],
}


@dataclass
class Member:
    id: str
    kind: str
    country: str
    key: PrivateSigningJwk
    enc: PrivateEncryptionJwk
    extra_keys: list[PrivateSigningJwk] = field(default_factory=list)

    def sign(self, envelope: dict[str, Any], key: PrivateSigningJwk | None = None) -> str:
        return sign_message(envelope, key or self.key)

    def token(self, *, audience: str = "test-hub", now: int | None = None, **kwargs: Any) -> str:
        moment = int(time.time()) if now is None else now
        return issue_token(self.key, issuer=self.id, audience=audience, now=moment, **kwargs)

    def auth(self, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**kwargs)}"}


class Directory:
    """Registers fictitious participants straight into a test database, as an operator would."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(
        self,
        participant_id: str,
        kind: str = "platform",
        country: str = "IE",
        *,
        accepts: Sequence[str] | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> Member:
        key = PrivateSigningJwk.generate(f"{participant_id}-sig-{uuid.uuid4().hex[:6]}")
        enc = PrivateEncryptionJwk.generate(f"{participant_id}-enc-{uuid.uuid4().hex[:6]}")
        await directory.add_participant(
            self.conn,
            participant_id=participant_id,
            name=f"Fictitious {kind} {participant_id}",
            kind=kind,
            country=country,
            endpoint=None,
            accepts=DEFAULT_ACCEPTS[kind] if accepts is None else accepts,
        )
        await directory.add_key(
            self.conn,
            participant_id=participant_id,
            jwk=key.public().to_dict(),
            not_before=not_before,
            not_after=not_after,
        )
        await directory.add_key(self.conn, participant_id=participant_id, jwk=enc.public().to_dict())
        return Member(participant_id, kind, country, key, enc)


def sealed_for(*members: Member, plaintext: bytes = b'{"channel":"via-hotline"}') -> dict[str, Any]:
    return {
        "sealed": [
            {
                "to": m.id,
                "kid": m.enc.kid,
                "alg": "X25519-SEALEDBOX",
                "ciphertext": b64url_encode(seal(plaintext, m.enc.public())),
            }
            for m in members
        ]
    }


def takedown_body(*recipients: Member, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "intimate-image",
        "minor_depicted": "no",
        "content": [{"url": "https://photos.example.com/p/test-0001", "platform_item_id": "test-0001"}],
        "non_consent_statement": {"affirmed": True, "text": "The depicted adult did not consent to this."},
        "illegality": {
            "explanation": "An intimate image of an identifiable adult was published without consent.",
            "laws": [{"jurisdiction": "EU", "citation": "Directive (EU) 2024/1385, Art. 5"}],
        },
        "accuracy_statement": {"affirmed": True, "text": "We believe in good faith this notice is accurate."},
        "authorisation": {
            "signatory": "authorised-representative",
            "method": "hotline-attestation",
            "signed_at": rfc3339(utc_now()),
            "reference": "TEST-0001",
        },
        "contact": sealed_for(*recipients),
        "jurisdictions": ["EU"],
    }
    body.update(overrides)
    return body


def takedown(sender: Member, *recipients: Member, **overrides: Any) -> dict[str, Any]:
    return new_envelope(
        "takedown-request",
        sender=sender.id,
        to=[r.id for r in recipients],
        body=takedown_body(*recipients, **overrides),
    )


def reply(
    message_type: str, sender: Member, to: Member, case_id: str, in_reply_to: str | None, body: dict[str, Any]
) -> dict[str, Any]:
    return new_envelope(
        message_type, sender=sender.id, to=[to.id], body=body, case=case_id, in_reply_to=in_reply_to
    )


def acknowledgement(sender: Member, to: Member, case_id: str, in_reply_to: str) -> dict[str, Any]:
    return reply("acknowledgement", sender, to, case_id, in_reply_to, {"received_at": rfc3339(utc_now())})


def removal(sender: Member, to: Member, case_id: str, in_reply_to: str) -> dict[str, Any]:
    body = {"status": "actioned", "action": "removed", "decided_at": rfc3339(utc_now())}
    return reply("status-update", sender, to, case_id, in_reply_to, body)


def jose(body: str) -> dict[str, Any]:
    return {"data": body.encode(), "headers": {"Content-Type": "application/jose"}}


def dumps(value: Any) -> str:
    return json.dumps(value)


async def add_with_endpoint(
    conn: asyncpg.Connection,
    participant_id: str,
    kind: str = "platform",
    country: str = "IE",
    endpoint: str = "http://127.0.0.1:9/hook",
    *,
    accepts: Sequence[str] | None = None,
) -> Member:
    """Like `Directory.add`, for a participant with a push endpoint: messages to it become push
    deliveries (channel 'push', adapter 'webhook') instead of waiting in its pull inbox."""
    key = PrivateSigningJwk.generate(f"{participant_id}-sig-{uuid.uuid4().hex[:6]}")
    enc = PrivateEncryptionJwk.generate(f"{participant_id}-enc-{uuid.uuid4().hex[:6]}")
    await directory.add_participant(
        conn,
        participant_id=participant_id,
        name=f"Fictitious {kind} {participant_id}",
        kind=kind,
        country=country,
        endpoint=endpoint,
        accepts=DEFAULT_ACCEPTS[kind] if accepts is None else accepts,
    )
    await directory.add_key(conn, participant_id=participant_id, jwk=key.public().to_dict())
    await directory.add_key(conn, participant_id=participant_id, jwk=enc.public().to_dict())
    return Member(participant_id, kind, country, key, enc)
