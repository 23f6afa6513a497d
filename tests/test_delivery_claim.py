"""Claiming push deliveries in PostgreSQL: the claim query against the lease rule spelled out below, the
in-flight cap, parked and backing-off destinations, concurrent claims, and stale leases that must record
nothing."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest_asyncio

from hub.core.clock import utc_now
from hub.core.templates import TemplateCatalog
from hub.services.intake import Intake, submit_message
from hub.store import deliveries, delivery_failures
from hub.store.database import create_pool
from hub.store.deliveries import AttemptRecord, ClaimedDelivery
from tests.factories import Directory, Member, add_with_endpoint, fresh_identity, takedown

LEASE = timedelta(seconds=60)
STATES = ("pending", "in_flight", "delivered", "dead", "retrieved")


@pytest_asyncio.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url)
    try:
        yield pool
    finally:
        await pool.close()


@pytest_asyncio.fixture
async def intake(pool: asyncpg.Pool, catalog: TemplateCatalog) -> Intake:
    return Intake(pool=pool, catalog=catalog, hub=fresh_identity())


async def referrals(intake: Intake, sender: Member, recipient: Member, count: int) -> list[int]:
    """Submit `count` takedown requests to `recipient`; the seqs of their push deliveries."""
    at = utc_now()
    for _ in range(count):
        await submit_message(intake, sender.sign(takedown(sender, recipient)).encode(), at)
    rows = await intake.pool.fetch(
        "SELECT seq, channel FROM deliveries WHERE recipient_id = $1 ORDER BY seq", recipient.id
    )
    assert {row["channel"] for row in rows} == {"push"}
    return [row["seq"] for row in rows]


async def claim(
    pool: asyncpg.Pool, destination: str, now: datetime, cap: int = 1000
) -> list[ClaimedDelivery]:
    return await deliveries.claim(
        pool, destination, now=now, worker="w-test", lease=LEASE, max_in_flight=cap, token=uuid.uuid4()
    )


def seqs(claimed: list[ClaimedDelivery]) -> list[int]:
    """The claimed deliveries' seqs, sorted: RETURNING promises no order."""
    return sorted(c.seq for c in claimed)


async def set_delivery(
    conn: asyncpg.Connection | asyncpg.Pool,
    seq: int,
    state: str,
    due_at: datetime | None,
    lease_expires_at: datetime | None,
) -> None:
    token = uuid.uuid4() if state == "in_flight" else None
    await conn.execute(
        "UPDATE deliveries SET state = $2, due_at = $3, lease_expires_at = $4, lease_token = $5"
        " WHERE seq = $1",
        seq,
        state,
        due_at,
        lease_expires_at,
        token,
    )


async def two_parties(db: asyncpg.Connection, directory: Directory) -> tuple[Member, Member]:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await add_with_endpoint(db, "ie-platform-test", "platform", "IE")
    return hotline, platform


# -- the claim query takes exactly what the lease rule allows ----------------------------------------------
def claimable(state: str, due_at: datetime | None, lease_expires_at: datetime | None, now: datetime) -> bool:
    """The rule the claim query (store/queries/delivery.sql) implements: a pending delivery once due, an
    in-flight one once its lease has expired (its worker died), nothing else."""
    if state == "pending":
        return due_at is not None and due_at <= now
    if state == "in_flight":
        return lease_expires_at is not None and lease_expires_at <= now
    return False


def combinations(now: datetime) -> list[tuple[str, datetime | None, datetime | None]]:
    moments = (now - timedelta(minutes=1), now, now + timedelta(minutes=1), None)
    return list(itertools.product(STATES, moments, moments))


async def test_claim_takes_exactly_what_the_lease_rule_allows(
    pool: asyncpg.Pool, intake: Intake, db: asyncpg.Connection, directory: Directory
) -> None:
    hotline, platform = await two_parties(db, directory)
    now = utc_now() + timedelta(hours=1)
    combos = combinations(now)
    seq_list = await referrals(intake, hotline, platform, len(combos))
    stored: dict[int, tuple[str, datetime | None, datetime | None]] = {}
    refused = []
    for seq, combo in zip(seq_list, combos, strict=True):
        try:
            async with db.transaction():
                await set_delivery(db, seq, *combo)
            stored[seq] = combo
        except asyncpg.CheckViolationError:
            refused.append(combo)
            await set_delivery(db, seq, "delivered", None, None)
    # The constraints refuse exactly an in-flight delivery without a lease expiry.
    assert sorted(refused, key=repr) == sorted(
        [c for c in combos if c[0] == "in_flight" and c[2] is None], key=repr
    )
    expected = {seq for seq, (state, due, lease) in stored.items() if claimable(state, due, lease, now)}
    assert expected  # the test compares something
    assert len(expected) < len(stored)

    claimed = await claim(pool, platform.id, now)

    assert set(seqs(claimed)) == expected
    rows = {
        r["seq"]: r for r in await db.fetch("SELECT * FROM deliveries WHERE recipient_id = $1", platform.id)
    }
    token = claimed[0].lease_token
    for seq, (state, due, lease) in stored.items():
        row = rows[seq]
        if seq in expected:
            assert (row["state"], row["lease_token"], row["lease_expires_at"]) == (
                "in_flight",
                token,
                now + LEASE,
            )
            assert (row["attempts"], row["first_attempt_at"], row["leased_by"]) == (1, now, "w-test")
        else:
            assert (row["state"], row["due_at"], row["lease_expires_at"]) == (state, due, lease)
            assert row["attempts"] == 0


