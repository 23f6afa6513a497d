"""Building and signing envelopes on the participant's side."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from hub.core.clock import rfc3339, utc_now
from hub.core.jose import PrivateSigningJwk, sign_compact


def new_envelope(
    message_type: str,
    *,
    sender: str,
    to: Sequence[str],
    body: Mapping[str, Any],
    case: str | None = None,
    in_reply_to: str | None = None,
    version: str = "1.0",
) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "type": message_type,
        "version": version,
        "from": sender,
        "to": list(to),
        "created_at": rfc3339(utc_now()),
        "body": dict(body),
    }
    if case is not None:
        envelope["case"] = case
    if in_reply_to is not None:
        envelope["in_reply_to"] = in_reply_to
    return envelope


def complete_envelope(envelope: Mapping[str, Any], sender: str) -> dict[str, Any]:
    """Fill in what a hand-written envelope may leave out: its id, sender and creation time."""
    completed = dict(envelope)
    completed.setdefault("id", str(uuid.uuid4()))
    completed.setdefault("from", sender)
    completed.setdefault("created_at", rfc3339(utc_now()))
    return completed


def sign_message(envelope: Mapping[str, Any], key: PrivateSigningJwk) -> str:
    """A compact JWS whose payload is the envelope's JSON, exactly as it will be stored and forwarded."""
    payload = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return sign_compact(payload, key)
