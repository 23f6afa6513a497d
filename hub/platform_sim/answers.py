"""What the simulated platform answers, as envelopes to sign (pure: no I/O).

A platform answers a takedown request twice: at once with an `acknowledgement` (the confirmation of
receipt of DSA Art. 16(4), the proof that it was told), and later with a `status-update` carrying its
decision (actioned and how, or declined and why). Both name the case and answer the request
(`in_reply_to`), and go back to whoever sent it. Every text here is fictitious.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from hub.client.envelope import new_envelope
from hub.core.clock import rfc3339

DECLINE_REASON = (
    "The reported item could not be found on this fictitious service when it was reviewed; "
    "please send its exact address if it is still online."
)


class Decision(StrEnum):
    """What the simulator decides about every takedown request it gets."""

    REMOVE = "remove"
    DECLINE = "decline"
    NONE = "none"  # acknowledge only: the request stays undecided, so its clocks keep running


@dataclass(frozen=True)
class Referral:
    """A verified message addressed to the platform: who sent it, in which case, of what type."""

    message_id: str
    case_id: str
    sender: str
    message_type: str


def acknowledgement(referral: Referral, *, platform: str, now: datetime) -> dict[str, Any]:
    body = {"received_at": rfc3339(now), "reference": f"SIM-{referral.message_id[:8].upper()}"}
    return _answer(referral, "acknowledgement", platform, body)


def decision(referral: Referral, decided: Decision, *, platform: str, now: datetime) -> dict[str, Any] | None:
    """The status-update for `decided`, or None when the simulator decides nothing."""
    if decided is Decision.REMOVE:
        body = {"status": "actioned", "action": "removed", "decided_at": rfc3339(now)}
    elif decided is Decision.DECLINE:
        body = {"status": "declined", "decided_at": rfc3339(now), "decline_reason": DECLINE_REASON}
    else:
        return None
    return _answer(referral, "status-update", platform, body)


def _answer(referral: Referral, message_type: str, platform: str, body: Mapping[str, Any]) -> dict[str, Any]:
    return new_envelope(
        message_type,
        sender=platform,
        to=[referral.sender],
        body=body,
        case=referral.case_id,
        in_reply_to=referral.message_id,
    )
