"""Push deliveries in the database: claim, record an outcome, and the operator's dead-letter tools.

A claim leases deliveries to one worker (`lease_token`); an outcome is recorded only while that lease is
still held (`WHERE lease_token = ...`): a worker whose lease expired and was taken over records nothing,
so two workers never both finish one delivery. Every attempt is kept in `delivery_attempts`.

A parked destination is never silent: each delivery it holds gets a `delivery.parked` event on its case's
timeline (`held_since` marks those that have one, so each is told once, and one queued while the
destination is parked is found by the worker's next `hold_parked`), and a `delivery.unparked` one when an
operator resumes the destination.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from hub.core.case_state import RETRIEVABLE, RecipientState
from hub.core.envelope import NEW_REFERRAL_TYPES
from hub.core.global_id import home_hub_of
from hub.core.hub_identity import TIMELINE_ACTOR as HUB_ACTOR
from hub.core.policy import Clock
from hub.store import deadlines
from hub.store.case_keys import Keyring
from hub.store.database import Conn
from hub.store.deferred_writes import captured_writes, encoded, rows_object
from hub.store.events import record_event
from hub.store.queries import query

# The columns of a claimed delivery (`hub_claimed_delivery`, migration 0030), as a claim returns them.
CLAIMED_COLUMNS = (
    "seq",
    "message_id",
    "recipient_id",
    "adapter",
    "attempts",
    "first_attempt_at",
    "lease_token",
    "case_id",
    "sender_id",
    "message_type",
    "version",
    "accepted_at",
    "payload_sha256",
    "signed_form",
    "receipt",
    "endpoint",
    "adapter_config",
    "form_encrypted",
    "clocks",
    "wrapped_key",
    "destination",
)


@dataclass(frozen=True)
class ClaimedDelivery:
    seq: int
    message_id: UUID
    recipient_id: str
    adapter: str
    attempt: int
    first_attempt_at: datetime
    lease_token: UUID
    case_id: UUID
    sender_id: str
    message_type: str
    version: str
    accepted_at: datetime
    payload_sha256: str
    signed_form: bytes
    receipt: str
    endpoint: str | None
    adapter_config: dict[str, Any]
    clocks: list[dict[str, Any]]  # the clocks the delivery starts (`deadlines.clock_to_json`)
    destination: str = ""  # '' the recipient's own destination; else the name of a further one

    @classmethod
    def from_row(cls, row: asyncpg.Record, keyring: Keyring | None = None) -> ClaimedDelivery:
        """From a claim's row (`hub_claimed_delivery`); other columns of the row are not the delivery's."""
        values = {name: row[name] for name in CLAIMED_COLUMNS}
        values["attempt"] = values.pop("attempts")
        encrypted, wrapped = values.pop("form_encrypted"), values.pop("wrapped_key")
        if keyring is not None:
            values["signed_form"] = keyring.open(wrapped, values["signed_form"], encrypted)
        return cls(**values)


@dataclass(frozen=True)
class AttemptRecord:
    delivery: ClaimedDelivery
    worker: str
    started_at: datetime
    finished_at: datetime
    verdict: str
    http_status: int | None
    detail: str
    hop_receipt: str | None = None  # a peer hub's verified receipt for a forwarding (adapter `hub`)


async def due_destinations(
    pool: asyncpg.Pool, now: datetime, limit: int = 100, *, max_in_flight: int = 1_000_000
) -> list[str]:
    """Destinations with claimable work and a free slot under `max_in_flight`, longest-waiting first:
    a participant's own by its id, a further one as `ID/NAME` (`destination_label`)."""
    rows = await pool.fetch(query("due_destinations"), now, limit, max_in_flight)
    return [destination_label(row["recipient_id"], row["name"]) for row in rows]


def destination_label(participant_id: str, name: str) -> str:
    """How a destination is named to a person: the participant's id for its own, `ID/NAME` for a further
    one (no participant id has a '/')."""
    return f"{participant_id}/{name}" if name else participant_id


def parse_destination(label: str) -> tuple[str, str]:
    """(participant id, name) of a `destination_label`."""
    participant_id, _, name = label.partition("/")
    return participant_id, name


async def claim(
    pool: asyncpg.Pool,
    destination: str,
    *,
    now: datetime,
    worker: str,
    lease: timedelta,
    max_in_flight: int,
    token: UUID,
    capacity: int | None = None,
    keyring: Keyring | None = None,
) -> list[ClaimedDelivery]:
    """Lease up to the destination's free in-flight slots and the worker's free `capacity`, oldest
    first; [] if another process is claiming for this destination right now (one statement:
    `hub_claim_for`, migration 0023)."""
    free = max_in_flight if capacity is None else capacity
    participant_id, name = parse_destination(destination)
    rows = await pool.fetch(
        query("claim_deliveries"), participant_id, now, token, worker, lease, max_in_flight, free, name
    )
    return [ClaimedDelivery.from_row(row, keyring) for row in rows]


