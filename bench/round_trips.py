"""`python -m bench.round_trips`: the database statements the hub sends per referral, in and out, counted.

    python -m bench.round_trips                       # 64 referrals to 4 webhook platforms
    python -m bench.round_trips --referrals 32 --json trips.json

Every statement the hub sends on its pool is counted with asyncpg's query logger, added to each
connection as the pool opens it (`create_pool(on_connect=...)`). One logged call is one round trip to
PostgreSQL: an `execute`, a `fetch`, an `executemany` (its rows pipelined), and a transaction's BEGIN
and COMMIT. Not counted: the Parse of a statement new to a connection (the warm-up makes it rare) and
the delivery worker's LISTEN connection, and asyncpg's look-up of a type on a connection new to it
(printed apart).

The hub is the real one, in this process, wired as `create_app` wires it: intake with its group commit
and key-lookup batches, the delivery worker with the webhook adapter, the policies (EU DSA clocks held on
each push), the storage key. Referrals are `bench.common`'s (3.2 KB, contact sealed to the platform).
The webhook receiver runs in this process too and holds its answers while a claim is counted. Phases,
each counted on its own, after a warm-up that goes through all of them:

- intake, batched: N referrals handed at once to `submit_message` (what `POST /v1/messages` calls; the
  HTTP layer sends no statement). asyncio runs every submission to its first wait before a batch
  drains, so they form batches of up to 64 in the same way on every run;
- intake, one at a time: each awaited before the next (batches of one: the per-message path);
- delivery claim: the worker's rounds (`run_once`, the default 4 in flight per destination), with the
  receiver holding its answers, so no delivery finishes during a round;
- delivery finish: the receiver answers; the worker records the outcomes (finished pushes share a
  statement when they finish together, so the batches depend on timing: they are printed), and each
  batch's statement claims the deliveries the slots it frees can start (`hub_finish_and_claim`), which
  the receiver answers at once, until nothing is due: under load no round follows a finished batch;
- delivery failed: N more referrals, the receiver answering `503` to every push. Each failure backs its
  destination off, so between rounds the worker's clock is moved an hour on (past the policy's cap);
  what is counted is the recording of the failures (the rounds' claims are counted apart). Then the
  receiver answers `200` again and they are delivered, uncounted;
- answers, batched: each platform's acknowledgement of every referral of the batched phase, handed at
  once to `submit_message` as the referrals were (they answer one case each; a batch holds up to 64);
- answers, one at a time: the acknowledgements of the referrals taken one at a time, each awaited
  before the next (batches of one: the lone answer's path, also a message retried alone);
- delivery drain (`--drain`, default 256): that many referrals queued, then the worker's own loop
  started, as in the hub, with the receiver answering at once, until every one is delivered: the
  statements of a backlog's delivery, rounds included (before step 21.7 a round followed each batch of
  finished pushes), with this process's CPU time and the rate (timings, unlike the counts).

The figures are counts, not timings: the same on a loaded machine as on an idle one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from adapters.base import AdapterContext
from adapters.registry import build_adapters
from bench.common import Cast, database, free_port, register_cast, signed_referral
from hub.client import new_envelope, sign_message
from hub.core.clock import rfc3339, utc_now
from hub.core.hub_identity import HubIdentity
from hub.core.jose import PrivateSigningJwk
from hub.core.receipt import read_receipt
from hub.delivery.worker import DeliveryWorker, WorkerConfig
from hub.log import configure_logging
from hub.policies import load_policy_book
from hub.schemas import load_catalog
from hub.services.batcher import Batcher
from hub.services.intake import Accepted, Intake, inline_answers, submit_message
from hub.store.case_keys import Keyring
from hub.store.database import create_pool
from hub.store.directory import ensure_hub_participant
from hub.store.queries import queries

HUB_ID = "bench-hub"
PHASES = (
    "intake_batched",
    "intake_alone",
    "delivery_claim",
    "delivery_finish",
    "delivery_failed",
    "answers_batched",
    "answers_alone",
    "delivery_drain",
)
FINISHES = ("finish_pushes", "finish_failures", "finish_and_claim")  # one a batch of finished pushes
INTROSPECTION = ("WITH RECURSIVE typeinfo_tree", "current_setting('jit')", "set_config('jit'")


@dataclass(eq=False)  # hashable: asyncpg keeps its loggers in a set
class StatementCounter:
    """Counts the statements sent, by name (the named query's, or the statement's first words)."""

    counts: Counter[str] = field(default_factory=Counter)
    names: dict[str, str] = field(default_factory=lambda: {text: name for name, text in queries().items()})
    introspection: int = 0  # asyncpg's own look-ups of a type, once per connection: not the hub's

    def __call__(self, record: Any) -> None:
        text = record.query.strip()
        if any(mark in text[:80] for mark in INTROSPECTION):
            self.introspection += 1
            return
        self.counts[self.names.get(text) or " ".join(text.split()[:3])[:40]] += 1

    async def settled(self) -> Counter[str]:
        """What was counted so far (asyncpg hands a record to its loggers with call_soon) and reset."""
        for _ in range(3):
            await asyncio.sleep(0)
        counted, self.counts = self.counts, Counter()
        return counted


class GatedReceiver:
    """Webhook endpoints that answer `status` (200) once the gate is open, and count each message
    taken (2xx) once."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.arrived: set[str] = set()
        self.status = 200

    async def webhook(self, request: web.Request) -> web.Response:
        await request.read()
        await self.gate.wait()
        if self.status >= 300:
            return web.Response(status=self.status, text="down for the benchmark")
        self.arrived.add(request.headers.get("Idempotency-Key", ""))
        return web.Response(status=200, text="{}", content_type="application/json")


