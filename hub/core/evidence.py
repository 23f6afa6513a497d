"""Hub-signed delivery evidence: proof that a recipient was given a message, when, and how.

Like the receipt, a compact JWS by the hub's key over a small JSON object that names the message by id
and by the SHA-256 of its payload, the recipient, the time, the channel (push or pull) and, for a push,
the HTTP status the recipient answered, and, for a further destination of the recipient's (an HMA bank
beside its webhook, `participant_destinations`), that destination's name. It carries no message content
and no endpoint URL.
"""

from __future__ import annotations

import json
from datetime import datetime
from uuid import UUID

from hub.core.clock import rfc3339
from hub.core.jose import PrivateSigningJwk, sign_compact

EVIDENCE_TYPE = "hub-delivery-evidence+jwt"


def sign_delivery_evidence(
    key: PrivateSigningJwk,
    *,
    hub_id: str,
    message_id: UUID,
    payload_sha256: str,
    recipient: str,
    delivered_at: datetime,
    channel: str,
    attempt: int | None = None,
    http_status: int | None = None,
    destination: str | None = None,
) -> str:
    claims: dict[str, object] = {
        "iss": hub_id,
        "message_id": str(message_id),
        "payload_sha256": payload_sha256,
        "recipient": recipient,
        "delivered_at": rfc3339(delivered_at),
        "channel": channel,
    }
    if attempt is not None:
        claims["attempt"] = attempt
    if http_status is not None:
        claims["http_status"] = http_status
    if destination:  # a further destination of the recipient (an HMA bank), not the one that tells it
        claims["destination"] = destination
    payload = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
    return sign_compact(payload, key, {"typ": EVIDENCE_TYPE})
