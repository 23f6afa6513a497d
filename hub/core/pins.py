"""Pinning a peer's identity on first use, as SSH and Signal do, so that a reset is an alarm.

A participant's identity is its epoch and the root key of that epoch (`hub.core.key_chain.Chain`): the
key the operator registered after checking its fingerprint, or the key of a `reset`. Later keys chain
from that root by the participant's own bindings, which the client checks every time. What the chain
cannot show is a change of root: an operator (or anyone with the database) who resets a participant
starts a new identity whose keys chain perfectly from the new root. So a client remembers the identity
it first used for each peer, and refuses every key of a different one (`apply_pin`) until a person has
compared the new root's fingerprint with the peer out of band and accepted it (`hub keys trust`).
An older epoch than the one pinned is refused as well: a directory rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.core.binding import thumbprint_fingerprint


@dataclass(frozen=True)
class Identity:
    epoch: int
    root: str  # RFC 7638 thumbprint of the epoch's root key

    @property
    def fingerprint(self) -> str:
        return thumbprint_fingerprint(self.root)

    def to_json(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "root": self.root}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Identity:
        return cls(int(data["epoch"]), str(data["root"]))


def identity_of(jwks: Mapping[str, Any]) -> Identity | None:
    """The identity a `hub.core.key_chain.trusted_jwks` answer shows, or None if it has no root."""
    root = jwks.get("root")
    return None if not isinstance(root, str) else Identity(int(jwks.get("epoch", 0)), root)


def pin_conflict(participant_id: str, pinned: Identity | None, shown: Identity | None) -> str | None:
    """Why the identity shown is not the one pinned (None: it is, or nothing was pinned yet)."""
    if pinned is None or shown == pinned:
        return None
    if shown is None:
        return f"{participant_id} has no registered root key now, but you pinned {pinned.fingerprint}"
    if shown.epoch < pinned.epoch:
        return (
            f"the directory shows an older identity of {participant_id} (epoch {shown.epoch}) than the one "
            f"you pinned (epoch {pinned.epoch}): it was rolled back"
        )
    return (
        f"{participant_id} is not the identity you pinned: its keys were reset (epoch {pinned.epoch} -> "
        f"{shown.epoch}, root key {shown.fingerprint}). Compare that fingerprint with {participant_id} "
        f"out of band, then: hub keys trust {participant_id} --fingerprint '<fingerprint>'"
    )


def apply_pin(participant_id: str, jwks: Mapping[str, Any], pinned: Identity | None) -> dict[str, Any]:
    """`jwks` (a `trusted_jwks` answer) with every key refused if the identity is not the pinned one."""
    reason = pin_conflict(participant_id, pinned, identity_of(jwks))
    return dict(jwks) if reason is None else refuse_all(jwks, reason)


def refuse_all(jwks: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """`jwks` with none of its keys trusted, each refused for `reason`, which becomes its `alarm`."""
    refused = dict(jwks.get("refused", {}))
    keys = [k for k in jwks.get("keys", []) if isinstance(k, Mapping)]
    refused.update({str(k.get("kid")): reason for k in keys})
    encryption = list(jwks.get("refused_encryption_keys", []))
    encryption += [
        str(k.get("kid")) for k in keys if k.get("crv") == "X25519" and k.get("status", "active") == "active"
    ]
    return {**jwks, "keys": [], "refused": refused, "refused_encryption_keys": encryption, "alarm": reason}
