"""A platform's answer that reached the hub another way than a signed message, as the envelope the hub
attests on its behalf (pure).

Two channels bring such answers: an e-mail reply to a notice (`hub.mailin`) and a ROOST Coop action
callback (`hub.services.coop_callbacks`). Each reads its input into one `Reading` (what was answered) and
names the evidence it keeps (the SHA-256 of the raw e-mail, of the raw callback body); `attested_payload`
turns that into the one envelope both record through the hub's issuer (`hub.services.issuer`), marked
with its `attestation` (`hub.core.attestation`, the wire contract). The message id is derived from the
evidence, the answered message and the recipient (UUID v5 in the channel's namespace), so the same
e-mail or callback received again is the same message, and is recorded once.

What each answer becomes:

- acknowledged: an `acknowledgement`, received when the notice was delivered (else when answered);
- removed: a `status-update`, actioned, removed;
- declined: a `status-update`, declined, with the reason (10 to 5,000 characters, the template's bounds);
- deleted: a `deletion-confirmation` of all data (a withdrawal's answer; admission refuses it elsewhere).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from hub.core.attestation import Attestation
from hub.core.clock import rfc3339

MIN_REASON = 10
MAX_REASON = 5000
CHANNEL_NAMESPACES = {
    "email": uuid.uuid5(uuid.NAMESPACE_URL, "urn:referral-hub:mail-in"),
    "coop": uuid.uuid5(uuid.NAMESPACE_URL, "urn:referral-hub:coop-callback"),
}


class Answer(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    REMOVED = "removed"
    DELETED = "deleted"
    DECLINED = "declined"
    UNRECOGNISED = "unrecognised"


ANSWERS = frozenset(a.value for a in Answer if a is not Answer.UNRECOGNISED)


@dataclass(frozen=True)
class Reading:
    answer: Answer
    reason: str | None = None


@dataclass(frozen=True)
class AnsweredNotice:
    """The message answered and who answers it: the recipient, its case, the case's originator (whom the
    answer goes to) and when the notice reached the recipient."""

    message_id: UUID
    recipient_id: str
    case_id: UUID
    originator: str
    delivered_at: datetime | None


@dataclass(frozen=True)
class Evidence:
    """What the hub keeps of the answer as it arrived: its channel, the SHA-256 of the raw bytes, when."""

    channel: str
    sha256: str
    received_at: datetime
    from_address: str | None = None  # e-mail only: the registered address it came from


def _body(reading: Reading, notice: AnsweredNotice, now: str) -> tuple[str, dict[str, Any]]:
    if reading.answer is Answer.ACKNOWLEDGED:  # received when the notice reached the recipient
        received = rfc3339(notice.delivered_at) if notice.delivered_at else now
        return "acknowledgement", {"received_at": received}
    if reading.answer is Answer.REMOVED:
        return "status-update", {"status": "actioned", "action": "removed", "decided_at": now}
    if reading.answer is Answer.DELETED:
        return "deletion-confirmation", {"deleted_at": now, "scope": "all-data"}
    if reading.answer is Answer.DECLINED:
        return "status-update", {"status": "declined", "decided_at": now, "decline_reason": reading.reason}
    raise ValueError("an unrecognised answer is no answer: it is never attested")


def attested_payload(
    hub_id: str, notice: AnsweredNotice, reading: Reading, evidence: Evidence
) -> dict[str, Any]:
    """The answer as an envelope the hub signs on the recipient's behalf, with its attestation."""
    now = rfc3339(evidence.received_at)
    message_type, body = _body(reading, notice, now)
    namespace = CHANNEL_NAMESPACES[evidence.channel]
    return {
        "id": str(uuid.uuid5(namespace, f"{evidence.sha256}|{notice.message_id}|{notice.recipient_id}")),
        "type": message_type,
        "version": "1.0",
        "from": notice.recipient_id,
        "to": [notice.originator],
        "case": str(notice.case_id),
        "in_reply_to": str(notice.message_id),
        "created_at": now,
        "body": body,
        "attestation": Attestation(
            hub_id, evidence.channel, evidence.sha256, now, evidence.from_address
        ).to_json(),
    }
