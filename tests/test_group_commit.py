"""Group commit: concurrent submissions share a transaction, and each still gets its own answer.

The mechanics are tested on their own (batches form only while a commit is in flight, each caller gets
its own result or error); then intake through them against a real database: a refusal in the middle of
a batch leaves the others accepted, a duplicate id in the same batch is told apart from a resubmission,
and a failure while writing one message (a trigger in the test database refuses its row) undoes the
batch, which is then recorded message by message so that only the message at fault fails.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import timedelta

import asyncpg
import pytest_asyncio

from hub.core.clock import utc_now
from hub.core.refusal import Refusal
from hub.core.templates import TemplateCatalog
from hub.policies import load_policy_book
from hub.services.batcher import Batcher
from hub.services.intake import Accepted, Intake, submit_message
from hub.store import deliveries
from hub.store.database import create_pool
from hub.store.deliveries import AttemptRecord
from tests.factories import Directory, Member, add_with_endpoint, fresh_identity, takedown


class Recorder:
    """A batch function that records the batches it was given and answers from a table of outcomes."""

    def __init__(self, fail: set[int] | None = None, delay: float = 0.01) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail or set()
        self.delay = delay

    async def __call__(self, items: Sequence[int]) -> list[int | Exception]:
        self.batches.append(list(items))
        await asyncio.sleep(self.delay)  # a commit in flight: later arrivals queue for the next batch
        return [ValueError(f"item {i}") if i in self.fail else i * 10 for i in items]


async def test_concurrent_submissions_are_batched_and_answered_one_by_one() -> None:
    group: Batcher[int, int] = Batcher(max_batch=8, parallel=1)
    recorder = Recorder(fail={5})
    results = await asyncio.gather(*(group.submit(i, recorder) for i in range(20)), return_exceptions=True)
    assert [r if isinstance(r, int) else str(r) for r in results] == [
        *(i * 10 for i in range(5)),
        "item 5",
        *(i * 10 for i in range(6, 20)),
    ]
    assert sorted(i for batch in recorder.batches for i in batch) == list(range(20))
    assert max(len(batch) for batch in recorder.batches) == 8  # capped
    assert len(recorder.batches) < 20  # batched at all
    assert (group.batches, group.items) == (len(recorder.batches), 20)


async def test_a_lone_submission_is_not_held_back() -> None:
    group: Batcher[int, int] = Batcher(max_batch=64)
    recorder = Recorder()
    assert await group.submit(7, recorder) == 70
    assert recorder.batches == [[7]]


async def test_a_batch_function_that_fails_as_a_whole_fails_each_caller() -> None:
    group: Batcher[int, int] = Batcher(max_batch=4, parallel=1)

    async def broken(items: Sequence[int]) -> list[int | Exception]:
        raise RuntimeError("database gone")

    results = await asyncio.gather(*(group.submit(i, broken) for i in range(3)), return_exceptions=True)
    assert [str(r) for r in results] == ["database gone"] * 3


async def test_a_caller_that_stops_waiting_does_not_stop_the_batch() -> None:
    group: Batcher[int, int] = Batcher(max_batch=4, parallel=1)
    recorder = Recorder(delay=0.05)
    impatient = asyncio.create_task(group.submit(1, recorder))
    patient = asyncio.create_task(group.submit(2, recorder))
    await asyncio.sleep(0.01)
    impatient.cancel()
    assert await patient == 20
    assert recorder.batches == [[1, 2]]  # the cancelled caller's item was still committed


# Intake through group commit, on a real database.


@pytest_asyncio.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url)
    try:
        yield pool
    finally:
        await pool.close()


@pytest_asyncio.fixture
async def intake(pool: asyncpg.Pool, catalog: TemplateCatalog) -> Intake:
    return Intake(
        pool=pool,
        catalog=catalog,
        hub=fresh_identity(),
        policies=load_policy_book(),
        group_commit=Batcher(max_batch=64, parallel=1),
    )


async def submit_all(intake: Intake, raws: Sequence[bytes]) -> list[Accepted | BaseException]:
    at = utc_now()
    return await asyncio.gather(*(submit_message(intake, raw, at) for raw in raws), return_exceptions=True)


async def stored_ids(pool: asyncpg.Pool) -> set[uuid.UUID]:
    return {row["id"] for row in await pool.fetch("SELECT id FROM messages")}


async def two_members(directory: Directory) -> tuple[Member, Member]:
    return await directory.add("hotline-de", "hotline", "DE"), await directory.add("platform-ie")


async def test_a_refusal_in_a_batch_leaves_the_others_accepted(intake: Intake, directory: Directory) -> None:
    hotline, platform = await two_members(directory)
    envelopes = [takedown(hotline, platform) for _ in range(6)]
    envelopes[3]["to"] = ["nobody-here"]  # valid to its template, refused at admission
    results = await submit_all(intake, [hotline.sign(e).encode() for e in envelopes])
    refused = [r for r in results if isinstance(r, Refusal)]
    assert [r.code for r in refused] == ["unknown-recipient"]
    assert isinstance(results[3], Refusal)
    assert await stored_ids(intake.pool) == {uuid.UUID(e["id"]) for i, e in enumerate(envelopes) if i != 3}
    assert intake.group_commit is not None
    assert intake.group_commit.batches < 6


async def test_same_id_twice_in_one_batch(intake: Intake, directory: Directory) -> None:
    """Whichever arrives first wins; the same message again is answered with its receipt, and another
    message under the same id is refused, whether or not they share a batch."""
    hotline, platform = await two_members(directory)
    first = takedown(hotline, platform)
    other = {**takedown(hotline, platform), "id": first["id"]}  # same id, different content
    once = hotline.sign(first).encode()
    raws = [once, once, hotline.sign(other).encode()]
    results = await submit_all(intake, raws)
    stored = await intake.pool.fetchval("SELECT signed_form FROM messages")
    assert await intake.pool.fetchval("SELECT count(*) FROM messages") == 1
    winners = [r for r in results if isinstance(r, Accepted) and not r.replayed]
    assert len(winners) == 1
    for raw, result in zip(raws, results, strict=True):
        if raw == bytes(stored):
            assert isinstance(result, Accepted)
            assert result.receipt == winners[0].receipt
        else:
            assert isinstance(result, Refusal)
            assert result.code == "duplicate-id"


async def test_a_write_failure_undoes_the_batch_then_only_its_message_fails(
    intake: Intake, directory: Directory, db: asyncpg.Connection
) -> None:
    hotline, platform = await two_members(directory)
    envelopes = [takedown(hotline, platform) for _ in range(5)]
    doomed = envelopes[2]["id"]
    await db.execute(
        f"""
        CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.id = '{doomed}'::uuid THEN RAISE EXCEPTION 'refused by the test trigger'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_one BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_one();
        """
    )
    results = await submit_all(intake, [hotline.sign(e).encode() for e in envelopes])
    assert [isinstance(r, Accepted) for r in results] == [True, True, False, True, True]
    assert isinstance(results[2], asyncpg.RaiseError)
    assert await stored_ids(intake.pool) == {uuid.UUID(e["id"]) for i, e in enumerate(envelopes) if i != 2}
    cases = await intake.pool.fetchval("SELECT count(*) FROM cases")
    assert cases == 4  # nothing half-stored for the failed one: its case was rolled back with it
    assert intake.group_commit is not None
    assert intake.group_commit.batches < 5  # the five shared a batch, which was undone and retried


async def test_pushes_finished_together_are_recorded_together(
    intake: Intake, directory: Directory, db: asyncpg.Connection
) -> None:
    """Three pushes finish in one transaction; one of them lost its lease meanwhile and is told so,
    while the other two are delivered, with their attempts, timeline and started clocks."""
    hotline = await directory.add("hotline-de", "hotline", "DE")
    platform = await add_with_endpoint(db, "platform-ie", "platform", "IE")
    await submit_all(intake, [hotline.sign(takedown(hotline, platform)).encode() for _ in range(3)])
    now = utc_now()
    claimed = await deliveries.claim(
        intake.pool,
        platform.id,
        now=now,
        worker="w-test",
        lease=timedelta(minutes=1),
        max_in_flight=10,
        token=uuid.uuid4(),
    )
    assert len(claimed) == 3
    lost = replace(claimed[1], lease_token=uuid.uuid4())  # another worker holds it now
    records = [
        (AttemptRecord(d, "w-test", now, now, "delivered", 200, "ok"), f"evidence-{i}")
        for i, d in enumerate([claimed[0], lost, claimed[2]])
    ]
    assert await deliveries.finish_pushes(intake.pool, records) == [True, False, True]
    states = {
        row["seq"]: row["state"] for row in await db.fetch("SELECT seq, state FROM deliveries ORDER BY seq")
    }
    assert [states[d.seq] for d in claimed] == ["delivered", "in_flight", "delivered"]
    attempts = await db.fetchval("SELECT count(*) FROM delivery_attempts")
    told = await db.fetchval("SELECT count(*) FROM case_events WHERE event = 'message.delivered'")
    clocks = await db.fetchval("SELECT count(*) FROM deadlines")
    assert (attempts, told) == (2, 2)
    assert clocks == 4  # each delivered push started its two EU DSA clocks (acknowledge, decide)
