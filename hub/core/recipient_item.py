"""The item a recipient receives for one message: the same JSON object on every channel.

A pull inbox lists these items (`GET /v1/inbox`) and a webhook POSTs one as its body, so one integration
reads both: the message exactly as its sender signed it (`message`, a compact JWS or the JSON
serialisation as received), the hub's signed receipt (`receipt`, which names the message's SHA-256), and
the few facts a recipient routes on before verifying (ids, sender, type, version, when accepted). The
facts repeat what the signed message and the receipt say; `hub.client.verify` checks that they agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from hub.core.clock import rfc3339

ITEM_KEYS = ("message_id", "case_id", "from", "type", "version", "accepted_at", "message", "receipt")


def recipient_item(
    *,
    message_id: UUID,
    case_id: UUID,
    sender: str,
    message_type: str,
    version: str,
    accepted_at: datetime,
    signed_form: str,
    receipt: str,
) -> dict[str, Any]:
    return {
        "message_id": str(message_id),
        "case_id": str(case_id),
        "from": sender,
        "type": message_type,
        "version": version,
        "accepted_at": rfc3339(accepted_at),
        "message": signed_form,
        "receipt": receipt,
    }