async def test_due_destinations_agrees_with_the_lease_rule_for_each_combination(
    pool: asyncpg.Pool, intake: Intake, db: asyncpg.Connection, directory: Directory
) -> None:
    hotline, platform = await two_parties(db, directory)
    now = utc_now() + timedelta(hours=1)
    [seq] = await referrals(intake, hotline, platform, 1)
    checked = 0
    for combo in combinations(now):
        try:
            async with db.transaction():
                await set_delivery(db, seq, *combo)
        except asyncpg.CheckViolationError:
            continue
        due = platform.id in await deliveries.due_destinations(pool, now)
        assert due is claimable(combo[0], combo[1], combo[2], now), combo
        checked += 1
    assert checked == len(STATES) * 16 - 4


# -- the in-flight cap --------------------------------------------------------------------------------------
async def test_claim_takes_no_more_than_the_free_slots(
    pool: asyncpg.Pool, intake: Intake, db: asyncpg.Connection, directory: Directory
) -> None:
    hotline, platform = await two_parties(db, directory)
    all_seqs = await referrals(intake, hotline, platform, 5)
    t0 = utc_now() + timedelta(minutes=1)

    first = await claim(pool, platform.id, t0, cap=2)
    assert seqs(first) == all_seqs[:2]
    assert await claim(pool, platform.id, t0, cap=2) == []  # both slots are taken
    assert seqs(await claim(pool, platform.id, t0, cap=3)) == all_seqs[2:3]


async def test_an_unexpired_lease_holds_a_slot_and_an_expired_one_is_reclaimed(
    pool: asyncpg.Pool, intake: Intake, db: asyncpg.Connection, directory: Directory
) -> None:
    hotline, platform = await two_parties(db, directory)
    d1, d2, d3, d4, _ = await referrals(intake, hotline, platform, 5)
    t0 = utc_now() + timedelta(minutes=1)

    assert seqs(await claim(pool, platform.id, t0, cap=1)) == [d1]
    assert seqs(await claim(pool, platform.id, t0 + timedelta(seconds=30), cap=2)) == [d2]
    # At t0+70 d1's lease (to t0+60) has expired, d2's (to t0+90) has not: one slot of three is busy.
    again = await claim(pool, platform.id, t0 + timedelta(seconds=70), cap=3)
    assert seqs(again) == [d1, d3]
    by_seq = {c.seq: c for c in again}
    assert (by_seq[d1].attempt, by_seq[d3].attempt) == (2, 1)
    assert by_seq[d1].first_attempt_at == t0  # the retry budget still counts from the first attempt
    assert seqs(await claim(pool, platform.id, t0 + timedelta(seconds=100), cap=3)) == [d2]
    assert seqs(await claim(pool, platform.id, t0 + timedelta(seconds=100), cap=4)) == [d4]


# -- parked and backing-off destinations -----------------------------------------------------------------
async def test_a_parked_destination_is_not_claimed_until_unparked(
    pool: asyncpg.Pool, intake: Intake, db: asyncpg.Connection, directory: Directory
) -> None:
    hotline, platform = await two_parties(db, directory)
    [seq] = await referrals(intake, hotline, platform, 1)
    now = utc_now() + timedelta(minutes=1)
    await db.execute(
        "UPDATE destinations SET parked_at = $2, parked_reason = 'HTTP 401' WHERE participant_id = $1",
        platform.id,
        now,
    )
    assert await deliveries.due_destinations(pool, now + timedelta(days=1)) == []
    assert await claim(pool, platform.id, now + timedelta(days=1)) == []

    assert await deliveries.unpark(db, platform.id, now) is not None
    assert await deliveries.due_destinations(pool, now) == [platform.id]
    assert seqs(await claim(pool, platform.id, now)) == [seq]


async def test_a_backing_off_destination_is_not_claimed_before_its_next_attempt(
    pool: asyncpg.Pool, intake: Intake, db: asyncpg.Connection, directory: Directory
) -> None:
    hotline, platform = await two_parties(db, directory)
    [seq] = await referrals(intake, hotline, platform, 1)
    now = utc_now() + timedelta(minutes=1)
    resume = now + timedelta(seconds=30)
    await db.execute(
        "UPDATE destinations SET next_attempt_at = $2 WHERE participant_id = $1", platform.id, resume
    )

    before = resume - timedelta(microseconds=1)
    assert await deliveries.due_destinations(pool, before) == []
    assert await claim(pool, platform.id, before) == []
    assert await deliveries.due_destinations(pool, resume) == [platform.id]
    assert seqs(await claim(pool, platform.id, resume)) == [seq]


