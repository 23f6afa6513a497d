"""A participant's further delivery destinations (issue 19), beside its own (`participants.adapter`).

Each is added by an `add-destination` binding its participant signed (the caller, `hub.services.bindings`,
verified it) and removed by a `remove-destination` binding, or by the operator, who may take a channel
away but never add one. A removed destination's row stays, with the binding that removed it, so that an
older binding of the same name cannot bring it back (`bound_at`). Every change is an entry of the audit
log, naming the destination by the digest of its document (a configuration may hold an address).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from hub.core.jose import sha256_hex
from hub.store import audit
from hub.store.database import Conn
from hub.store.directory import DirectoryError
from hub.store.queries import query


@dataclass(frozen=True)
class FurtherDestination:
    participant_id: str
    name: str
    adapter: str
    endpoint: str | None
    adapter_config: dict[str, Any]
    carries: tuple[str, ...] | None  # the message types it takes; None every one
    binding: str
    bound_at: datetime
    removed_at: datetime | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> FurtherDestination:
        carries = row["carries"]
        return cls(
            row["participant_id"],
            row["name"],
            row["adapter"],
            row["endpoint"],
            dict(row["adapter_config"] or {}),
            None if carries is None else tuple(carries),
            row["binding"],
            row["bound_at"],
            row["removed_at"],
        )


async def destinations_of(
    conn: Conn | asyncpg.Pool, participant_id: str, *, removed: bool = False
) -> list[FurtherDestination]:
    rows = await conn.fetch(query("destinations_of"), participant_id, removed)
    return [FurtherDestination.from_row(r) for r in rows]


async def add_destination(
    conn: Conn,
    *,
    participant_id: str,
    document: dict[str, Any],
    document_sha256: str,
    carries: Sequence[str] | None,
    binding: str,
    bound_at: datetime,
    at: datetime,
) -> None:
    """Deliver also to this destination (`hub.core.binding.destination_document`), bound by `binding`
    (issued at `bound_at`): refused if one of that name is in use, or was bound or removed later."""
    name = str(document["name"])
    row = await conn.fetchrow(query("lock_destination_row"), participant_id, name)
    if row is not None and row["removed_at"] is None:
        raise DirectoryError(f"'{participant_id}' already has a destination '{name}': remove it first")
    if row is not None and row["bound_at"] >= bound_at:
        raise DirectoryError(
            f"destination '{name}' was bound or removed since this binding was signed: sign a new one"
        )
    await conn.execute(
        query("upsert_destination"),
        participant_id,
        name,
        document["adapter"],
        document["endpoint"],
        document["adapter_config"],
        None if carries is None else list(carries),
        binding,
        bound_at,
        at,
    )
    await audit.append(
        conn,
        at=at,
        event="destination.bound",
        actor=participant_id,
        subject=participant_id,
        detail={
            "name": name,
            "destination_sha256": document_sha256,
            "binding_sha256": sha256_hex(binding.encode()),
        },
    )


async def remove_destination(
    conn: Conn,
    *,
    participant_id: str,
    name: str,
    at: datetime,
    binding: str | None = None,
    bound_at: datetime | None = None,
    reason: str | None = None,
) -> int:
    """Stop delivering to the destination: by the participant's binding or by the operator (`binding`
    None, with a `reason`). Its deliveries not yet made are dead-lettered; returns how many."""
    if bound_at is not None:
        row = await conn.fetchrow(query("lock_destination_row"), participant_id, name)
        if row is not None and row["bound_at"] >= bound_at:
            raise DirectoryError(f"destination '{name}' was bound by a later binding than this removal")
    if await conn.fetchval(query("remove_destination"), participant_id, name, binding, bound_at, at) is None:
        raise DirectoryError(f"'{participant_id}' has no destination '{name}'")
    stopped = await conn.fetch(query("stop_destination_deliveries"), participant_id, name, at)
    detail: dict[str, Any] = {"name": name, "stopped_deliveries": len(stopped)}
    if binding is not None:
        detail["binding_sha256"] = sha256_hex(binding.encode())
    if reason is not None:
        detail["reason"] = reason
    await audit.append(
        conn,
        at=at,
        event="destination.removed",
        actor="operator" if binding is None else participant_id,
        subject=participant_id,
        detail=detail,
    )
    return len(stopped)


async def remove_all(conn: Conn, participant_id: str, at: datetime) -> list[str]:
    """A reset's part: the new identity starts with no further destination."""
    rows = await conn.fetch(query("remove_all_destinations"), participant_id, at)
    for row in rows:
        await conn.fetch(query("stop_destination_deliveries"), participant_id, row["name"], at)
    return [str(r["name"]) for r in rows]
