"""Pull: the recipient fetches its messages from `GET /v1/inbox` (long-poll) and acknowledges them.

Nothing is pushed: the message is placed in the recipient's inbox in the same transaction that accepts
it, so the worker never schedules a pull delivery. The adapter still stands in the registry like the
others, so that a directory entry names it and its configuration is validated the same way; it takes no
configuration. If it is ever asked to deliver, the truthful answer is that the message is already in the
inbox, waiting to be retrieved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from adapters.base import AdapterContext, Destination, OutboundMessage, no_extra_keys
from hub.core.delivery_outcome import DeliveryOutcome, Verdict


@dataclass(frozen=True)
class PullConfig:
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], endpoint: str | None) -> PullConfig:
        no_extra_keys(data, set())
        return cls()


class PullAdapter:
    name: ClassVar[str] = "pull"
    config_type: ClassVar[type[PullConfig]] = PullConfig
    pushes: ClassVar[bool] = False

    def __init__(self, context: AdapterContext) -> None:
        self._context = context

    async def deliver(self, message: OutboundMessage, destination: Destination) -> DeliveryOutcome:
        return DeliveryOutcome(Verdict.DELIVERED, "held in the recipient's pull inbox")