async def claim_due(
    pool: asyncpg.Pool,
    *,
    now: datetime,
    worker: str,
    lease: timedelta,
    max_in_flight: int,
    token: UUID,
    capacity: int,
    keyring: Keyring | None = None,
    destinations: int = 100,
) -> list[ClaimedDelivery]:
    """A delivery round's claim in one statement (`hub_claim_due_deliveries`, migration 0023): the
    deliveries parked destinations hold shown on their timelines (`hold_parked`), then `claim` for each
    destination `due_destinations` lists, longest-waiting first, until `capacity` is used."""
    rows = await pool.fetch(
        query("claim_due_deliveries"),
        now,
        token,
        worker,
        lease,
        max_in_flight,
        capacity,
        destinations,
        HUB_ACTOR,
    )
    return [ClaimedDelivery.from_row(row, keyring) for row in rows]


async def finish_delivered(pool: asyncpg.Pool, record: AttemptRecord, evidence: str) -> bool:
    """Record a successful push; False if the lease was lost (another worker owns the delivery now).
    The recipient is told now: the legal clocks held on the delivery start."""
    [recorded] = await finish_pushes(pool, [(record, evidence)])
    return recorded


async def finish_pushes(pool: asyncpg.Pool, batch: Sequence[tuple[AttemptRecord, str]]) -> list[bool]:
    """The pushes recorded and their recipients told, in one statement (`hub_finish_pushes`, migration
    0023); for each, whether it was (False: the lease was lost). What a push writes once done depends
    on what the statement finds (the recipient's state), so each outcome's rows are made here,
    by the rules that write them one at a time (`record_event`, `deadlines.start_new_clocks`), and the
    statement picks the ones that apply."""
    async with pool.acquire() as conn:
        pushes = [await push_item(conn, record, evidence) for record, evidence in batch]
        rows = await conn.fetch(query("finish_pushes"), encoded(pushes))
    recorded = {row["seq"]: row["recorded"] for row in rows}
    return [bool(recorded[record.delivery.seq]) for record, _ in batch]


async def push_item(conn: Conn, record: AttemptRecord, evidence: str) -> dict[str, Any]:
    """One push for `hub_finish_pushes`: the delivery's finish, and the rows it writes once done: its
    timeline entry with the hub's signed evidence (and a forwarding's, with the next hub's receipt);
    for a referral, the recipient's move to `retrieved` from each state it may be found in; the clocks
    held on the delivery started (for a recipient withdrawn before it was told, only the one for
    confirming deletion: it owes no decision)."""
    d, at = record.delivery, record.finished_at
    # only the recipient's own destination tells it: a further one (an HMA bank) moves no state
    referral = d.message_type in NEW_REFERRAL_TYPES and not d.destination
    retrieved = str(RecipientState.RETRIEVED)
    async with captured_writes(conn) as told:
        await record_event(
            conn,
            d.case_id,
            at,
            "message.delivered",
            d.recipient_id,
            message_id=d.message_id,
            detail={"evidence": evidence, "destination": d.destination}
            if d.destination
            else {"evidence": evidence},
        )
        peer = home_hub_of(d.recipient_id)
        if record.hop_receipt is not None and peer is not None:  # the next hop, with its hub's evidence
            await record_event(
                conn,
                d.case_id,
                at,
                "message.forwarded",
                peer,
                subject=d.recipient_id,
                message_id=d.message_id,
                detail={"receipt": record.hop_receipt, "payload_sha256": d.payload_sha256},
            )
    moved = {}
    for state in sorted(RETRIEVABLE) if referral else ():
        async with captured_writes(conn) as change:
            await record_event(
                conn,
                d.case_id,
                at,
                "recipient.state_changed",
                d.recipient_id,
                subject=d.recipient_id,
                message_id=d.message_id,
                from_state=state,
                to_state=retrieved,
            )
        moved[state] = rows_object(change)
    held = [deadlines.clock_from_json(c) for c in d.clocks or []]
    withdrawn = str(RecipientState.WITHDRAWN)
    return {
        "finish": {
            "seq": d.seq,
            "lease_token": d.lease_token,
            "at": at,
            "evidence": evidence,
            "http_status": record.http_status,
            "attempt": d.attempt,
            "worker": record.worker,
            "started_at": record.started_at,
            "detail": record.detail,
            "case_id": d.case_id,
            "referral": referral,
            "to_state": retrieved,
            "moves_from": sorted(RETRIEVABLE),
        },
        "told": rows_object(told),
        "moved": moved,
        "clocks": await _started(conn, d, held, at),
        "clocks_when": {
            withdrawn: await _started(conn, d, [c for c in held if c.kind == "confirm_deletion"], at)
        },
    }


async def _started(
    conn: Conn, d: ClaimedDelivery, clocks: Sequence[Clock], at: datetime
) -> dict[str, list[tuple[Any, ...]]]:
    """The rows that start these clocks of the delivery's recipient now (a delivery is finished once, so
    they are new)."""
    async with captured_writes(conn) as rows:
        if clocks:
            await deadlines.start_new_clocks(
                conn,
                case_id=d.case_id,
                message_id=d.message_id,
                recipient=d.recipient_id,
                clocks=clocks,
                told_at=at,
            )
    return rows_object(rows)


