"""One statement per batch (issue 21): the rows a batch defers are written by `hub_record_rows`
(migration 0021, with an answer's conditional rows since 0038), and a batch of new referrals opens no
transaction around it.

The function is the twin of the named queries the per-row path runs (`deferred_writes.write` with no
buffer open): the same rows, captured from intake deciding real referrals, are stored both ways and
every row compared. Then intake through group commit: a batch of new referrals costs a fixed number of
statements whatever its size; a failure part-way through the function stores nothing of the batch, which
is retried one referral at a time so that only the one at fault fails; repeated ids in one batch are
answered from the batch itself.

Answers (messages on a case that exists) too: their rows, captured from intake deciding real answers
(a clock met, one answered late, a move of state, an order starting a pull recipient's clock), are
stored by the named queries one by one and by the function, and by the whole per-row path (no buffer
open) and the batch, and compared; a batch of answers costs the same statements at 2 and 6 answers
and a lone answer five; a move whose condition fails inside the function undoes the batch, and after
the retry alone only that answer fails.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

import asyncpg
import pytest
import pytest_asyncio

from hub.core.clock import utc_now
from hub.core.jose import sha256_hex
from hub.core.receipt import read_receipt
from hub.core.refusal import Refusal
from hub.core.templates import TemplateCatalog
from hub.policies import load_policy_book
from hub.services import intake as intake_service
from hub.services.batcher import Batcher
from hub.services.intake import Accepted, Intake, submit_message
from hub.store.case_keys import Keyring
from hub.store.database import create_pool
from hub.store.deadlines import add_whole_case_party
from hub.store.deferred_writes import ORDER, captured_writes, deferred_writes, rows_json
from hub.store.messages import SignedMessage
from hub.store.queries import query
from tests.factories import (
    Directory,
    Member,
    acknowledgement,
    add_with_endpoint,
    fresh_identity,
    information_request,
    removal,
    takedown,
)
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
ANSWERS_ONLY = ("meet_deadlines", "set_party_state")  # rows only a message on an existing case writes
ANSWER_ROWS = ("insert_message", *ANSWERS_ONLY, "insert_deliveries", "insert_deadline", "insert_event")
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
    held = {name: len(rows[name]) for name in ORDER if name not in ANSWERS_ONLY}
    assert all(held.values()), held  # every kind of row a referral writes is exercised

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


# -- answers ------------------------------------------------------------------------------------------


async def opened(intake: Intake, hotline: Member, platforms: Sequence[Member]) -> list[tuple[str, str]]:
    """One referral to each platform, committed: (case id, message id) of each."""
    results = await submit_all(intake, [hotline.sign(takedown(hotline, p)).encode() for p in platforms])
    out = []
    for result in results:
        assert isinstance(result, Accepted)
        claims = read_receipt(result.receipt)
        out.append((claims.case_id, claims.message_id))
    return out


async def answered_cases(
    intake: Intake, directory: Directory, db: asyncpg.Connection
) -> tuple[list[SignedMessage], Member]:
    """Five cases and one answer to each, signed, not submitted: an acknowledgement meeting an open
    clock, one answering a breached clock late, a removal meeting two clocks and moving its sender to
    actioned, a liaison's production order starting a pull platform's clock, a pushed platform's
    acknowledgement with no clock to meet (its clocks wait on its push)."""
    hotline = await directory.add("hotline-de", "hotline", "DE")
    pulling = [await directory.add(f"platform-pull-{i}", "platform", "IE") for i in range(4)]
    pushed = await add_with_endpoint(db, "platform-push", "platform", "IE")
    liaison = await directory.add("nl-police-test", "law-enforcement", "NL")
    cases = await opened(intake, hotline, [*pulling, pushed])
    late_case = UUID(cases[1][0])
    await db.execute(
        "UPDATE deadlines SET state = 'breached', breached_at = now(), next_fire_at = NULL"
        " WHERE case_id = $1 AND kind = 'acknowledge'",
        late_case,
    )
    await add_whole_case_party(db, UUID(cases[3][0]), liaison.id, hotline.id, utc_now())
    envelopes = [
        (pulling[0], acknowledgement(pulling[0], hotline, *cases[0])),
        (pulling[1], acknowledgement(pulling[1], hotline, *cases[1])),
        (pulling[2], removal(pulling[2], hotline, *cases[2])),
        (liaison, information_request(liaison, pulling[3], cases[3][0], urgency="routine")),
        (pushed, acknowledgement(pushed, hotline, *cases[4])),
    ]
    at = utc_now()
    signed = []
    for sender, envelope in envelopes:
        raw, digest = _signed(sender, envelope)
        checked = intake_service.validated_envelope(intake.catalog, envelope)
        signed.append(SignedMessage(checked, sender.key.kid, raw, digest, at))
    return signed, hotline


async def decide_and_write(intake: Intake, conn: asyncpg.Connection, batch: Sequence[SignedMessage]) -> None:
    """Intake's batch path on `conn`, in the caller's transaction: one snapshot, each message decided on
    it and written (deferred or not, as the caller has it)."""
    prefetched = await intake_service._Prefetched.read(conn, batch)
    for message in batch:
        decision = await intake_service._decide(intake, conn, message, prefetched)
        assert not isinstance(decision, Accepted)
        await intake_service._write(intake, conn, decision, prefetched.case_keys.get(decision.plan.case_id))
        prefetched.written.add(decision.plan.case_id)


async def timeline_order(conn: asyncpg.Connection) -> list[tuple[Any, ...]]:
    """The timeline entries in the order written (by seq), then the audit log's (by id)."""
    events = await conn.fetch(
        "SELECT case_id, event, subject, message_id, detail::text FROM case_events ORDER BY seq"
    )
    audited = await conn.fetch(
        "SELECT case_id, event, subject, message_id, detail::text FROM audit_entries ORDER BY id"
    )
    return [tuple(r) for r in events] + [("audit", *r) for r in audited]