@dataclass
class MovableClock:
    """The worker's clock: now, moved on by `ahead` (past a failed destination's backoff)."""

    ahead: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return utc_now() + self.ahead


@asynccontextmanager
async def receiving(receiver: GatedReceiver, port: int) -> AsyncIterator[None]:
    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/webhook/{platform}", receiver.webhook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


@dataclass
class Hub:
    intake: Intake
    worker: DeliveryWorker
    receiver: GatedReceiver
    counter: StatementCounter
    cast: Cast
    clock: MovableClock
    observer: asyncpg.Connection  # the benchmark's own reads, not counted
    sent: int = 0
    recipient_of: dict[str, str] = field(default_factory=dict)  # referral id -> its platform

    def referrals(self, n: int) -> list[bytes]:
        out = []
        for _ in range(n):
            platform = self.cast.platforms[self.sent % len(self.cast.platforms)]
            message_id, raw = signed_referral(self.cast.hotline, self.cast.hotline_key, platform, self.sent)
            self.recipient_of[message_id] = platform.id
            out.append(raw)
            self.sent += 1
        return out

    async def submit_together(self, raws: list[bytes]) -> list[Accepted]:
        at = utc_now()
        return list(await asyncio.gather(*(submit_message(self.intake, raw, at) for raw in raws)))

    def acknowledgements(self, accepted: list[Accepted]) -> list[bytes]:
        """Each referral's platform acknowledging it (the referrals were sent round robin from `sent`)."""
        by_id = {p.id: p for p in self.cast.platforms}
        out = []
        for receipt in (read_receipt(a.receipt) for a in accepted):
            platform = by_id[self.recipient_of[receipt.message_id]]
            envelope = new_envelope(
                "acknowledgement",
                sender=platform.id,
                to=[self.cast.hotline],
                body={"received_at": rfc3339(utc_now())},
                case=receipt.case_id,
                in_reply_to=receipt.message_id,
            )
            if platform.sig_key is None:
                raise RuntimeError(f"{platform.id} has no signing key")
            out.append(sign_message(envelope, platform.sig_key).encode())
        return out

    async def submit_one_by_one(self, raws: list[bytes]) -> None:
        for raw in raws:
            await submit_message(self.intake, raw, utc_now())

    async def deliver_all(self) -> tuple[Counter[str], Counter[str], int, list[int]]:
        """Rounds of claims (answers held) and finishes, with the claims they make, until nothing is
        due: the statements of each, the deliveries made, the batches of finished pushes and their
        items, and how many of the deliveries the rounds claimed (the rest the finished batches did)."""
        claims: Counter[str] = Counter()
        finishes: Counter[str] = Counter()
        by_rounds = 0
        before = await self.attempts()
        await self.counter.settled()
        while True:
            self.receiver.gate.clear()
            claimed = await self.worker.run_once()
            claiming = await self.counter.settled()
            self.receiver.gate.set()
            await self.worker.wait_idle()
            finishes += await self.counter.settled()
            if claimed == 0:  # the round that finds nothing left is not counted
                break
            claims += claiming
            by_rounds += claimed
        made = await self.attempts() - before
        return claims, finishes, made, [sum(finishes[name] for name in FINISHES), made, by_rounds]

    async def drain(self, n: int) -> tuple[Counter[str], float, float]:
        """`n` referrals queued, then the worker's own loop started (as in the hub) with the receiver
        answering at once, until all are delivered and recorded; then the worker stops. The statements
        it sent, and this process's CPU seconds and the wall seconds it took (the receiver and the
        client's HTTP work are in this process too)."""
        await self.submit_together(self.referrals(n))
        target = len(self.receiver.arrived) + n
        await self.counter.settled()
        cpu, wall = time.process_time(), time.perf_counter()
        await self.worker.start()
        while len(self.receiver.arrived) < target:  # noqa: ASYNC110  (in memory: no statement sent)
            await asyncio.sleep(0.005)
        await self.worker.wait_idle()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        await self.worker.stop()
        return await self.counter.settled(), cpu, wall

    async def attempts(self) -> int:
        """The attempts recorded so far (read on a connection of the benchmark's own, not counted)."""
        return int(await self.observer.fetchval("SELECT count(*) FROM delivery_attempts"))

    async def fail_all(self, expected: int) -> tuple[Counter[str], Counter[str], int]:
        """Rounds in which every push fails (503), the clock moved past the backoff after each: the
        statements recording the failures, those of the rounds' claims, and the failures recorded."""
        claims: Counter[str] = Counter()
        failures: Counter[str] = Counter()
        before = await self.attempts()
        failed = 0
        self.receiver.status = 503
        await self.counter.settled()
        try:
            while failed < expected:
                self.receiver.gate.clear()
                claimed = await self.worker.run_once()
                claims += await self.counter.settled()
                self.receiver.gate.set()
                await self.worker.wait_idle()
                failures += await self.counter.settled()
                failed = await self.attempts() - before
                self.clock.ahead += timedelta(hours=1)
                if claimed == 0:
                    raise RuntimeError(f"{failed} of {expected} pushes failed, then nothing was due")
        finally:
            self.receiver.status = 200
        return claims, failures, failed


