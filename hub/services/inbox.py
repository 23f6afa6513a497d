"""A recipient's pull inbox: pending deliveries, oldest first, read with a cursor and acknowledged.

Each item (`hub.core.recipient_item`, the same object a webhook POSTs) is the message exactly as its
sender signed it, with the hub's receipt (which names the
message's SHA-256), so the recipient can verify both with a stock JOSE library. Marking an item
retrieved (`ack`) takes it out of the inbox; the first retrieval of a referral moves the recipient's
state in the case from `queued` to `retrieved`, a timeline event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from hub.core import inputs
from hub.core.evidence import sign_delivery_evidence
from hub.core.hub_identity import HubIdentity
from hub.core.recipient_item import recipient_item
from hub.core.refusal import Refusal
from hub.services.cases import party_access
from hub.store import inbox as store
from hub.store.case_keys import Keyring
from hub.store.messages import record_retrieval

MAX_PAGE = 100
MAX_CURSOR = 10**18 - 1  # a delivery sequence number (bigint); 18 digits at most


@dataclass(frozen=True)
class InboxPage:
    items: list[dict[str, Any]]
    cursor: str


def parse_cursor(value: str | None) -> int:
    if value in (None, ""):
        return 0
    after = inputs.parse_decimal(value, 0, MAX_CURSOR)
    if after is None:
        raise Refusal("invalid-parameter", "cursor must be a value the hub returned", parameter="cursor")
    return after


async def read_inbox(
    pool: asyncpg.Pool, recipient: str, after: int, limit: int, keyring: Keyring | None = None
) -> InboxPage:
    rows = await store.inbox_page(pool, recipient, after, limit)
    items = [_item(row, keyring) for row in rows]
    return InboxPage(items=items, cursor=str(rows[-1]["seq"] if rows else after))


async def case_messages(
    pool: asyncpg.Pool, case_id: UUID, caller: str, keyring: Keyring | None = None
) -> list[dict[str, Any]]:
    """The signed messages of a case addressed to the caller, however they were delivered, oldest first,
    each the same item its inbox or webhook gives: a platform that receives by webhook or e-mail reads
    its referrals in its own console too. Only a party may ask (the case page's rule); the messages are
    those the hub delivered to it, none addressed to another party. Reading changes nothing: a pull
    recipient takes a new message from its inbox (that records the retrieval) and finds it here after."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        await party_access(conn, case_id, caller)
        rows = await store.case_messages_to(conn, case_id, caller)
    return [_item(row, keyring) for row in rows]


def _item(row: asyncpg.Record, keyring: Keyring | None) -> dict[str, Any]:
    return recipient_item(
        message_id=row["message_id"],
        case_id=row["case_id"],
        sender=row["sender_id"],
        message_type=row["message_type"],
        version=row["version"],
        accepted_at=row["accepted_at"],
        signed_form=_signed_form(_opened(row, keyring)),
        receipt=row["receipt"],
    )


def _opened(row: asyncpg.Record, keyring: Keyring | None) -> bytes:
    if keyring is None:
        return bytes(row["signed_form"])
    return keyring.open(row["wrapped_key"], row["signed_form"], row["form_encrypted"])


def _signed_form(raw: bytes) -> str:
    """The signed message as text: a compact JWS, or the JSON serialisation exactly as received."""
    return raw.decode("utf-8")


async def acknowledge(
    pool: asyncpg.Pool,
    recipient: str,
    message_ids: Sequence[UUID],
    now: datetime,
    *,
    hub: HubIdentity,
) -> list[str]:
    """Mark messages retrieved; each first retrieval gets the hub's signed delivery evidence."""
    async with pool.acquire() as conn, conn.transaction():
        known = await store.known_deliveries(conn, recipient, message_ids)
        unknown = [str(m) for m in message_ids if m not in known]
        if unknown:
            raise Refusal("unknown-message", "no such message in your inbox", message_ids=unknown)
        retrieved = await store.mark_retrieved(conn, recipient, message_ids, now)
        for row in await store.retrieved_messages(conn, list(retrieved)):
            evidence = sign_delivery_evidence(
                hub.key,
                hub_id=hub.hub_id,
                message_id=row["message_id"],
                payload_sha256=row["payload_sha256"],
                recipient=recipient,
                delivered_at=now,
                channel="pull",
            )
            await store.set_delivery_evidence(conn, retrieved[row["message_id"]], evidence)
            await record_retrieval(
                conn,
                case_id=row["case_id"],
                recipient=recipient,
                message_id=row["message_id"],
                message_type=row["message_type"],
                at=now,
                evidence=evidence,
                channel="pull",
            )
    return [str(m) for m in message_ids if m in retrieved]