async def test_answers_in_the_function_store_what_the_per_row_queries_store(
    intake: Intake, directory: Directory, db: asyncpg.Connection
) -> None:
    """The rows an answer defers (its conditional ones included: a clock met or answered late, with the
    entries made beforehand for each clock it could change; a move of state), captured once, then stored
    by the named queries one by one (an entry made for a clock's change only if the named
    `meet_deadlines` changed that clock so) and by `hub_record_rows`: every column the same."""
    signed, _ = await answered_cases(intake, directory, db)
    async with intake.pool.acquire() as conn:
        try:
            async with conn.transaction(), captured_writes(conn) as rows:
                await decide_and_write(intake, conn, signed)
                raise _Undo
        except _Undo:
            pass
    held = {name: len(rows[name]) for name in ANSWER_ROWS}
    assert all(held.values()), held  # every kind of row these answers write is exercised
    assert len(rows["meet_deadlines"]) == 4  # each platform's answer (the liaison's meets nothing)
    assert len(rows["set_party_state"]) == 4
    conditional = [args for args in rows["insert_event"] if len(args) == 11]
    assert {args[10].split(":")[0] for args in conditional} == {"met", "answered-late"}

    async def per_row(conn: asyncpg.Connection) -> None:
        changed: set[str] = set()
        for name in ORDER:
            for args in rows[name]:
                if name == "meet_deadlines":
                    found = await conn.fetch(query(name), *args)
                    changed |= {f"{r['outcome']}:{r['id']}" for r in found}
                elif name == "insert_event" and len(args) == 11:
                    if args[10] in changed:
                        await conn.execute(query(name), *args[:10])
                else:
                    await conn.execute(query(name), *args)

    async def batched(conn: asyncpg.Connection) -> None:
        await conn.execute(query("record_rows"), rows_json(rows))

    before = await snapshot(db)
    one_by_one, together = await stored_by(db, per_row), await stored_by(db, batched)
    assert together == one_by_one
    assert await snapshot(db) == before
    assert together != before
    _assert_answered(together)


