"""Checking a participant's directory entry against the hub's audit log (issue 18).

`GET /v1/participants/{id}/log` gives the audit entries of the participant's directory changes, each
with an RFC 9162 inclusion proof to a checkpoint the hub signed. `verify_history` checks the checkpoint
(`hub.core.log_watch.read_checkpoint`: a key of the hub's you trust, this hub's id), each entry's leaf
(recomputed from its fields, as the evidence bundle's verifier does) and its proof, and that every entry
is the participant's own and outside any case. `check_listed_keys` then holds the entry the directory
showed against that history: a key the log never recorded, one recorded with other key material, or one
the log says was revoked but is shown as active, is an alarm. The checkpoint itself is checked against
the ones the caller kept by `hub.core.log_watch.check_advance`, so a log rewritten to hide the change
is caught too.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.core.bundle import leaf_data
from hub.core.jose import InvalidJwkError, PublicJwk
from hub.core.key_chain import listed_key
from hub.core.log_watch import LogAlarm, Seen, read_checkpoint
from hub.core.merkle import leaf_hash, verify_inclusion

ADDED = frozenset({"key.added", "participant.reset"})  # entries that record a key's material


class NotYetLogged(Exception):
    """The log cannot prove this yet: the change is newer than the latest checkpoint (a few seconds)."""


@dataclass
class KeyHistory:
    """What the log proves of one participant's keys."""

    participant_id: str
    seen: Seen
    added: dict[str, str] = field(default_factory=dict)  # kid -> RFC 7638 thumbprint, as logged
    revoked: set[str] = field(default_factory=set)
    pending: int = 0  # entries of the participant no checkpoint covers yet
    entries: list[Mapping[str, Any]] = field(default_factory=list)  # the proven entries, in log order


def verify_history(
    document: Mapping[str, Any], hub_keys: Mapping[str, PublicJwk], hub_id: str, participant_id: str
) -> KeyHistory:
    """The participant's proven key history; LogAlarm if any part of the answer fails its proof."""
    if document.get("participant_id") != participant_id:
        raise LogAlarm(f"the hub answered with the log of another participant than {participant_id!r}")
    pending = int(document.get("not_yet_checkpointed") or 0)
    if not document.get("checkpoint"):
        raise NotYetLogged("the hub has signed no checkpoint yet: ask again in a few seconds")
    seen = read_checkpoint(str(document["checkpoint"]), hub_keys, hub_id)
    head = bytes.fromhex(seen.root_hash)
    history = KeyHistory(participant_id, seen, pending=pending)
    for entry in document.get("entries", []):
        index = _proven(entry, seen.tree_size, head)
        if entry.get("subject") != participant_id or entry.get("case_id") is not None:
            raise LogAlarm(f"audit entry {index} is not a directory change of {participant_id!r}")
        history.entries.append(entry)
        detail = entry.get("detail") or {}
        if entry["event"] in ADDED:
            try:
                history.added[str(detail["kid"])] = PublicJwk.from_dict(detail["jwk"]).thumbprint()
            except (KeyError, TypeError, InvalidJwkError):
                raise LogAlarm(f"audit entry {index} records a key without valid key material") from None
            if entry["event"] == "participant.reset":  # a reset revokes every earlier key
                history.revoked.update(str(kid) for kid in detail.get("revoked") or ())
        elif entry["event"] == "key.revoked":
            history.revoked.add(str(detail.get("kid")))
    return history


def _proven(entry: Mapping[str, Any], size: int, head: bytes) -> int:
    try:
        index = int(entry["leaf_index"])
        leaf = leaf_hash(leaf_data(entry))
        proof = [base64.b64decode(p, validate=True) for p in entry["inclusion_proof"]]
    except (KeyError, ValueError, TypeError):
        raise LogAlarm("an audit entry of the answer is malformed") from None
    if leaf.hex() != entry.get("leaf_hash") or not verify_inclusion(leaf, index, size, proof, head):
        raise LogAlarm(f"audit entry {index} is not in the log the hub signed")
    return index


def check_listed_keys(history: KeyHistory, listed: Sequence[Mapping[str, Any]]) -> None:
    """Every key the directory lists for the participant is the one the log recorded, and none the log
    revoked is shown as usable. NotYetLogged when an unproven key may be a change newer than the
    checkpoint; LogAlarm when the log proves the listing wrong."""
    for key in listed:
        kid = str(key.get("kid"))
        logged = history.added.get(kid)
        if logged is None:
            if history.pending:
                raise NotYetLogged(f"key {kid!r} is not under a checkpoint yet: ask again in a few seconds")
            raise LogAlarm(f"key {kid!r} of {history.participant_id!r} is in no entry of the hub's audit log")
        try:
            shown = listed_key(key).thumbprint()
        except InvalidJwkError:
            raise LogAlarm(f"key {kid!r} is listed without valid key material") from None
        if shown != logged:
            raise LogAlarm(f"key {kid!r} is listed with other key material than the audit log recorded")
        if kid in history.revoked and key.get("status") == "active":
            raise LogAlarm(f"key {kid!r} is listed as active, but the audit log records its revocation")
