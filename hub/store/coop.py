"""ROOST Coop action callbacks as evidence: which delivery a callback answers, and each callback kept.

Only callbacks whose Coop signature verified reach this module (`hub.services.coop_callbacks`). Each is
recorded once per raw body and platform (Coop retries); its timeline note, if any, is written in the same
transaction. The raw body is encrypted with its case's data key (`hub.core.vault`), so the purge shreds
it with the case (`purge.purge_case`); without a keyring (tools and tests without a storage key) it is
stored as given, like messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from hub.store.case_keys import Keyring, encrypt_for_case
from hub.store.database import Conn
from hub.store.events import record_event
from hub.store.queries import query


@dataclass(frozen=True)
class CoopDestination:
    adapter: str
    config: dict[str, Any]


@dataclass(frozen=True)
class CallbackTarget:
    case_id: UUID
    originator: str
    delivered_at: datetime | None
    purged: bool


@dataclass(frozen=True)
class CoopCallback:
    id: UUID
    received_at: datetime
    recipient_id: str
    case_id: UUID
    message_id: UUID
    coop_action_id: str
    raw: bytes
    raw_sha256: str
    verdict: str
    recorded_message_id: UUID | None = None


@dataclass(frozen=True)
class PriorCallback:
    id: UUID
    verdict: str
    recorded_message_id: UUID | None


async def destination_of(conn: Conn, participant_id: str) -> CoopDestination | None:
    row = await conn.fetchrow(query("coop_destination"), participant_id)
    if row is None:
        return None
    return CoopDestination(row["adapter"], dict(row["adapter_config"] or {}))


async def callback_target(conn: Conn, message_id: UUID, recipient_id: str) -> CallbackTarget | None:
    row = await conn.fetchrow(query("coop_callback_target"), message_id, recipient_id)
    if row is None:
        return None
    return CallbackTarget(row["case_id"], row["opened_by"], row["delivered_at"], row["purged_at"] is not None)


async def find_callback(conn: Conn, raw_sha256: str, recipient_id: str) -> PriorCallback | None:
    row = await conn.fetchrow(query("find_coop_callback"), raw_sha256, recipient_id)
    if row is None:
        return None
    return PriorCallback(row["id"], row["verdict"], row["recorded_message_id"])


async def record_callback(
    conn: Conn, callback: CoopCallback, keyring: Keyring | None, note: tuple[str, dict[str, object]] | None
) -> bool:
    """Store the callback (encrypted when a keyring is given) and its timeline note (an event name and
    its detail: codes and ids only); False if this very callback was stored already."""
    async with conn.transaction():
        stored = callback.raw
        if keyring is not None:
            stored = await encrypt_for_case(
                conn, keyring, callback.case_id, callback.raw, callback.received_at
            )
        inserted = await conn.fetchval(
            query("insert_coop_callback"),
            callback.id,
            callback.received_at,
            callback.recipient_id,
            callback.case_id,
            callback.message_id,
            callback.coop_action_id,
            stored,
            keyring is not None,
            callback.raw_sha256,
            len(callback.raw),
            callback.verdict,
            callback.recorded_message_id,
        )
        if inserted is None:
            return False
        if note is not None:
            event, detail = note
            await record_event(
                conn,
                callback.case_id,
                callback.received_at,
                event,
                callback.recipient_id,
                subject=callback.recipient_id,
                message_id=callback.message_id,
                detail={"channel": "coop", "coop_callback_id": str(callback.id), **detail},
            )
    return True


async def open_callback(conn: Conn, keyring: Keyring, callback_id: UUID) -> bytes:
    """The kept callback body as received. `ShreddedError` once purged; KeyError if there is none."""
    row = await conn.fetchrow(query("get_coop_callback_raw"), callback_id)
    if row is None:
        raise KeyError(str(callback_id))
    return keyring.open(row["wrapped_key"], row["raw"], row["raw_encrypted"])
