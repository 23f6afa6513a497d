"""One statement per batch (issue 21): the rows a batch defers are written by `hub_record_rows`
(migration 0021), and a batch of new referrals opens no transaction around it.

The function is the twin of the named queries the per-row path runs (`deferred_writes.write` with no
buffer open): the same rows, captured from intake deciding real referrals, are stored both ways and
every row compared. Then intake through group commit: a batch of new referrals costs a fixed number of
statements whatever its size; a failure part-way through the function stores nothing of the batch, which
is retried one referral at a time so that only the one at fault fails; repeated ids in one batch are
answered from the batch itself.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import pytest_asyncio

from hub.core.clock import utc_now
from hub.core.jose import sha256_hex
from hub.core.refusal import Refusal
from hub.core.templates import TemplateCatalog
from hub.policies import load_policy_book
from hub.services import intake as intake_service
from hub.services.batcher import Batcher
from hub.services.intake import Accepted, Intake, submit_message
from hub.store.case_keys import Keyring
from hub.store.database import create_pool
from hub.store.deferred_writes import ORDER, captured_writes, rows_json
from hub.store.messages import SignedMessage
from hub.store.queries import query
from tests.factories import Directory, Member, add_with_endpoint, fresh_identity, takedown
from tests.statement_count import Counted

# Serial columns differ between two runs (sequences are not rolled back); everything else must match.
TABLES = {
    "cases": (),
    "case_parties": (),
    "case_keys": (),
    "messages": (),
    "signals": (),
    "signal_copies": (),
    "signal_changes": ("id",),
    "content_url_digests": (),
    "deliveries": ("seq",),
    "destinations": (),
    "deadlines": ("id",),
    "case_events": ("seq",),
    "audit_entries": ("id",),
}
SHA = "5" * 64  # fictitious hash values
PDQ = "a" * 64


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


async def cast(directory: Directory, db: asyncpg.Connection) -> tuple[Member, Member, Member, Member]:
    """A hotline, a platform it pushes to, one reading a pull inbox, and one opted in to every signal."""
    hotline = await directory.add("hotline-de", "hotline", "DE")
    pushed = await add_with_endpoint(db, "platform-push", "platform", "IE")
    pulling = await directory.add("platform-pull", "platform", "IE")
    opted_in = await directory.add("platform-all", "platform", "NL")
    await db.execute("UPDATE participants SET hash_signals = true WHERE id = $1", opted_in.id)
    return hotline, pushed, pulling, opted_in


def referrals(hotline: Member, pushed: Member, pulling: Member, relay: Member) -> list[dict[str, Any]]:
    hashed = [{"url": "https://photos.example.com/p/t-1", "hashes": [{"alg": "sha256", "value": SHA}]}]
    pdq = [{"url": "https://photos.example.com/p/t-2", "hashes": [{"alg": "pdq", "value": PDQ}]}]
    return [
        takedown(hotline, pushed),
        takedown(hotline, pulling),  # a pull recipient's clocks start at intake
        # two recipients (one platform: each platform gets a request of its own), signals
        takedown(hotline, pushed, relay, content=hashed, hash_sharing_consent=True),
        takedown(hotline, pulling, content=pdq),
    ]


async def snapshot(conn: asyncpg.Connection) -> dict[str, list[str]]:
    found = {}
    for table, serial in TABLES.items():
        dropped = "".join(f" - '{column}'" for column in serial)
        rows = await conn.fetch(f"SELECT (to_jsonb(t){dropped})::text AS row FROM {table} t")
        found[table] = sorted(row["row"] for row in rows)
    return found


class _Undo(Exception):
    pass


async def stored_by(conn: asyncpg.Connection, store: Any) -> dict[str, list[str]]:
    """What `store(conn)` leaves in the tables, then rolled back."""
    try:
        async with conn.transaction():
            await store(conn)
            seen = await snapshot(conn)
            raise _Undo
    except _Undo:
        return seen


async def test_the_batch_function_stores_what_the_per_row_queries_store(
    intake: Intake, directory: Directory, db: asyncpg.Connection
) -> None:
    hotline, pushed, pulling, _ = await cast(directory, db)
    relay = await directory.add("hotline-fr", "hotline", "FR")  # a hotline abroad that relays referrals
    at = utc_now()
    signed = []
    for envelope in referrals(hotline, pushed, pulling, relay):
        raw, digest = _signed(hotline, envelope)
        checked = intake_service.validated_envelope(intake.catalog, envelope)
        signed.append(SignedMessage(checked, hotline.key.kid, raw, digest, at))
    async with intake.pool.acquire() as conn, captured_writes(conn) as rows:
        for message in signed:
            decision = await intake_service._decide(intake, conn, message)
            assert not isinstance(decision, Accepted)
            await intake_service._write(intake, conn, decision)
    held = {name: len(rows[name]) for name in ORDER}
    assert all(held.values()), held  # every kind of row is exercised

    async def per_row(conn: asyncpg.Connection) -> None:
        for name in ORDER:
            for args in rows[name]:
                await conn.execute(query(name), *args)

    async def batched(conn: asyncpg.Connection) -> None:
        await conn.execute(query("record_rows"), rows_json(rows))

    before = await snapshot(db)
    one_by_one, together = await stored_by(db, per_row), await stored_by(db, batched)
    assert together == one_by_one
    assert await snapshot(db) == before
    assert len(together["cases"]) == 4
    assert len(together["deliveries"]) == 5
    assert len(together["deadlines"]) >= 2
    assert (
        len(together["signal_copies"]) == 3
    )  # the platform recipients' copies of both hashes, the opted-in one
    assert len(together["case_parties"]) == 4 + 5  # the originators and the recipients


def _signed(member: Member, envelope: dict[str, Any]) -> tuple[bytes, str]:
    compact = member.sign(envelope).encode()
    return compact, sha256_hex(intake_service.parse_submission(compact).payload)


async def submit_all(intake: Intake, raws: Sequence[bytes]) -> list[Accepted | BaseException]:
    at = utc_now()
    return await asyncio.gather(*(submit_message(intake, raw, at) for raw in raws), return_exceptions=True)


async def test_a_batch_of_new_referrals_costs_the_same_statements_whatever_its_size(
    intake: Intake, directory: Directory, db: asyncpg.Connection, counted: Counted
) -> None:
    hotline, pushed, pulling, _ = await cast(directory, db)
    await submit_all(intake, [hotline.sign(takedown(hotline, pushed)).encode()])  # statements prepared
    await counted.taken()
    sent = {}
    for size in (2, 12):
        envelopes = [takedown(hotline, pushed if i % 2 else pulling) for i in range(size)]
        results = await submit_all(intake, [hotline.sign(e).encode() for e in envelopes])
        assert all(isinstance(r, Accepted) for r in results)
        sent[size] = await counted.taken()
    assert sent[2] == sent[12]
    assert sent[12]["record_rows"] == 1  # one statement writes the batch
    assert "BEGIN" not in sent[12]  # it is its own transaction
    assert "COMMIT" not in sent[12]
    assert sum(sent[12].values()) <= 5  # and a few reads for the whole batch
    assert await db.fetchval("SELECT count(*) FROM messages") == 15


async def test_a_failure_inside_the_function_stores_nothing_and_only_its_referral_fails(
    intake: Intake, directory: Directory, db: asyncpg.Connection, counted: Counted
) -> None:
    """Cases and messages are inserted before deliveries: a delivery refused for one referral must undo
    the batch's earlier inserts too, though no transaction was opened around the statement."""
    hotline, pushed, _, _ = await cast(directory, db)
    envelopes = [takedown(hotline, pushed) for _ in range(5)]
    doomed = envelopes[3]["id"]
    await db.execute(
        f"""
        CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.message_id = '{doomed}'::uuid THEN RAISE EXCEPTION 'refused by the test trigger'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_one BEFORE INSERT ON deliveries FOR EACH ROW EXECUTE FUNCTION refuse_one();
        """
    )
    results = await submit_all(intake, [hotline.sign(e).encode() for e in envelopes])
    assert [isinstance(r, Accepted) for r in results] == [True, True, True, False, True]
    assert isinstance(results[3], asyncpg.RaiseError)
    sent = await counted.taken()
    assert sent["record_rows"] == 1 + 5  # the batch, then each referral alone
    kept = {uuid.UUID(e["id"]) for i, e in enumerate(envelopes) if i != 3}
    assert {r["id"] for r in await db.fetch("SELECT id FROM messages")} == kept
    assert {r["message_id"] for r in await db.fetch("SELECT message_id FROM deliveries")} == kept
    assert await db.fetchval("SELECT count(*) FROM cases") == 4  # nothing half-stored for the one at fault
    accepted = await db.fetchval("SELECT count(*) FROM case_events WHERE event = 'message.accepted'")
    audited = await db.fetchval("SELECT count(*) FROM audit_entries WHERE event = 'message.accepted'")
    assert accepted == audited == 4