# -- concurrent claims ------------------------------------------------------------------------------------
async def test_concurrent_claims_for_one_destination_never_share_a_delivery(
    pool: asyncpg.Pool, intake: Intake, db: asyncpg.Connection, directory: Directory
) -> None:
    hotline, platform = await two_parties(db, directory)
    await referrals(intake, hotline, platform, 12)
    now = utc_now() + timedelta(minutes=1)
    for round_ in range(12):
        moment = now + round_ * (LEASE + timedelta(seconds=1))  # every earlier lease has expired
        results = await asyncio.gather(*(claim(pool, platform.id, moment, cap=3) for _ in range(4)))
        claimed = [seq for result in results for seq in seqs(result)]
        assert len(claimed) == len(set(claimed)), results
        assert len(claimed) == 3  # one claim took all free slots; the others found none
        live = await db.fetchval(
            "SELECT count(*) FROM deliveries WHERE state = 'in_flight' AND lease_expires_at > $1", moment
        )
        assert live == 3


# -- a stale lease records nothing --------------------------------------------------------------------------
async def snapshot(db: asyncpg.Connection, platform: str) -> dict[str, Any]:
    destination = await db.fetchrow("SELECT * FROM destinations WHERE participant_id = $1", platform)
    assert destination is not None
    return {
        "deliveries": [dict(r.items()) for r in await db.fetch("SELECT * FROM deliveries ORDER BY seq")],
        "attempts": await db.fetchval("SELECT count(*) FROM delivery_attempts"),
        "events": await db.fetchval("SELECT count(*) FROM case_events"),
        "parties": [dict(r.items()) for r in await db.fetch("SELECT * FROM case_parties ORDER BY 1, 2")],
        "destination": dict(destination.items()),
    }


def attempt(claimed: ClaimedDelivery, at: datetime, verdict: str, status: int | None) -> AttemptRecord:
    return AttemptRecord(
        delivery=claimed,
        worker="w-stale",
        started_at=at,
        finished_at=at,
        verdict=verdict,
        http_status=status,
        detail=f"HTTP {status}",
    )


async def test_a_stale_lease_cannot_finish_a_delivery_another_worker_reclaimed(
    pool: asyncpg.Pool, intake: Intake, db: asyncpg.Connection, directory: Directory
) -> None:
    hotline, platform = await two_parties(db, directory)
    await referrals(intake, hotline, platform, 1)
    t0 = utc_now() + timedelta(minutes=1)
    [stale] = await claim(pool, platform.id, t0)
    later = t0 + LEASE + timedelta(seconds=1)
    [fresh] = await claim(pool, platform.id, later)
    assert fresh.seq == stale.seq
    assert fresh.lease_token != stale.lease_token
    before = await snapshot(db, platform.id)

    assert (
        await deliveries.finish_delivered(pool, attempt(stale, later, "delivered", 200), "evidence") is False
    )
    assert (
        await delivery_failures.finish_retry(
            pool, attempt(stale, later, "retry", 503), (timedelta(seconds=1),)
        )
        is None
    )
    assert (
        await delivery_failures.finish_refused(
            pool, attempt(stale, later, "attention", 401), (True,), (timedelta(seconds=1),)
        )
        is None
    )
    assert await delivery_failures.finish_dead(pool, attempt(stale, later, "retry", 503), "budget") is False
    assert await delivery_failures.finish_dead(pool, attempt(stale, later, "permanent", 404), "gone") is False

    assert await snapshot(db, platform.id) == before  # nothing stored, nothing counted
    # The worker that holds the lease still records its outcome.
    assert await deliveries.finish_delivered(pool, attempt(fresh, later, "delivered", 200), "evidence")
    row = await db.fetchrow("SELECT state, evidence, lease_token FROM deliveries WHERE seq = $1", fresh.seq)
    assert row is not None
    assert (row["state"], row["evidence"], row["lease_token"]) == ("delivered", "evidence", None)
    assert await db.fetchval("SELECT count(*) FROM delivery_attempts") == 1


async def test_a_finished_delivery_cannot_be_finished_again(
    pool: asyncpg.Pool, intake: Intake, db: asyncpg.Connection, directory: Directory
) -> None:
    hotline, platform = await two_parties(db, directory)
    await referrals(intake, hotline, platform, 1)
    t0 = utc_now() + timedelta(minutes=1)
    [claimed] = await claim(pool, platform.id, t0)
    assert await deliveries.finish_delivered(pool, attempt(claimed, t0, "delivered", 200), "evidence")
    before = await snapshot(db, platform.id)
    assert await deliveries.finish_delivered(pool, attempt(claimed, t0, "delivered", 200), "other") is False
    assert await delivery_failures.finish_dead(pool, attempt(claimed, t0, "permanent", 410), "gone") is False
    assert await snapshot(db, platform.id) == before
    assert await claim(pool, platform.id, t0 + timedelta(days=1)) == []
