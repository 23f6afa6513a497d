"""The adapter protocol: a stable name and one `deliver` that reports a typed outcome.

An adapter never raises for a failed delivery: it returns a `DeliveryOutcome` whose verdict the worker
acts on (delivered, retry, attention, permanent). An exception from an adapter is a bug in it; the worker
records it as a retryable failure and carries on with the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol
from uuid import UUID

import aiohttp

from hub.core.clock import Clock
from hub.core.delivery_outcome import DeliveryOutcome
from hub.core.jose import PrivateSigningJwk


@dataclass(frozen=True)
class OutboundMessage:
    """A message to deliver, as the hub stored it: the exact signed form and the hub's receipt."""

    message_id: UUID
    case_id: UUID
    sender: str
    recipient: str
    message_type: str
    version: str
    accepted_at: datetime
    payload_sha256: str
    signed_form: str
    receipt: str
    attempt: int


@dataclass(frozen=True)
class Destination:
    participant_id: str
    endpoint: str | None
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AdapterContext:
    """What adapters share: one HTTP session, the hub's identity and the clock."""

    session: aiohttp.ClientSession
    hub_key: PrivateSigningJwk
    hub_id: str
    clock: Clock


class Adapter(Protocol):
    name: ClassVar[str]

    async def deliver(self, message: OutboundMessage, destination: Destination) -> DeliveryOutcome: ...


class AdapterConfigError(ValueError):
    """A destination's adapter configuration is unusable."""
