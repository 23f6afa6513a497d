"""Watching the hub's audit log from outside: remember the checkpoints seen, and accept a later one
only with a consistency proof from the last (RFC 9162 section 2.1.4), as Certificate Transparency
monitors do.

A hub that rewrites an old entry, drops one, or shows one participant a different log than another
must then sign two tree heads that no consistency proof joins: whoever kept the earlier checkpoint
(`hub keys check-log --state FILE`, run by any participant, a regulator or another hub) sees it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hub.core.audit import CHECKPOINT_TYPE
from hub.core.jose import JoseError, PublicJwk, parse_jws, verify_signature
from hub.core.merkle import verify_consistency


class LogAlarm(Exception):
    """The log cannot be trusted as shown: a bad checkpoint, or history that changed."""


@dataclass(frozen=True)
class Seen:
    tree_size: int
    root_hash: str  # hex
    checkpoint: str

    def to_json(self) -> dict[str, Any]:
        return {"tree_size": self.tree_size, "root_hash": self.root_hash, "checkpoint": self.checkpoint}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Seen:
        return cls(int(data["tree_size"]), str(data["root_hash"]), str(data["checkpoint"]))


def read_checkpoint(signed: str, hub_keys: Mapping[str, PublicJwk], hub_id: str) -> Seen:
    """The checkpoint's tree size and head, if one of `hub_keys` signed it for `hub_id`."""
    try:
        jws = parse_jws(signed)
        signature = jws.signatures[0]
        if signature.protected.get("typ") != CHECKPOINT_TYPE:
            raise LogAlarm(f"not a checkpoint (typ {CHECKPOINT_TYPE} expected)")
        key = hub_keys.get(signature.kid)
        if key is None:
            raise LogAlarm(
                f"the checkpoint is signed by key {signature.kid!r}, not one of the hub's you trust"
            )
        verify_signature(jws, signature, key)
        claims = json.loads(jws.payload)
    except (JoseError, ValueError) as exc:
        raise LogAlarm(f"the checkpoint does not verify: {exc}") from None
    if claims.get("iss") != hub_id:
        raise LogAlarm(f"the checkpoint is of hub {str(claims.get('iss'))[:60]!r}, not {hub_id!r}")
    return Seen(int(claims["tree_size"]), str(claims["root_hash"]), signed)


def check_advance(before: Seen, after: Seen, proof: Sequence[str]) -> None:
    """Raise `LogAlarm` unless the log of `after` extends the log of `before` (the proof: base64)."""
    if after.tree_size < before.tree_size:
        before, after = after, before  # an older head: it must be a prefix of the one kept
    try:
        hashes = [base64.b64decode(p, validate=True) for p in proof]
        first, second = bytes.fromhex(before.root_hash), bytes.fromhex(after.root_hash)
    except ValueError:
        raise LogAlarm("the consistency proof is not base64 hashes") from None
    if not verify_consistency(before.tree_size, after.tree_size, hashes, first, second):
        raise LogAlarm(
            f"the log of {after.tree_size} entries does not extend the log of {before.tree_size} you saw: "
            "its history was rewritten, or you and others are shown different logs (split view)"
        )
