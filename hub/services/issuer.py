"""The one way the hub issues a message: built by the hub, signed with its key, admitted like any other.

The hub writes messages of two kinds:

- its own, `from` the hub: escalations (a reminder before a legal deadline, a negative evidence after
  it, `hub.services.escalation`) and clock results for a peer hub's participants
  (`hub.services.clock_reports`);
- answers it attests on a participant's behalf: an answer that reached the hub another way than a
  signed message (a platform's e-mail reply, `hub.mailin`). `from` names the participant; the
  `attestation` member names the hub, the channel and the evidence the hub keeps.

(A message a peer hub forwards, even one the peer issued itself, is taken by intake's `record_forwarded`,
not here: `hub.services.federation`.) Whatever the kind, the
message is checked against its template (the hub never signs a message its own templates refuse), signed
with the hub's key (`HubIdentity`), and recorded by intake's one path (`record_issued`): `admit()`, the
legal clocks, the receipt, storage, deliveries and the timeline, exactly as for a participant's message.
So a hub-issued message cannot do to a case what the admission rules do not allow.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from hub.core.hub_identity import HubIdentity
from hub.core.jose import sha256_hex
from hub.services.intake import Accepted, Intake, record_issued, validated_envelope
from hub.store import messages
from hub.store.database import Conn


class NotTheHubsMessage(ValueError):
    """The payload is neither the hub's own (`from` the hub) nor attested by this hub."""


def payload_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes the hub signs: compact JSON, in the order the payload was built."""
    return json.dumps(payload, separators=(",", ":")).encode()


class Issuer:
    """`issue`, bound to intake, for whoever issues messages and needs nothing else of intake (the clock
    worker and its escalations): the hub's identity, and the one way to issue."""

    def __init__(self, intake: Intake) -> None:
        self._intake = intake

    @property
    def hub(self) -> HubIdentity:
        return self._intake.hub

    async def issue(self, payload: dict[str, Any], at: datetime, conn: Conn | None = None) -> Accepted:
        return await issue(self._intake, payload, at, conn)


async def issue(intake: Intake, payload: dict[str, Any], at: datetime, conn: Conn | None = None) -> Accepted:
    """Sign and record a message of the hub's. On `conn`, inside the caller's transaction (the clock
    worker's); else in a transaction of its own. Raises Refusal as intake does (an answer that does not
    fit the case, a payload its template refuses), and `NotTheHubsMessage`."""
    hub = intake.hub
    attestation = payload.get("attestation")
    attested = isinstance(attestation, dict) and attestation.get("by") == hub.hub_id
    if payload.get("from") != hub.hub_id and not attested:
        raise NotTheHubsMessage("the hub issues its own messages and answers it attests, nothing else")
    if payload.get("from") == hub.hub_id and attestation is not None:
        raise NotTheHubsMessage("the hub attests answers of participants, never its own messages")
    envelope = validated_envelope(intake.catalog, payload)
    signed_bytes = payload_bytes(payload)
    signed = messages.SignedMessage(
        envelope, hub.kid, hub.sign(signed_bytes).encode(), sha256_hex(signed_bytes), at
    )
    return await record_issued(intake, signed, conn)
