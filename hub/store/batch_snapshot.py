"""What an intake batch reads before it decides, in one statement (`batch_snapshot` in queries/batch.sql).

A batch of messages needs, before any is decided: which of its ids are stored already (a resubmission is
answered from what was stored), the directory entries and encryption keys of the participants it names,
and, for its answers, the cases they answer with their parties locked, so that concurrent answers on a
case apply one after the other, and the clocks on them an answer could change (so that its meetings
go out with the batch's rows, `deadlines.meet`). Read one query at a time that was three statements per
batch plus four per answer; here it is one per batch. Each part is read into the same values the single
queries give (`messages.identities_of`, `directory_of`, `case_of`, `KeyRecord`), so the decisions cannot
tell the two apart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from hub.core.admission import CaseSnapshot, DirectoryEntry
from hub.store.database import Conn
from hub.store.deadlines import OwedClock
from hub.store.directory import KeyRecord
from hub.store.messages import StoredIdentity, case_of, directory_of, identities_of
from hub.store.queries import query

# The record columns of each array of `batch_snapshot`, in its order (the single queries' names).
_COLUMNS = {
    "identities": ("id", "sender_id", "payload_sha256", "receipt"),
    "directory": ("id", "kind", "country", "accepts", "trusted_flagger", "adapter"),
    "encryption_keys": (
        "kid",
        "participant_id",
        "use",
        "jwk",
        "not_before",
        "not_after",
        "revoked_at",
        "revocation_reason",
        "seq",
        "origin",
        "binding",
        "epoch",
    ),
    "cases": ("id", "opened_by", "closed_at", "jurisdictions", "wrapped_key"),
    "parties": ("case_id", "participant_id", "role", "state", "sees_parts", "kind"),
    "case_messages": ("case_id", "id", "message_type", "sender_id", "recipients"),
    "clocks": ("case_id", "id", "recipient_id", "kind", "rule_id", "due_at"),
}


@dataclass(frozen=True)
class BatchSnapshot:
    identities: dict[UUID, StoredIdentity]
    directory: dict[str, DirectoryEntry]
    encryption_keys: dict[str, list[KeyRecord]]  # every named participant's, [] for one with none
    cases: dict[UUID, CaseSnapshot]  # the answered cases that exist, their parties locked
    case_keys: dict[UUID, bytes]  # their wrapped data keys (none for a case whose key was destroyed)
    clocks: dict[UUID, tuple[OwedClock, ...]]  # each answered case's clocks an answer could change


async def read_snapshot(
    conn: Conn, message_ids: Sequence[UUID], named: Sequence[str], case_ids: Sequence[UUID]
) -> BatchSnapshot:
    """The batch's snapshot; with `case_ids`, inside the caller's transaction (the locks last until it
    ends)."""
    row = await conn.fetchrow(query("batch_snapshot"), list(message_ids), list(named), sorted(set(case_ids)))
    if row is None:
        raise RuntimeError("batch_snapshot returned no row")
    part = {name: [dict(zip(names, r, strict=True)) for r in row[name]] for name, names in _COLUMNS.items()}
    keys: dict[str, list[KeyRecord]] = {i: [] for i in named}
    for key in part["encryption_keys"]:
        # jsonb inside a record comes in binary, past the pool's jsonb codec: sent as text, decoded here
        keys[key["participant_id"]].append(KeyRecord(**{**key, "jwk": json.loads(key["jwk"])}))
    cases: dict[UUID, CaseSnapshot] = {}
    for case in part["cases"]:
        parties = [p for p in part["parties"] if p["case_id"] == case["id"]]
        messages = [m for m in part["case_messages"] if m["case_id"] == case["id"]]
        cases[case["id"]] = case_of(case, parties, messages)
    clocks: dict[UUID, list[OwedClock]] = {case_id: [] for case_id in cases}
    for clock in part["clocks"]:
        clocks[clock["case_id"]].append(
            OwedClock(clock["id"], clock["recipient_id"], clock["kind"], clock["rule_id"], clock["due_at"])
        )
    return BatchSnapshot(
        identities_of(part["identities"]),
        directory_of(part["directory"]),
        keys,
        cases,
        {c["id"]: bytes(c["wrapped_key"]) for c in part["cases"] if c["wrapped_key"] is not None},
        {case_id: tuple(owed) for case_id, owed in clocks.items()},
    )
