"""A delivery round's claim and a batch of finished pushes, one statement each (issue 21, migration 0023).

A round claims across every due destination in one statement, whatever their number; the timeline entry
the claim writes for a parked destination's held delivery is the row `record_event` writes; a batch of
finished pushes is one statement, picks for each push the rows that apply to what it finds (a lost lease:
none; a recipient withdrawn before it was told: only the clock for confirming deletion); and a batch
that fails inside the statement stores nothing, each push then recorded alone so that only the one at
fault fails. Failed pushes likewise (migration 0027): a batch of retries, refusals and dead letters is
one statement, each backed off by the policy's wait for the count the statement finds, parked at the
policy's limit, its dead letter's entry the one `record_event` writes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import asyncpg
import pytest_asyncio

from hub.core.clock import utc_now
from hub.core.hub_identity import TIMELINE_ACTOR
from hub.core.templates import TemplateCatalog
from hub.policies import load_policy_book
from hub.services.intake import Intake, submit_message
from hub.store import deliveries, delivery_failures
from hub.store.database import create_pool
from hub.store.deferred_writes import captured_writes, encoded
from hub.store.deliveries import AttemptRecord, ClaimedDelivery
from hub.store.delivery_failures import Failure, Recorded
from hub.store.events import record_event
from hub.store.finish_and_claim import Claim, Finished, finish_and_claim_batch
from hub.store.queries import query
from tests.factories import Directory, Member, add_with_endpoint, fresh_identity, takedown
from tests.statement_count import Counted

LEASE = timedelta(minutes=1)
KINDS = ("acknowledge", "act")  # the EU DSA clocks a push holds, started once it is delivered


@pytest_asyncio.fixture
async def counted() -> Counted:
    return Counted()


@pytest_asyncio.fixture
async def pool(database_url: str, counted: Counted) -> AsyncIterator[asyncpg.Pool]:
    async def log(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(counted)

    pool = await create_pool(database_url, on_connect=log)
    try:
        yield pool
    finally:
        await pool.close()


@pytest_asyncio.fixture
async def intake(pool: asyncpg.Pool, catalog: TemplateCatalog) -> Intake:
    return Intake(pool=pool, catalog=catalog, hub=fresh_identity(), policies=load_policy_book())


async def platforms(db: asyncpg.Connection, n: int) -> list[Member]:
    return [await add_with_endpoint(db, f"platform-{i}", "platform", "IE") for i in range(n)]


async def send(intake: Intake, hotline: Member, *recipients: Member) -> None:
    for recipient in recipients:
        await submit_message(intake, hotline.sign(takedown(hotline, recipient)).encode(), utc_now())


async def claim_all(pool: asyncpg.Pool, capacity: int = 64, cap: int = 4) -> list[ClaimedDelivery]:
    return await deliveries.claim_due(
        pool,
        now=utc_now(),
        worker="w-test",
        lease=LEASE,
        max_in_flight=cap,
        token=uuid.uuid4(),
        capacity=capacity,
    )


def delivered(claimed: ClaimedDelivery, evidence: str = "evidence") -> tuple[AttemptRecord, str]:
    now = utc_now()
    return AttemptRecord(claimed, "w-test", now, now, "delivered", 200, "HTTP 200"), evidence


async def test_a_round_claims_every_destination_in_one_statement(
    intake: Intake, directory: Directory, db: asyncpg.Connection, counted: Counted
) -> None:
    hotline = await directory.add("hotline-de", "hotline", "DE")
    many = await platforms(db, 5)
    await send(intake, hotline, *many, *many, *many)  # three each
    await counted.taken()
    claimed = await claim_all(intake.pool, capacity=12, cap=2)
    assert (await counted.taken()) == {"claim_due_deliveries": 1}
    per_destination = {p.id: sum(1 for c in claimed if c.recipient_id == p.id) for p in many}
    assert sum(per_destination.values()) == 10  # capped at 2 in flight per destination: 5 x 2 < 12
    assert set(per_destination.values()) == {2}
    assert len(await claim_all(intake.pool, capacity=12, cap=2)) == 0  # all five at their cap
    assert len(await claim_all(intake.pool, capacity=3, cap=10)) == 3  # the worker's capacity holds


async def test_a_held_delivery_is_shown_as_record_event_writes_it(
    intake: Intake, directory: Directory, db: asyncpg.Connection
) -> None:
    hotline = await directory.add("hotline-de", "hotline", "DE")
    [platform] = await platforms(db, 1)
    await send(intake, hotline, platform)
    await db.execute(
        "UPDATE destinations SET parked_at = now(), parked_reason = 'HTTP 401', consecutive_refusals = 3"
        " WHERE participant_id = $1",
        platform.id,
    )
    before = utc_now()
    assert await claim_all(intake.pool) == []  # parked: nothing claimed, the delivery shown held
    made = await db.fetchrow("SELECT * FROM case_events WHERE event = 'delivery.parked'")
    audited = await db.fetchrow("SELECT * FROM audit_entries WHERE event = 'delivery.parked'")
    assert made["occurred_at"] >= before
    async with captured_writes(db) as rows:
        await record_event(
            db,
            made["case_id"],
            made["occurred_at"],
            "delivery.parked",
            TIMELINE_ACTOR,
            subject=platform.id,
            message_id=made["message_id"],
            detail={"reason": "HTTP 401", "refusals": 3},
        )
    [expected] = rows["insert_event"]
    stored = (
        made["case_id"],
        made["occurred_at"],
        made["event"],
        made["actor"],
        made["subject"],
        made["message_id"],
        made["from_state"],
        made["to_state"],
        made["detail"],
        audited["detail"],
    )
    assert stored == expected
    assert (audited["recorded_at"], audited["case_id"], audited["actor"]) == (
        made["occurred_at"],
        made["case_id"],
        TIMELINE_ACTOR,
    )
    assert await claim_all(intake.pool) == []
    assert await db.fetchval("SELECT count(*) FROM case_events WHERE event = 'delivery.parked'") == 1  # once


async def test_finished_pushes_are_one_statement_and_each_writes_what_applies(
    intake: Intake, directory: Directory, db: asyncpg.Connection, counted: Counted
) -> None:
    """Four pushes finish together: one lost its lease (nothing written), one's recipient withdrew
    before it was told (no move to retrieved; of its held clocks only one for confirming deletion, and
    it holds none), two are told and start their two EU DSA clocks."""
    hotline = await directory.add("hotline-de", "hotline", "DE")
    many = await platforms(db, 4)
    await send(intake, hotline, *many)
    claimed = sorted(await claim_all(intake.pool), key=lambda c: c.recipient_id)
    lost, withdrawn, told = claimed[0], claimed[1], claimed[2:]
    await db.execute(
        "UPDATE case_parties SET state = 'withdrawn' WHERE case_id = $1 AND participant_id = $2",
        withdrawn.case_id,
        withdrawn.recipient_id,
    )
    batch = [delivered(replace(lost, lease_token=uuid.uuid4())), delivered(withdrawn)]
    batch += [delivered(c) for c in told]
    await counted.taken()
    assert await deliveries.finish_pushes(intake.pool, batch) == [False, True, True, True]
    assert await counted.taken() == {"finish_pushes": 1}
    states = dict(await db.fetch("SELECT recipient_id, state FROM deliveries"))
    assert [states[c.recipient_id] for c in claimed] == ["in_flight", "delivered", "delivered", "delivered"]
    parties = dict(await db.fetch("SELECT participant_id, state FROM case_parties WHERE role = 'recipient'"))
    assert [parties[c.recipient_id] for c in claimed] == ["queued", "withdrawn", "retrieved", "retrieved"]
    clocks = sorted(tuple(r) for r in await db.fetch("SELECT recipient_id, kind FROM deadlines"))
    assert clocks == sorted((c.recipient_id, k) for c in told for k in KINDS)  # none for the withdrawn
    events = await db.fetch("SELECT subject, event FROM case_events WHERE event <> 'message.accepted'")
    assert [tuple(e) for e in events if e["subject"] == lost.recipient_id] == [
        (lost.recipient_id, "recipient.state_changed")  # queued at intake, nothing since
    ]
    assert sum(1 for e in events if e["event"] == "recipient.state_changed") == 4 + 2
    attempts = await db.fetchval("SELECT count(*) FROM delivery_attempts")
    assert attempts == 3


async def test_a_batch_that_fails_inside_the_statement_stores_nothing_then_only_its_push_fails(
    intake: Intake, directory: Directory, db: asyncpg.Connection, counted: Counted
) -> None:
    hotline = await directory.add("hotline-de", "hotline", "DE")
    many = await platforms(db, 3)
    await send(intake, hotline, *many)
    claimed = sorted(await claim_all(intake.pool), key=lambda c: c.recipient_id)
    doomed = claimed[1].seq
    await db.execute(
        f"""
        CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.delivery_seq = {doomed} THEN RAISE EXCEPTION 'refused by the test trigger'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_one BEFORE INSERT ON delivery_attempts
            FOR EACH ROW EXECUTE FUNCTION refuse_one();
        """
    )
    await counted.taken()
    done = await finish_and_claim_batch(intake.pool, [delivered(c) for c in claimed], a_claim(capacity=0))
    outcomes = done.outcomes
    assert outcomes[0] is True
    assert outcomes[2] is True
    assert isinstance(outcomes[1], asyncpg.RaiseError)
    taken = await counted.taken()
    assert (taken["finish_and_claim"], taken["finish_pushes"]) == (1, 3)  # the batch, then each alone
    states = dict(await db.fetch("SELECT seq, state FROM deliveries"))
    assert [states[c.seq] for c in claimed] == ["delivered", "in_flight", "delivered"]
    told = await db.fetch("SELECT message_id FROM case_events WHERE event = 'message.delivered'")
    assert sorted(r["message_id"] for r in told) == sorted([claimed[0].message_id, claimed[2].message_id])
    assert (
        await db.fetchval("SELECT count(*) FROM deadlines WHERE message_id = $1", claimed[1].message_id) == 0
    )


def failed(claimed: ClaimedDelivery, verdict: str = "retry", status: int = 503) -> AttemptRecord:
    now = utc_now()
    return AttemptRecord(claimed, "w-test", now, now, verdict, status, f"HTTP {status}")


WAITS = (timedelta(seconds=1), timedelta(seconds=2), timedelta(seconds=4))


async def test_failed_pushes_are_one_statement_and_each_does_what_applies(
    intake: Intake, directory: Directory, db: asyncpg.Connection, counted: Counted
) -> None:
    """Five failures recorded together: one lost its lease (nothing written or counted); a server error
    at the destination's second failure (the policy's second wait); a refusal that is the third and
    parks (its delivery shown held); a first refusal that does not; a dead letter whose last try counts
    and backs off (the policy's only wait)."""
    hotline = await directory.add("hotline-de", "hotline", "DE")
    many = await platforms(db, 5)
    await send(intake, hotline, *many)
    lost, retry, parks, refused, dead = sorted(await claim_all(intake.pool), key=lambda c: c.recipient_id)
    await db.execute(
        "UPDATE destinations SET consecutive_failures = 1 WHERE participant_id = $1", retry.recipient_id
    )
    await db.execute(
        "UPDATE destinations SET consecutive_failures = 2, consecutive_refusals = 2"
        " WHERE participant_id = $1",
        parks.recipient_id,
    )
    parking = (False, False, True)
    batch = [
        Failure(failed(replace(lost, lease_token=uuid.uuid4())), "retry", WAITS),
        Failure(failed(retry), "retry", WAITS),
        Failure(failed(parks, "attention", 401), "refused", WAITS, parking),
        Failure(failed(refused, "attention", 403), "refused", WAITS, parking),
        Failure(failed(dead), "dead", (timedelta(seconds=5),), reason="retry budget exhausted"),
    ]
    await counted.taken()
    done = await delivery_failures.finish_failures(intake.pool, batch)
    assert await counted.taken() == {"finish_failures": 1}
    assert done[0] is None
    assert [(r.failures, r.refusals, r.parked, r.wait) for r in done[1:]] == [  # type: ignore[union-attr]
        (2, None, False, WAITS[1]),
        (3, 3, True, None),
        (1, 1, False, WAITS[0]),
        (1, None, False, timedelta(seconds=5)),
    ]
    rows = {r["recipient_id"]: r for r in await db.fetch("SELECT * FROM deliveries")}
    destinations = {r["participant_id"]: r for r in await db.fetch("SELECT * FROM destinations")}
    assert rows[lost.recipient_id]["state"] == "in_flight"
    assert destinations[lost.recipient_id]["consecutive_failures"] == 0
    for claimed, wait in ((retry, WAITS[1]), (refused, WAITS[0])):
        at = batch[[f.record.delivery for f in batch].index(claimed)].record.finished_at
        assert (rows[claimed.recipient_id]["state"], rows[claimed.recipient_id]["due_at"]) == (
            "pending",
            at + wait,
        )
        assert destinations[claimed.recipient_id]["next_attempt_at"] == at + wait
    parked = destinations[parks.recipient_id]
    assert (parked["parked_at"], parked["parked_reason"]) == (batch[2].record.finished_at, "HTTP 401")
    assert rows[parks.recipient_id]["held_since"] == parked["parked_at"]
    assert rows[parks.recipient_id]["due_at"] == batch[2].record.finished_at
    assert rows[dead.recipient_id]["state"] == "dead"
    assert rows[dead.recipient_id]["dead_reason"] == "retry budget exhausted"
    assert destinations[dead.recipient_id]["next_attempt_at"] == batch[4].record.finished_at + timedelta(
        seconds=5
    )
    made = await db.fetchrow("SELECT * FROM case_events WHERE event = 'delivery.dead'")
    async with captured_writes(db) as expected:
        await record_event(
            db,
            dead.case_id,
            batch[4].record.finished_at,
            "delivery.dead",
            TIMELINE_ACTOR,
            subject=dead.recipient_id,
            message_id=dead.message_id,
            detail={"reason": "retry budget exhausted", "attempts": dead.attempt},
        )
    stored = tuple(made[k] for k in ("case_id", "occurred_at", "event", "actor", "subject", "message_id"))
    assert stored == expected["insert_event"][0][:6]
    held = await db.fetch("SELECT subject FROM case_events WHERE event = 'delivery.parked'")
    assert [r["subject"] for r in held] == [parks.recipient_id]
    attempts = await db.fetch("SELECT delivery_seq, verdict FROM delivery_attempts ORDER BY delivery_seq")
    assert sorted(tuple(a) for a in attempts) == sorted(
        (f.record.delivery.seq, f.record.verdict) for f in batch[1:]
    )


async def test_a_failure_batch_that_fails_inside_the_statement_is_retried_alone(
    intake: Intake, directory: Directory, db: asyncpg.Connection, counted: Counted
) -> None:
    hotline = await directory.add("hotline-de", "hotline", "DE")
    many = await platforms(db, 3)
    await send(intake, hotline, *many)
    claimed = sorted(await claim_all(intake.pool), key=lambda c: c.recipient_id)
    doomed = claimed[1].seq
    await db.execute(
        f"""
        CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.delivery_seq = {doomed} THEN RAISE EXCEPTION 'refused by the test trigger'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_one BEFORE INSERT ON delivery_attempts
            FOR EACH ROW EXECUTE FUNCTION refuse_one();
        """
    )
    await counted.taken()
    batch = [Failure(failed(c), "retry", WAITS) for c in claimed]
    done = await finish_and_claim_batch(intake.pool, list(batch), a_claim(capacity=0))
    outcomes = done.outcomes
    assert isinstance(outcomes[1], asyncpg.RaiseError)
    assert [o.failures for o in (outcomes[0], outcomes[2])] == [1, 1]  # type: ignore[union-attr]
    taken = await counted.taken()
    assert (taken["finish_and_claim"], taken["finish_failures"]) == (1, 3)  # the batch, then each alone
    states = dict(await db.fetch("SELECT seq, state FROM deliveries"))
    assert [states[c.seq] for c in claimed] == ["pending", "in_flight", "pending"]
    counts = dict(await db.fetch("SELECT participant_id, consecutive_failures FROM destinations"))
    assert [counts[c.recipient_id] for c in claimed] == [1, 0, 1]  # the doomed one's count undone


async def test_a_round_with_nothing_parked_reads_no_delivery_to_hold(
    intake: Intake, directory: Directory, db: asyncpg.Connection
) -> None:
    """The hold of parked destinations' deliveries starts from the parked destinations: with none, it
    reads no delivery (it scanned every pending push in every round before, migration 0037)."""
    hotline = await directory.add("hotline-de", "hotline", "DE")
    many = await platforms(db, 3)
    await send(intake, hotline, *many, *many)
    async with intake.pool.acquire() as conn, conn.transaction():
        held = await conn.fetchval("SELECT hub_hold_parked(now(), NULL, NULL, 'hub')")
        read = await conn.fetchrow(
            "SELECT seq_scan, coalesce(idx_scan, 0) AS idx_scan FROM pg_stat_xact_user_tables"
            " WHERE relname = 'deliveries'"
        )
    assert held == 0
    assert (read["seq_scan"], read["idx_scan"]) == (0, 0)
    await db.execute("UPDATE destinations SET parked_at = now() WHERE participant_id = $1", many[0].id)
    assert await claim_all(intake.pool) != []  # the others' deliveries still claimed
    held_for = await db.fetch("SELECT DISTINCT recipient_id FROM deliveries WHERE held_since IS NOT NULL")
    assert [r["recipient_id"] for r in held_for] == [many[0].id]  # only the parked one's, both of them
    assert await db.fetchval("SELECT count(*) FROM deliveries WHERE held_since IS NOT NULL") == 2


async def test_the_hubs_sessions_run_without_jit(intake: Intake) -> None:
    """JIT compiling cost a delivery round 60-750 ms on a large backlog (docs/performance.md)."""
    async with intake.pool.acquire() as conn:
        assert await conn.fetchval("SHOW jit") == "off"


async def test_a_batch_of_finished_pushes_writes_its_rows_in_one_call(
    intake: Intake, directory: Directory, db: asyncpg.Connection
) -> None:
    """The rows of every recorded push of a batch (timeline entries, clocks) go to hub_record_rows once,
    not two or three times per push (migration 0041), each kind in the pushes' order."""
    hotline = await directory.add("hotline-de", "hotline", "DE")
    many = await platforms(db, 3)
    await send(intake, hotline, *many)
    claimed = await claim_all(intake.pool)
    async with intake.pool.acquire() as conn, conn.transaction():
        pushes = [await deliveries.push_item(conn, *delivered(c, f"evidence-{c.seq}")) for c in claimed]
        await conn.execute("SET LOCAL track_functions = 'all'")
        rows = await conn.fetch(query("finish_pushes"), encoded(pushes))
        calls = await conn.fetchval(
            "SELECT calls FROM pg_stat_xact_user_functions WHERE funcname = 'hub_record_rows'"
        )
    assert [r["recorded"] for r in rows] == [True, True, True]
    assert calls == 1
    told = await db.fetch(
        "SELECT detail->>'evidence' AS evidence FROM case_events"
        " WHERE event = 'message.delivered' ORDER BY seq"
    )
    assert [r["evidence"] for r in told] == [f"evidence-{c.seq}" for c in claimed]  # in the pushes order
    started = await db.fetchval("SELECT count(*) FROM deadlines")
    assert started == sum(len(c.clocks or ()) for c in claimed) >= 3 * len(KINDS)  # each push's clocks


# -- a finished batch and the claim of what it frees, one statement (step 21.7, migration 0041) ----------
def a_claim(capacity: int = 64, cap: int = 1) -> Claim:
    return Claim(utc_now(), "w-test", LEASE, cap, uuid.uuid4(), capacity)


async def test_a_finished_batch_claims_the_slots_it_frees_in_the_same_statement(
    intake: Intake, directory: Directory, db: asyncpg.Connection, counted: Counted
) -> None:
    """Four destinations, two deliveries each, one in flight each (the cap is 1). One statement records
    a success of the first, a server error of the second, and a success of the third, and claims: the
    first's and the third's next deliveries (their slots are free), not the second's (backed off by the
    failure it just recorded), nor the fourth's (its one slot held by another worker's lease)."""
    hotline = await directory.add("hotline-de", "hotline", "DE")
    many = await platforms(db, 4)
    await send(intake, hotline, *many, *many)
    first = sorted(await claim_all(intake.pool, cap=1), key=lambda c: c.recipient_id)
    assert len(first) == 4
    ok, failing, also_ok, elsewhere = first
    batch: list[Finished] = [delivered(ok), Failure(failed(failing), "retry", WAITS), delivered(also_ok)]
    claim = a_claim(cap=1)
    await counted.taken()
    done = await finish_and_claim_batch(intake.pool, batch, claim)
    assert await counted.taken() == {"finish_and_claim": 1}
    assert done.outcomes[0] is True
    assert done.outcomes[2] is True
    assert isinstance(done.outcomes[1], Recorded)
    assert (done.outcomes[1].failures, done.outcomes[1].wait) == (1, WAITS[0])
    assert done.claimed is not None
    assert sorted(c.recipient_id for c in done.claimed) == [ok.recipient_id, also_ok.recipient_id]
    assert {c.lease_token for c in done.claimed} == {claim.token}
    assert all(c.attempt == 1 and c.seq not in {f.seq for f in first} for c in done.claimed)
    rows = await db.fetch("SELECT recipient_id, state, count(*) AS n FROM deliveries GROUP BY 1, 2")
    states = {(r["recipient_id"], r["state"]): r["n"] for r in rows}
    assert states == {
        (ok.recipient_id, "delivered"): 1,
        (ok.recipient_id, "in_flight"): 1,
        (failing.recipient_id, "pending"): 2,  # its failed one back due after the wait, the other not tried
        (also_ok.recipient_id, "delivered"): 1,
        (also_ok.recipient_id, "in_flight"): 1,
        (elsewhere.recipient_id, "in_flight"): 1,  # the other worker's, under its lease
        (elsewhere.recipient_id, "pending"): 1,
    }
    # what the claim took is what a round would have taken: nothing more is claimable now
    assert await claim_all(intake.pool, cap=1) == []


async def test_a_finished_batch_claims_no_more_than_the_workers_capacity_and_none_at_zero(
    intake: Intake, directory: Directory, db: asyncpg.Connection, counted: Counted
) -> None:
    hotline = await directory.add("hotline-de", "hotline", "DE")
    many = await platforms(db, 3)
    await send(intake, hotline, *many, *many)
    await counted.taken()
    a, b, c = sorted(await claim_all(intake.pool, cap=1), key=lambda d: d.recipient_id)
    done = await finish_and_claim_batch(intake.pool, [delivered(a), delivered(b)], a_claim(capacity=1))
    assert done.outcomes == [True, True]
    assert done.claimed is not None
    assert len(done.claimed) == 1  # two slots free, the worker can start one
    stopping = await finish_and_claim_batch(intake.pool, [delivered(c)], a_claim(capacity=0))
    assert (stopping.outcomes, stopping.claimed) == ([True], [])  # a stopping worker claims nothing
    assert await counted.taken() == {"claim_due_deliveries": 1, "finish_and_claim": 2}
    assert len(await claim_all(intake.pool, cap=1)) == 2  # what was left is still there for a round


async def test_a_finished_batch_that_fails_claims_nothing_then_each_push_is_recorded_alone(
    intake: Intake, directory: Directory, db: asyncpg.Connection, counted: Counted
) -> None:
    """A trigger fails one push inside the statement: nothing of it is stored, the claim included;
    each push is then recorded alone (by the statement that records one, with no claim) and only that
    one fails; a round then claims the freed slots, each delivery once."""
    hotline = await directory.add("hotline-de", "hotline", "DE")
    many = await platforms(db, 3)
    await send(intake, hotline, *many, *many)
    first = sorted(await claim_all(intake.pool, cap=1), key=lambda c: c.recipient_id)
    doomed = first[1].seq
    await db.execute(
        f"""
        CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.delivery_seq = {doomed} THEN RAISE EXCEPTION 'refused by the test trigger'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_one BEFORE INSERT ON delivery_attempts
            FOR EACH ROW EXECUTE FUNCTION refuse_one();
        """
    )
    batch: list[Finished] = [
        delivered(first[0]),
        delivered(first[1]),
        Failure(failed(first[2]), "retry", WAITS),
    ]
    await counted.taken()
    done = await finish_and_claim_batch(intake.pool, batch, a_claim(cap=1))
    assert done.claimed is None  # no claim made: the caller runs a round
    assert done.outcomes[0] is True
    assert isinstance(done.outcomes[1], asyncpg.RaiseError)
    assert isinstance(done.outcomes[2], Recorded)
    assert await counted.taken() == {"finish_and_claim": 1, "finish_pushes": 2, "finish_failures": 1}
    rows = await db.fetch("SELECT seq, state, attempts FROM deliveries ORDER BY seq")
    by_seq = {r["seq"]: (r["state"], r["attempts"]) for r in rows}
    assert [by_seq[c.seq][0] for c in first] == ["delivered", "in_flight", "pending"]
    second = [seq for seq in by_seq if seq not in {c.seq for c in first}]
    assert [by_seq[seq] for seq in second] == [("pending", 0)] * 3  # the undone claim took none of them
    claimed = await claim_all(intake.pool, cap=1)
    assert [c.recipient_id for c in claimed] == [first[0].recipient_id]  # the doomed one's slot still held
    assert claimed[0].attempt == 1
    assert await claim_all(intake.pool, cap=1) == []
