"""Hub-attested messages: their wire marking, whose key must have signed a message, and what to call it.

The wire contract. When an answer reaches the hub another way than a signed message (a platform's reply
by e-mail to a notice), the hub records it as a message `from` that participant, signed with the hub's
own key (the protected header's `kid` names a key of the hub's published set, `/.well-known/jwks.json`),
and marks it in the signed payload with an `attestation` member:

    "attestation": {"by": "<hub id>", "channel": "email",
                    "from_address": "<the registered address the reply came from>",
                    "evidence_sha256": "<SHA-256 of the raw e-mail the hub keeps>",
                    "received_at": "<RFC 3339>"}

The member is inside the signed bytes: nobody without the hub's key can add, remove or alter it, and the
hub refuses it on any submission (`hub-only-type`). So the rule every verifier applies (the client
library, the command line, the console, evidence bundles) is one:

- a message with an `attestation` by the hub verifies with the hub's keys, and only with them;
- the hub's own messages (`from` the hub: escalations) verify with the hub's keys;
- any other message verifies with its sender's keys only; the hub's key never speaks for a participant
  unless the message says, in the signed payload, that the hub attests it.

Every surface names a message by `provenance`: "signed by <sender>", "issued by the hub", or "answered by
e-mail from <address>, attested by the hub", never as signed by the participant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CHANNELS = {"email": "e-mail", "coop": "a Coop action"}


class AttestationError(ValueError):
    """A payload carries an `attestation` member that is not one."""


@dataclass(frozen=True)
class Attestation:
    by: str  # the hub that attests
    channel: str  # how the answer reached it
    evidence_sha256: str
    received_at: str
    from_address: str | None = None  # absent on answers recorded before it was part of the marking

    def describe(self) -> str:
        """'answered by e-mail from <address>, attested by the hub'."""
        channel = CHANNELS.get(self.channel, self.channel)
        origin = f" from {self.from_address}" if self.from_address else ""
        return f"answered by {channel}{origin}, attested by the hub"

    def to_json(self) -> dict[str, str]:
        member = {
            "by": self.by,
            "channel": self.channel,
            "evidence_sha256": self.evidence_sha256,
            "received_at": self.received_at,
        }
        if self.from_address is not None:
            member["from_address"] = self.from_address
        return member


def attestation_of(payload: Mapping[str, Any]) -> Attestation | None:
    """The payload's attestation, None if it has none; AttestationError if the member is malformed."""
    member = payload.get("attestation")
    if member is None:
        return None
    if not isinstance(member, Mapping):
        raise AttestationError("the attestation member is not an object")
    # Only `by` decides whose keys verify the message; the hub always writes the other members too
    # (the envelope schema requires them), but a verifier reads what is there.
    fields = {k: member.get(k, "") for k in ("by", "channel", "evidence_sha256", "received_at")}
    address = member.get("from_address")
    if not all(isinstance(v, str) for v in fields.values()) or not isinstance(address, str | None):
        raise AttestationError("the attestation's members must be strings")
    if not fields["by"]:
        raise AttestationError("the attestation names no hub ('by')")
    return Attestation(**fields, from_address=address)


def signed_by_hub(payload: Mapping[str, Any], hub_id: str) -> bool:
    """Whether the hub's keys, not the sender's, must verify this message: the hub's own message, or an
    answer it attests. An attestation by another hub is for that hub's keys: never this one's, never the
    sender's (raises AttestationError)."""
    attestation = attestation_of(payload)
    if attestation is not None:
        if attestation.by != hub_id:
            raise AttestationError(f"the message is attested by '{attestation.by}', not by this hub")
        return True
    return payload.get("from") == hub_id


def provenance(payload: Mapping[str, Any], hub_id: str) -> str:
    """What a verified message is, in the words every surface uses."""
    attestation = attestation_of(payload)
    if attestation is not None:
        return attestation.describe()
    if payload.get("from") == hub_id:
        return "issued by the hub"
    return f"signed by {payload.get('from')}"