async def hold_parked(pool: asyncpg.Pool, now: datetime) -> int:
    """Show on their cases' timelines the deliveries queued for a destination while it is parked (each
    round's claim does it too: `claim_due`; one parked destination costs one indexed look-up)."""
    return await _hold(pool, now, None)


async def _hold(conn: Conn | asyncpg.Pool, at: datetime, destination: str | None) -> int:
    participant_id, name = (None, None) if destination is None else parse_destination(destination)
    held = await conn.fetchval(query("hold_parked"), at, participant_id, HUB_ACTOR, name)
    return int(held or 0)


async def list_destinations(conn: Conn) -> list[dict[str, Any]]:
    """Every push destination, `destination` its `destination_label`."""
    rows = await conn.fetch(query("list_destinations"))
    return [
        {**dict(row.items()), "destination": destination_label(row["participant_id"], row["name"])}
        for row in rows
    ]


async def unpark(conn: Conn, destination: str, now: datetime, operator: str = "operator") -> int | None:
    """Resume a parked destination: its failure and refusal counts reset, and each delivery it held and
    still waiting gets a `delivery.unparked` event on its case's timeline. Returns how many resume, or
    None if there is no such push destination (`destination_label`: `ID` or `ID/NAME`)."""
    participant_id, name = parse_destination(destination)
    async with conn.transaction():
        if await conn.fetchval(query("unpark_destination"), participant_id, name) is None:
            return None
        resumed = 0
        for row in await conn.fetch(query("release_held_deliveries"), participant_id, name):
            if row["state"] not in ("pending", "in_flight"):
                continue  # finished meanwhile (delivered, withdrawn, purged): nothing resumes
            await record_event(
                conn,
                row["case_id"],
                now,
                "delivery.unparked",
                operator,
                subject=row["recipient_id"],
                message_id=row["message_id"],
            )
            resumed += 1
        await conn.execute(query("notify_delivery"))
    return resumed


async def list_deliveries(
    conn: Conn, *, state: str | None = None, recipient: str | None = None, after: int = 0, limit: int = 100
) -> list[dict[str, Any]]:
    rows = await conn.fetch(query("list_deliveries"), state, recipient, after, limit)
    return [dict(row.items()) for row in rows]


async def get_delivery(conn: Conn, seq: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(query("get_delivery"), seq)
    if row is None:
        return None
    view = dict(row.items())
    view["attempts_log"] = [dict(a.items()) for a in await conn.fetch(query("delivery_attempts"), seq)]
    return view


async def requeue(conn: Conn, seqs: Sequence[int], now: datetime, operator: str = "operator") -> list[int]:
    """Give dead deliveries a fresh retry budget; each is recorded on its case's timeline."""
    async with conn.transaction():
        rows = await conn.fetch(query("requeue_dead"), list(seqs), now)
        for row in rows:
            await record_event(
                conn,
                row["case_id"],
                now,
                "delivery.requeued",
                operator,
                subject=row["recipient_id"],
                message_id=row["message_id"],
            )
        if rows:
            await conn.execute(query("notify_delivery"))
    return [row["seq"] for row in rows]


async def dead_deliveries(conn: Conn, recipient: str | None = None) -> list[int]:
    return [row["seq"] for row in await conn.fetch(query("dead_deliveries"), recipient)]


@dataclass(frozen=True)
class ParkNotice:
    """A parking its recipient is to be told of, at its directory contact (None: it has none)."""

    destination: str
    parked_at: datetime
    reason: str | None
    refusals: int
    held: int
    contact_email: str | None
    language: str | None


async def claim_park_notices(pool: asyncpg.Pool) -> list[ParkNotice]:
    """The parkings no one has told their recipient of yet, each claimed once across processes."""
    rows = await pool.fetch(query("claim_park_notices"))
    return [
        ParkNotice(
            destination_label(r["participant_id"], r["name"]),
            r["parked_at"],
            r["parked_reason"],
            int(r["consecutive_refusals"]),
            int(r["held"]),
            r["contact_email"],
            (r["adapter_config"] or {}).get("language"),
        )
        for r in rows
    ]


async def release_park_notice(pool: asyncpg.Pool, notice: ParkNotice) -> None:
    participant_id, name = parse_destination(notice.destination)
    await pool.execute(query("release_park_notice"), participant_id, notice.parked_at, name)


async def delivered_before(pool: asyncpg.Pool, delivery: ClaimedDelivery) -> tuple[UUID, ...]:
    """The messages of the delivery's case delivered to its recipient before it, oldest first."""
    rows = await pool.fetch(
        query("delivered_before"),
        delivery.case_id,
        delivery.recipient_id,
        delivery.message_id,
        delivery.destination,
    )
    return tuple(r["message_id"] for r in rows)
