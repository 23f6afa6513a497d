"""The envelope of a message, read from a payload that already passed its template's schema."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from hub.core.clock import parse_rfc3339

NEW_REFERRAL_TYPES = frozenset({"takedown-request", "assistance-request"})


@dataclass(frozen=True)
class Envelope:
    id: UUID
    type: str
    version: str
    sender: str
    to: tuple[str, ...]
    case: UUID | None
    in_reply_to: UUID | None
    created_at: datetime
    body: Mapping[str, Any]
    route: Mapping[str, Any] | None = None
    attestation: Mapping[str, Any] | None = None  # only on an answer the hub attests (`hub.core.attestation`)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Envelope:
        case = payload.get("case")
        reply = payload.get("in_reply_to")
        return cls(
            id=UUID(payload["id"]),
            type=payload["type"],
            version=payload["version"],
            sender=payload["from"],
            to=tuple(payload.get("to", ())),
            case=UUID(case) if case else None,
            in_reply_to=UUID(reply) if reply else None,
            created_at=parse_rfc3339(payload["created_at"]),
            body=payload["body"],
            route=payload.get("route"),
            attestation=payload.get("attestation"),
        )

    @property
    def opens_case(self) -> bool:
        return self.type in NEW_REFERRAL_TYPES and self.case is None

    @property
    def joins_referral(self) -> bool:
        """A further part of a fan-out: a referral naming the case its first part opened, for
        recipients of its own (`hub.core.admission`)."""
        return self.type in NEW_REFERRAL_TYPES and self.case is not None