def _assert_answered(stored: dict[str, list[str]]) -> None:
    """What the five answers of `answered_cases` did, in a `snapshot` of the tables."""
    clocks = [orjson_loads(row) for row in stored["deadlines"]]
    assert sorted(c["kind"] for c in clocks if c["state"] == "met") == ["acknowledge", "acknowledge", "act"]
    assert [c["kind"] for c in clocks if c["answered_late_at"] is not None] == ["acknowledge"]
    assert [c["kind"] for c in clocks if c["state"] == "open" and c["kind"] == "respond"] == ["respond"]
    events = [orjson_loads(row)["event"] for row in stored["case_events"]]
    assert events.count("deadline.met") == 3
    assert events.count("deadline.answered_late") == 1
    states = [orjson_loads(row)["state"] for row in stored["case_parties"]]
    assert states.count("acknowledged") == 3
    assert states.count("actioned") == 1


def orjson_loads(row: str) -> dict[str, Any]:
    import json

    loaded: dict[str, Any] = json.loads(row)
    return loaded


async def test_answers_through_the_function_store_what_the_per_row_path_stores(
    intake: Intake, directory: Directory, db: asyncpg.Connection
) -> None:
    """The whole of intake's writing of the same answers, once with no buffer open (the per-row path:
    every statement through its named query, `meet_deadlines` read back and its entries recorded from
    what it returns) and once deferred into the batch's one statement: every column the same, and the
    timeline and audit entries in the same order. (No storage key: the stored forms are then the same
    bytes both ways.)"""
    signed, _ = await answered_cases(intake, directory, db)
    plain = replace(intake, keyring=None)

    async def per_row(conn: asyncpg.Connection) -> None:
        await decide_and_write(plain, conn, signed)

    async def batched(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(sent)
        async with deferred_writes(conn):
            await decide_and_write(plain, conn, signed)
        conn.remove_query_logger(sent)

    sent = Counted()

    async def with_order(store: Any) -> Any:
        async def both(conn: asyncpg.Connection) -> None:
            await store(conn)
            orders.append(await timeline_order(conn))

        return await stored_by(db, both)

    orders: list[list[tuple[Any, ...]]] = []
    one_by_one, together = await with_order(per_row), await with_order(batched)
    assert together == one_by_one
    assert orders[0] == orders[1]
    _assert_answered(together)
    assert await sent.taken() == {"batch_snapshot": 1, "record_rows": 1}  # all five folded


async def test_a_batch_of_answers_costs_no_statement_per_answer(
    intake: Intake, directory: Directory, db: asyncpg.Connection, counted: Counted
) -> None:
    """Acknowledgements meeting their clocks and moving their senders, 2 then 6 in a batch, then one
    alone: the same five statements each time (the key look-up, the snapshot and the one write in a
    transaction), none per answer."""
    hotline = await directory.add("hotline-de", "hotline", "DE")
    platforms = [await directory.add(f"platform-{i}", "platform", "IE") for i in range(9)]
    cases = await opened(intake, hotline, platforms)
    answers = [
        p.sign(acknowledgement(p, hotline, case_id, message_id)).encode()
        for p, (case_id, message_id) in zip(platforms, cases, strict=True)
    ]
    await counted.taken()
    sent = {}
    for size, batch in ((2, answers[:2]), (6, answers[2:8]), (1, answers[8:])):
        results = await submit_all(intake, batch)
        assert all(isinstance(r, Accepted) and not r.replayed for r in results)
        sent[size] = await counted.taken()
    expected = {"get_keys": 1, "BEGIN": 1, "batch_snapshot": 1, "record_rows": 1, "COMMIT": 1}
    assert sent[2] == sent[6] == sent[1] == expected
    met = await db.fetchval("SELECT count(*) FROM deadlines WHERE kind = 'acknowledge' AND state = 'met'")
    assert met == 9
    states = await db.fetch("SELECT DISTINCT state FROM case_parties WHERE role = 'recipient'")
    assert [r["state"] for r in states] == ["acknowledged"]
    assert await db.fetchval("SELECT count(*) FROM case_events WHERE event = 'deadline.met'") == 9


async def test_a_move_refused_inside_the_function_undoes_the_batch_and_only_its_answer_fails(
    intake: Intake, directory: Directory, db: asyncpg.Connection, counted: Counted
) -> None:
    """A platform's party row that will not move (a test trigger skips its update, as if it were no longer
    in the state admission saw): `hub_set_party_state` raises inside the batch's statement, the batch's
    earlier rows (messages, clocks met) are undone with it, and after each answer is retried alone only
    that one fails, its clock still open and nothing of it stored."""
    hotline = await directory.add("hotline-de", "hotline", "DE")
    platforms = [await directory.add(f"platform-{i}", "platform", "IE") for i in range(4)]
    cases = await opened(intake, hotline, platforms)
    doomed = platforms[2]
    await db.execute(
        f"""
        CREATE FUNCTION keep_state() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.participant_id = '{doomed.id}' AND NEW.state = 'acknowledged' THEN RETURN NULL; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER keep_state BEFORE UPDATE ON case_parties FOR EACH ROW EXECUTE FUNCTION keep_state();
        """
    )
    envelopes = [
        acknowledgement(p, hotline, case_id, message_id)
        for p, (case_id, message_id) in zip(platforms, cases, strict=True)
    ]
    await counted.taken()
    signed = [p.sign(e).encode() for p, e in zip(platforms, envelopes, strict=True)]
    results = await submit_all(intake, signed)
    assert [isinstance(r, Accepted) for r in results] == [True, True, False, True]
    assert isinstance(results[2], asyncpg.RaiseError)
    assert "hub_set_party_state" in str(results[2])
    sent = await counted.taken()
    assert sent["record_rows"] == 1 + 4  # the batch, then each answer alone
    kept = {UUID(e["id"]) for i, e in enumerate(envelopes) if i != 2}
    answers = await db.fetch("SELECT id FROM messages WHERE message_type = 'acknowledgement'")
    assert {r["id"] for r in answers} == kept
    clocks = dict(await db.fetch("SELECT recipient_id, state FROM deadlines WHERE kind = 'acknowledge'"))
    assert clocks == {p.id: "open" if p is doomed else "met" for p in platforms}
    met = await db.fetch("SELECT subject FROM case_events WHERE event = 'deadline.met'")
    assert sorted(r["subject"] for r in met) == sorted(p.id for p in platforms if p is not doomed)
    audited = await db.fetchval("SELECT count(*) FROM audit_entries WHERE event = 'deadline.met'")
    assert audited == 3


async def test_a_clock_met_with_no_entry_made_for_it_fails_the_statement(
    intake: Intake, directory: Directory, db: asyncpg.Connection
) -> None:
    """`hub_record_rows` writes an answer's clock entries only as made beforehand: a clock its
    `meet_deadlines` row changes with no entry for it (one the batch's snapshot did not hold) raises, so
    the batch is retried alone rather than a clock met without its timeline entry."""
    hotline = await directory.add("hotline-de", "hotline", "DE")
    platform = await directory.add("platform-0", "platform", "IE")
    [(case_id, message_id)] = await opened(intake, hotline, [platform])
    meeting = (UUID(case_id), platform.id, ["acknowledge"], utc_now(), UUID(message_id), None)
    with pytest.raises(asyncpg.RaiseError, match="no timeline entry"):
        await db.execute(query("record_rows"), rows_json({"meet_deadlines": [meeting]}))
    assert await db.fetchval("SELECT state FROM deadlines WHERE kind = 'acknowledge'") == "open"
