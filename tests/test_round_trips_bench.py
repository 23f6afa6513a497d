"""The round-trip benchmark at a tiny size, to keep it working and to hold what it showed: its phases
run on the test database, every referral is delivered, and the counts are the ones docs/performance.md
gives (they are counts of statements, the same on any machine; no timing is asserted)."""

from __future__ import annotations

from bench.round_trips import _measure, report


async def test_round_trips_bench_counts_one_statement_per_batch(database_url: str) -> None:
    figures = await _measure(database_url, 8, 2, drain=16)
    assert figures["delivered_once"]
    assert figures["intake_batched"]["statements"] == 3  # keys, the snapshot, the write: batch of 8
    assert figures["intake_batched"]["by_statement"]["record_rows"] == 1
    assert figures["intake_alone"]["per_item"] == 3.0
    claims = figures["delivery_claim"]
    assert claims["items"] == 8 + 2
    # one round: it claims 4 per platform (the cap); each finished batch claims what follows (step 21.7)
    assert claims["by_statement"] == {"claim_due_deliveries": 1}
    finishes = figures["delivery_finish"]
    batches, items, by_rounds = finishes["finish_batches_and_items"]
    assert (items, by_rounds) == (8 + 2, 8)
    assert finishes["by_statement"] == {"finish_and_claim": batches}  # one per batch, its claim in it
    failed = figures["delivery_failed"]
    assert failed["items"] == 8
    assert failed["by_statement"] == {"finish_and_claim": failed["statements"]}  # one per batch of failures
    assert failed["statements"] < failed["items"]
    answers = figures["answers_batched"]["by_statement"]
    assert answers["batch_snapshot"] == 1  # the answered cases read (and locked) once for the batch
    assert not {"get_case", "lock_case_parties", "get_case_key", "get_participants"} & set(answers)
    per_batch = {"get_keys": 1, "BEGIN;": 1, "batch_snapshot": 1, "record_rows": 1, "COMMIT;": 1}
    assert answers == per_batch  # nothing per answer: their writes are in the batch's one statement
    lone = figures["answers_alone"]
    assert lone["items"] == 2
    assert lone["by_statement"] == {name: 2 for name in per_batch}  # five statements a lone answer
    drain = figures["delivery_drain"]
    assert drain["items"] == 16
    assert set(drain["by_statement"]) == {"claim_due_deliveries", "finish_and_claim"}
    # the loop's first two rounds (a poll round more on a slow machine); none after a finished batch
    assert drain["by_statement"]["claim_due_deliveries"] <= 3
    assert "in and out" in report(figures)
