"""What an intake batch reads before it decides, in one statement (issue 21: `batch_snapshot`).

The snapshot gives the same values as the single queries it replaces (stored identities, directory
entries, encryption keys, answered cases with their parties and data keys), and locks the answered
cases' party rows as `load_case` does. Through intake: a batch of answers on different cases reads
nothing per answer; two answers on one case in a batch apply one after the other (the second reads its
case again, after the first's rows).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from uuid import UUID

import asyncpg
import pytest
import pytest_asyncio

from hub.core.clock import utc_now
from hub.core.receipt import read_receipt
from hub.core.templates import TemplateCatalog
from hub.policies import load_policy_book
from hub.services.batcher import Batcher
from hub.services.intake import Accepted, Intake, submit_message
from hub.store import directory as directory_store
from hub.store import messages
from hub.store.batch_snapshot import read_snapshot
from hub.store.case_keys import Keyring
from hub.store.database import create_pool
from tests.factories import Directory, Member, acknowledgement, fresh_identity, removal, takedown
from tests.statement_count import Counted

PER_ANSWER_READS = (
    "get_case",
    "lock_case_parties",
    "case_message_ids",
    "get_case_key",
    "get_participants",
    "get_message_identity",
    "get_message_identities",
    "encryption_keys_of",
)


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
    return Intake(
        pool=pool,
        catalog=catalog,
        hub=fresh_identity(),
        policies=load_policy_book(),
        keyring=Keyring(bytes(range(32))),
        group_commit=Batcher(max_batch=64, parallel=1),
        key_lookup=Batcher(max_batch=64),
    )


async def submit_all(intake: Intake, raws: Sequence[bytes]) -> list[Accepted | BaseException]:
    at = utc_now()
    return await asyncio.gather(*(submit_message(intake, raw, at) for raw in raws), return_exceptions=True)


async def opened(intake: Intake, hotline: Member, platforms: Sequence[Member]) -> list[tuple[str, str]]:
    """One referral to each platform: (case id, message id) of each."""
    results = await submit_all(intake, [hotline.sign(takedown(hotline, p)).encode() for p in platforms])
    out = []
    for result in results:
        assert isinstance(result, Accepted)
        claims = read_receipt(result.receipt)
        out.append((claims.case_id, claims.message_id))
    return out


async def test_the_snapshot_gives_what_the_single_queries_give(
    intake: Intake, directory: Directory, db: asyncpg.Connection
) -> None:
    hotline = await directory.add("hotline-de", "hotline", "DE")
    platforms = [await directory.add(f"platform-{i}", "platform", "IE") for i in range(3)]
    cases = await opened(intake, hotline, platforms)
    case_ids = [UUID(c) for c, _ in cases] + [uuid.uuid4()]  # and a case that does not exist
    message_ids = [UUID(m) for _, m in cases] + [uuid.uuid4()]
    named = [hotline.id, *(p.id for p in platforms), "nobody-of-this-hub"]
    async with db.transaction():
        snapshot = await read_snapshot(db, message_ids, named, case_ids)
    assert snapshot.identities == await messages.find_identities(db, message_ids)
    assert snapshot.directory == await messages.load_directory(db, named)
    assert snapshot.encryption_keys == await directory_store.encryption_keys_of(db, named)
    assert set(snapshot.cases) == set(case_ids[:3])
    for case_id in case_ids[:3]:
        async with db.transaction():
            assert snapshot.cases[case_id] == await messages.load_case(db, case_id)
        assert snapshot.case_keys[case_id] == await db.fetchval(
            "SELECT wrapped_key FROM case_keys WHERE case_id = $1", case_id
        )


async def test_the_snapshot_locks_the_answered_cases_parties(
    intake: Intake, directory: Directory, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    hotline = await directory.add("hotline-de", "hotline", "DE")
    platform = await directory.add("platform-0", "platform", "IE")
    [(case_id, _)] = await opened(intake, hotline, [platform])
    async with pool.acquire() as conn, conn.transaction():
        await read_snapshot(conn, [], [], [UUID(case_id)])
        with pytest.raises(asyncpg.LockNotAvailableError):
            await db.execute("SELECT 1 FROM case_parties WHERE case_id = $1 FOR UPDATE NOWAIT", UUID(case_id))


async def test_a_batch_of_answers_reads_nothing_per_answer(
    intake: Intake, directory: Directory, db: asyncpg.Connection, counted: Counted
) -> None:
    hotline = await directory.add("hotline-de", "hotline", "DE")
    platforms = [await directory.add(f"platform-{i}", "platform", "IE") for i in range(4)]
    cases = await opened(intake, hotline, platforms)
    answers = [
        p.sign(acknowledgement(p, hotline, case_id, message_id)).encode()
        for p, (case_id, message_id) in zip(platforms, cases, strict=True)
    ]
    await submit_all(intake, answers[:1])  # every statement prepared once
    await counted.taken()
    results = await submit_all(intake, answers[1:])
    assert all(isinstance(r, Accepted) and not r.replayed for r in results)
    sent = await counted.taken()
    assert sent["batch_snapshot"] == 1
    assert not [name for name in PER_ANSWER_READS if sent[name]]
    assert sent["record_rows"] == 1
    states = dict(await db.fetch("SELECT participant_id, state FROM case_parties WHERE role = 'recipient'"))
    assert {states[p.id] for p in platforms} == {"acknowledged"}


async def test_two_answers_on_one_case_in_a_batch_apply_one_after_the_other(
    intake: Intake, directory: Directory, db: asyncpg.Connection, counted: Counted
) -> None:
    hotline = await directory.add("hotline-de", "hotline", "DE")
    platform, other = [await directory.add(f"platform-{i}", "platform", "IE") for i in range(2)]
    [(case_id, message_id), (other_case, other_message)] = await opened(intake, hotline, [platform, other])
    batch = [
        platform.sign(acknowledgement(platform, hotline, case_id, message_id)).encode(),
        other.sign(acknowledgement(other, hotline, other_case, other_message)).encode(),
        platform.sign(removal(platform, hotline, case_id, message_id)).encode(),
    ]
    await counted.taken()
    results = await submit_all(intake, batch)
    assert all(isinstance(r, Accepted) for r in results)
    sent = await counted.taken()
    assert sent["batch_snapshot"] == 1
    assert sent["get_case"] == 1  # the second answer on the case reads it again
    assert sent["record_rows"] >= 2  # the first answer's rows sent before that read
    changes = await db.fetch(
        "SELECT from_state, to_state FROM case_events"
        " WHERE case_id = $1 AND event = 'recipient.state_changed'"
        " ORDER BY seq",
        UUID(case_id),
    )
    assert [tuple(c) for c in changes][-2:] == [("queued", "acknowledged"), ("acknowledged", "actioned")]


async def test_a_lone_answer_reads_what_it_needs_in_one_statement(
    intake: Intake, directory: Directory, db: asyncpg.Connection, counted: Counted
) -> None:
    hotline = await directory.add("hotline-de", "hotline", "DE")
    platforms = [await directory.add(f"platform-{i}", "platform", "IE") for i in range(2)]
    cases = await opened(intake, hotline, platforms)
    answers = [
        p.sign(acknowledgement(p, hotline, case_id, message_id)).encode()
        for p, (case_id, message_id) in zip(platforms, cases, strict=True)
    ]
    await submit_message(intake, answers[0], utc_now())  # every statement prepared once
    await counted.taken()
    accepted = await submit_message(intake, answers[1], utc_now())
    assert not accepted.replayed
    sent = await counted.taken()
    assert sent["batch_snapshot"] == 1
    assert not [name for name in PER_ANSWER_READS if sent[name]]
    again = await submit_message(intake, answers[1], utc_now())  # a resubmission: the stored receipt
    assert (again.replayed, again.receipt) == (True, accepted.receipt)
    state = await db.fetchval(
        "SELECT state FROM case_parties WHERE case_id = $1 AND participant_id = $2",
        UUID(cases[1][0]),
        platforms[1].id,
    )
    assert state == "acknowledged"