async def test_repeated_ids_in_one_batch_are_answered_from_the_batch(
    intake: Intake, directory: Directory, db: asyncpg.Connection, counted: Counted
) -> None:
    """The same message twice: the second is a replay with the first's receipt; the same id with other
    content: refused. The batch is written once, not retried: the repeats never reach the database."""
    hotline, pushed, pulling, _ = await cast(directory, db)
    first, other = takedown(hotline, pushed), takedown(hotline, pulling)
    conflicting = {**takedown(hotline, pushed), "id": first["id"]}
    once = hotline.sign(first).encode()
    raws = [once, hotline.sign(other).encode(), once, hotline.sign(conflicting).encode(), once]
    results = await submit_all(intake, raws)
    assert (await counted.taken())["record_rows"] == 1
    new, replayed = results[0], results[2]
    assert isinstance(new, Accepted)
    assert not new.replayed
    assert replayed == Accepted(receipt=new.receipt, replayed=True)
    assert results[4] == replayed
    assert isinstance(results[3], Refusal)
    assert results[3].code == "duplicate-id"
    assert results[1] == Accepted(receipt=results[1].receipt, replayed=False)
    assert await db.fetchval("SELECT count(*) FROM messages") == 2
    assert await db.fetchval("SELECT count(*) FROM deliveries") == 2
