"""The adapter protocol: how the hub reaches a recipient, behind one interface.

An adapter has a stable `name` (what a participant's directory entry names), a frozen `config_type`
whose `from_mapping` validates a destination's configuration (refusing a bad one with
`AdapterConfigError` when the operator registers it, not at the first delivery), says whether it
`pushes` (webhook, e-mail: the delivery worker calls `deliver`) or not (pull: the message waits in the
recipient's inbox, placed there in the transaction that accepted it), and one `deliver` that reports a
typed outcome.

`deliver` never raises for a failed delivery: it returns a `DeliveryOutcome` whose verdict the worker
acts on (delivered, retry, attention, permanent). An exception from an adapter is a bug in it; the worker
records it as a retryable failure and carries on with the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, Self
from uuid import UUID

import aiohttp

from hub.core.clock import Clock
from hub.core.delivery_outcome import DeliveryOutcome
from hub.core.hub_identity import HubIdentity
from hub.core.jose import PublicJwk


@dataclass(frozen=True)
class NoticeClock:
    """A legal clock running against the recipient, as a notice states it: `starts` when this delivery
    starts it (its due time then counted from now, the earliest the delivery can finish: never later
    than the real one), else already running on the case."""

    kind: str  # hub.core.policy.CLOCK_KINDS
    jurisdiction: str
    legal_basis: str
    due_at: datetime
    starts: bool


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
    clocks: tuple[NoticeClock, ...] = ()  # filled for adapters that show them (`shows_clocks`)
    # the earlier messages of the case delivered to this recipient, oldest first (filled for
    # `shows_clocks` adapters too: an e-mail notice threads under the notices before it)
    earlier: tuple[UUID, ...] = ()


@dataclass(frozen=True)
class Destination:
    participant_id: str
    endpoint: str | None
    config: Mapping[str, Any] = field(default_factory=dict)


# A peer hub's signing keys valid now, as this hub's directory holds them (the `hub` adapter checks the
# peer's receipts with them); given by the hub, so no adapter reads the store.
PeerKeys = Callable[[str], Awaitable[Sequence[PublicJwk]]]


@dataclass(frozen=True)
class BankedContent:
    """One content a hash bank holds for a recipient (adapter `hma`): what it was banked from, and the
    bank's own id for it, which removing it takes."""

    case_id: UUID
    message_id: UUID
    item: int  # the content item's index in the request
    bank: str
    content_id: str


class BankLedger(Protocol):
    """What the hub keeps of what a bank adapter banked, so that a withdrawal can remove it and a retry
    does not bank it twice; given by the hub (hub/store/bank_contents.py), so no adapter reads the store."""

    async def banked(self, recipient: str, case_id: UUID) -> list[BankedContent]: ...

    async def record(self, recipient: str, content: BankedContent, at: datetime) -> None: ...

    async def removed(self, recipient: str, content: BankedContent, at: datetime) -> None: ...


@dataclass(frozen=True)
class AdapterContext:
    """What adapters share: one HTTP session, the hub's identity and the clock, the peer hubs' keys, and
    the ledger of what bank adapters banked."""

    session: aiohttp.ClientSession
    hub: HubIdentity
    clock: Clock
    peer_keys: PeerKeys | None = None
    bank_ledger: BankLedger | None = None


class AdapterConfigError(ValueError):
    """A destination's adapter configuration is unusable."""


class AdapterConfig(Protocol):
    """A frozen dataclass that validates itself from a destination's stored configuration."""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], endpoint: str | None) -> Self: ...


class Adapter(Protocol):
    name: ClassVar[str]
    pushes: ClassVar[bool]

    @property
    def config_type(self) -> type[AdapterConfig]: ...

    async def deliver(self, message: OutboundMessage, destination: Destination) -> DeliveryOutcome: ...


AdapterFactory = Callable[[AdapterContext], Adapter]


def no_extra_keys(data: Mapping[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise AdapterConfigError(f"unknown configuration key(s): {', '.join(extra)}")
