"""The audit log's pure parts: what an entry's leaf covers, and the hub-signed checkpoint.

A leaf covers the entry's position and every field, serialised canonically (sorted keys, no spaces,
RFC 3339 UTC times), so changing a field, deleting a row (a gap in positions) or moving rows (a
position under another entry) changes a leaf hash. A checkpoint is a compact JWS by the hub over the
tree size, the tree head and the previous checkpoint's size and head: recomputing leaf hashes after
tampering cannot make the signed heads match, and removing a checkpoint breaks the chain.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from hub.core.clock import rfc3339
from hub.core.jose import PrivateSigningJwk, sign_compact
from hub.core.merkle import leaf_hash

CHECKPOINT_TYPE = "hub-audit-checkpoint+jwt"


def entry_bytes(
    leaf_index: int,
    recorded_at: datetime,
    event: str,
    actor: str,
    subject: str | None,
    case_id: UUID | None,
    message_id: UUID | None,
    detail: Mapping[str, Any],
) -> bytes:
    document = {
        "leaf_index": leaf_index,
        "recorded_at": rfc3339(recorded_at),
        "event": event,
        "actor": actor,
        "subject": subject,
        "case_id": None if case_id is None else str(case_id),
        "message_id": None if message_id is None else str(message_id),
        "detail": detail,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_leaf(leaf_index: int, row: Mapping[str, Any]) -> bytes:
    return leaf_hash(
        entry_bytes(
            leaf_index,
            row["recorded_at"],
            row["event"],
            row["actor"],
            row["subject"],
            row["case_id"],
            row["message_id"],
            row["detail"] or {},
        )
    )


def sign_checkpoint(
    key: PrivateSigningJwk,
    *,
    hub_id: str,
    tree_size: int,
    root: bytes,
    signed_at: datetime,
    previous: tuple[int, bytes] | None,
) -> str:
    claims: dict[str, Any] = {
        "iss": hub_id,
        "tree_size": tree_size,
        "root_hash": root.hex(),
        "signed_at": rfc3339(signed_at),
        "previous": None if previous is None else {"tree_size": previous[0], "root_hash": previous[1].hex()},
    }
    payload = json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()
    return sign_compact(payload, key, {"typ": CHECKPOINT_TYPE})