async def run(referrals: int, platforms: int, url: str | None, drain: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hub-round-trips-") as tmp:
        async with database(url, Path(tmp)) as dsn:
            return await _measure(dsn, referrals, platforms, drain)


async def _measure(dsn: str, referrals: int, platforms: int, drain: int = 0) -> dict[str, Any]:
    port = free_port()
    endpoints = {i: f"http://127.0.0.1:{port}/webhook/p{i}" for i in range(platforms)}
    cast = await register_cast(dsn, uuid.uuid4().hex[:8], platforms, endpoints, hub_id=HUB_ID)
    counter = StatementCounter()

    async def count_statements(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(counter)

    identity = HubIdentity(HUB_ID, PrivateSigningJwk.generate())
    receiver = GatedReceiver()
    pool = await create_pool(dsn, on_connect=count_statements)
    try:
        async with pool.acquire() as conn:
            await ensure_hub_participant(conn, HUB_ID, identity.key.public().to_dict())
        async with receiving(receiver, port), aiohttp.ClientSession() as session:
            intake = Intake(
                pool=pool,
                catalog=load_catalog(),
                hub=identity,
                policies=load_policy_book(),
                keyring=Keyring(uuid.uuid4().bytes + uuid.uuid4().bytes),
                group_commit=Batcher(max_batch=64),
                key_lookup=Batcher(max_batch=64),
            )
            clock = MovableClock()
            worker = DeliveryWorker(
                pool,
                dsn,
                build_adapters(AdapterContext(session=session, hub=identity, clock=clock)),
                identity,
                clock,
                WorkerConfig(worker_id="bench-worker"),
                keyring=intake.keyring,
                on_answer=inline_answers(intake),
            )
            observer = await asyncpg.connect(dsn)
            try:
                return await _phases(
                    Hub(intake, worker, receiver, counter, cast, clock, observer), referrals, drain
                )
            finally:
                await observer.close()
    finally:
        await pool.close()


async def _phases(hub: Hub, referrals: int, drain: int) -> dict[str, Any]:
    await hub.submit_together(hub.referrals(referrals))  # warm-up: every statement prepared once
    await hub.submit_one_by_one(hub.referrals(4))
    await hub.deliver_all()
    await hub.submit_together(hub.acknowledgements(await hub.submit_together(hub.referrals(4))))
    await hub.deliver_all()

    await hub.counter.settled()
    batched = hub.referrals(referrals)
    accepted = await hub.submit_together(batched)
    intake_batched = await hub.counter.settled()
    alone = hub.referrals(max(1, referrals // 4))
    accepted_alone = [(await hub.submit_together([raw]))[0] for raw in alone]
    intake_alone = await hub.counter.settled()
    claims, finishes, made, batches = await hub.deliver_all()
    if made != len(batched) + len(alone):
        raise RuntimeError(f"{made} deliveries made for {len(batched) + len(alone)} referrals")
    failing = hub.referrals(referrals)
    await hub.submit_together(failing)
    await hub.counter.settled()
    _, failures, failed = await hub.fail_all(len(failing))
    _, _, redone, _ = await hub.deliver_all()
    if redone != len(failing):
        raise RuntimeError(f"{redone} deliveries made for {len(failing)} referrals after failing")
    answers = hub.acknowledgements(accepted)
    await hub.counter.settled()
    taken = await hub.submit_together(answers)
    answers_batched = await hub.counter.settled()
    if any(a.replayed for a in taken):
        raise RuntimeError("an acknowledgement was answered as a replay")
    lone_answers = hub.acknowledgements(accepted_alone)
    await hub.submit_one_by_one(lone_answers)
    answers_alone = await hub.counter.settled()
    await hub.deliver_all()
    drained, drain_cpu, drain_wall = await hub.drain(drain) if drain else (Counter(), 0.0, 0.0)
    return {
        "referrals": referrals,
        "platforms": len(hub.cast.platforms),
        "intake_batched": _phase(intake_batched, len(batched)),
        "intake_alone": _phase(intake_alone, len(alone)),
        "delivery_claim": _phase(claims, made),
        "delivery_finish": {**_phase(finishes, made), "finish_batches_and_items": batches},
        "delivery_failed": _phase(failures, failed),
        "answers_batched": _phase(answers_batched, len(answers)),
        "answers_alone": _phase(answers_alone, len(lone_answers)),
        "delivery_drain": {
            **_phase(drained, drain),
            "cpu_ms_per_delivery": round(drain_cpu * 1000 / drain, 3) if drain else None,
            "deliveries_per_second": round(drain / drain_wall, 1) if drain else None,
        },
        "delivered_once": len(hub.receiver.arrived) >= made,
        "asyncpg_type_introspection_not_counted": hub.counter.introspection,
    }


def _phase(counts: Counter[str], items: int) -> dict[str, Any]:
    total = sum(counts.values())
    return {
        "items": items,
        "statements": total,
        "per_item": round(total / items, 3) if items else None,
        "by_statement": dict(counts.most_common()),
    }


def report(figures: dict[str, Any]) -> str:
    lines = [
        f"{figures['referrals']} referrals to {figures['platforms']} webhook platforms; "
        "statements sent to PostgreSQL (one each a round trip)",
        f"{'phase':<28} {'items':>6} {'statements':>11} {'per item':>9}",
    ]
    for name in PHASES:
        phase = figures[name]
        lines.append(f"{name:<28} {phase['items']:>6} {phase['statements']:>11} {phase['per_item']:>9}")
    per_referral = sum(
        figures[name]["per_item"] for name in ("intake_batched", "delivery_claim", "delivery_finish")
    )
    lines.append(f"{'in and out (batched intake)':<28} {'':>6} {'':>11} {round(per_referral, 3):>9}")
    for name in PHASES:
        detail = ", ".join(f"{k} {v}" for k, v in figures[name]["by_statement"].items())
        lines.append(f"  {name}: {detail}")
    batches, items, by_rounds = figures["delivery_finish"]["finish_batches_and_items"]
    lines.append(
        f"  finished-push batches {batches}, items {items}; deliveries claimed by rounds {by_rounds}, "
        f"by finished batches {items - by_rounds}"
    )
    drain = figures["delivery_drain"]
    if drain["items"]:
        lines.append(
            f"  delivery_drain: {drain['deliveries_per_second']} deliveries/s, "
            f"{drain['cpu_ms_per_delivery']} ms of this process's CPU per delivery (timings)"
        )
    lines.append(f"  asyncpg type look-ups, not counted: {figures['asyncpg_type_introspection_not_counted']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.round_trips",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--referrals", type=int, default=64, help="referrals per phase (64 batch together)")
    parser.add_argument("--platforms", type=int, default=4, help="webhook platforms, referrals round robin")
    parser.add_argument(
        "--drain",
        type=int,
        default=256,
        help="referrals queued, then delivered by the worker's own loop (0: none)",
    )
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server (default: embedded)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    configure_logging("warning", json=False)
    figures = asyncio.run(run(args.referrals, args.platforms, args.database_url, args.drain))
    print(report(figures))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
