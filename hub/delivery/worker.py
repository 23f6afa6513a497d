"""The delivery worker: pushes messages to recipients with an endpoint, until each is delivered or dead.

Design (several hub processes against one database, no coordinator of ours):

- Work lives in `deliveries`. Each round, one statement (`hub_claim_due_deliveries`, migration 0023) finds
  the destinations with claimable work and claims for each as many deliveries as it has free in-flight
  slots (`FOR UPDATE SKIP LOCKED`, a lease, `RETURNING`), up to what the worker can start. Claims for a
  destination are serialised on its row, so the per-destination cap holds across processes; processes
  never wait for each other.
- Pushes finishing together are recorded in one statement, which also claims what the slots they free
  (and any other free ones of the worker) can start (`hub_finish_and_claim`, migration 0041): under load
  a finished batch starts its successors with no round of its own. The worker's free capacity is its
  `max_concurrency` less the pushes under way and the slots claims under way have asked for; a push no
  longer counts once its attempt has ended (while it is recorded, and an inline answer taken).
- A claimed delivery is leased. The outcome is recorded only while the lease is held. A worker that dies
  leaves its leases to expire; any worker then claims those deliveries again (the claim query). The
  recipient may so see a message twice and drops it by its `Idempotency-Key`.
- Failures back off per destination (`hub.core.retry`), persisted in `destinations`, so every process
  respects them. 401/403 are retried the same way until the policy's `park_after`-th refusal, which parks
  the destination until an operator unparks it; every delivery it holds is then shown held on its case's
  timeline (`delivery.parked`, also for one queued later: each round looks), and its recipient is told
  once at its directory contact (`hub.services.park_notices`). A delivery past its retry
  budget, or refused for good, is dead-lettered and the sender told on the case's timeline.
- NOTIFY `hub_delivery` wakes a worker early; it polls anyway, so a lost notification only delays. A wake
  that arrives during a round is kept (the event is cleared before a round, not after), so none is lost.
  A finished batch wakes it only if its statement claimed nothing for want of capacity or failed.
- Database outages are survived: a failed round is retried after a pause; an outcome that cannot be
  recorded is retried until the lease would expire, after which the delivery will be redone.
- A recipient may answer inline (a signed message in the 2xx body). The worker does not judge it: it hands
  the bytes to the `on_answer` callback it was given (in the hub, intake's `submit_message`, so the answer
  is taken exactly as if it had been posted) and logs what became of it.
- `stop()` stops claiming (a finished batch's statement sent from then on claims nothing), lets in-flight
  deliveries finish within the grace period (and those a statement sent before it claimed), then cancels
  the rest (their leases expire and they are redone).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg
import structlog

from adapters.base import Adapter, Destination, NoticeClock, OutboundMessage
from hub.core.clock import Clock
from hub.core.delivery_outcome import DeliveryOutcome, Verdict
from hub.core.evidence import sign_delivery_evidence
from hub.core.hub_identity import HubIdentity
from hub.core.refusal import Refusal
from hub.core.retry import RetryPolicy
from hub.services.batcher import Batcher
from hub.services.intake import Accepted
from hub.services.park_notices import ParkNotices
from hub.store import deadlines, deliveries
from hub.store.case_keys import Keyring
from hub.store.database import UNAVAILABLE
from hub.store.deliveries import AttemptRecord, ClaimedDelivery
from hub.store.delivery_failures import Failure, Recorded
from hub.store.finish_and_claim import Claim, Finished, Outcome, finish_and_claim_batch

log = structlog.get_logger("hub.delivery")
CHANNEL = "hub_delivery"
DB_ERRORS = (*UNAVAILABLE, asyncpg.PostgresError)
# What takes a recipient's inline answer (its exact signed bytes, the time received): intake, in the hub.
InlineAnswers = Callable[[bytes, datetime], Awaitable[Accepted]]


@dataclass(frozen=True)
class WorkerConfig:
    worker_id: str = field(default_factory=lambda: f"worker-{uuid.uuid4().hex[:8]}")
    lease: timedelta = timedelta(seconds=60)
    max_in_flight_per_destination: int = 4
    max_concurrency: int = 64
    poll_interval: float = 1.0
    grace: float = 20.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)


class DeliveryWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        adapters: Mapping[str, Adapter],
        hub: HubIdentity,
        clock: Clock,
        config: WorkerConfig,
        *,
        keyring: Keyring | None,
        on_answer: InlineAnswers,
        rng: random.Random | None = None,
        park_notices: ParkNotices | None = None,
    ) -> None:
        self._pool, self._dsn, self._adapters, self._hub = pool, dsn, adapters, hub
        self._keyring, self._on_answer = keyring, on_answer
        self._park_notices = park_notices
        self._telling: asyncio.Task[None] | None = None
        self._clock, self.config, self._rng = clock, config, rng or random.Random()  # noqa: S311  (jitter, not secrets)
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight: set[asyncio.Task[None]] = set()
        self._pushing: set[asyncio.Task[None]] = set()  # deliveries whose attempt has not ended
        self._asked = 0  # slots asked for by claims under way (a round's, a finished batch's)
        self._listener: asyncpg.Connection | None = None
        self._loop_task: asyncio.Task[None] | None = None
        # Pushes finishing together, delivered or failed, are recorded in one statement (group commit),
        # which claims the slots they free.
        self._finished: Batcher[Finished, Outcome] = Batcher()

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name=f"delivery-{self.config.worker_id}")
        log.info("delivery.worker_started", worker=self.config.worker_id)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
        # A finished batch's statement sent before stop() may still claim: what it claims is started
        # before the pushes it records end, so waiting until nothing is in flight waits for it too.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.grace
        while self._in_flight and (left := deadline - loop.time()) > 0:
            await asyncio.wait(set(self._in_flight), timeout=left)
        pending = set(self._in_flight)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self._close_listener()
        log.info("delivery.worker_stopped", worker=self.config.worker_id, abandoned=len(self._in_flight))

    def wake(self) -> None:
        self._wake.set()

    # -- the loop ----------------------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            await self._ensure_listener()
            try:
                claimed = await self.run_once()
            except DB_ERRORS as exc:
                log.warning(
                    "delivery.round_failed", worker=self.config.worker_id, error=exc.__class__.__name__
                )
                await self._pool.expire_connections()  # a connection broken mid-operation must not be reused
                claimed = 0
            except Exception as exc:  # the loop must outlive any failure, or this process stops delivering
                log.error(
                    "delivery.round_crashed", worker=self.config.worker_id, error=exc.__class__.__name__
                )
                claimed = 0
            if claimed == 0 and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.config.poll_interval)

    async def run_once(self) -> int:
        """One round: in one statement, show what parked destinations hold on its timelines and claim
        what is due for each destination with work; then start delivering it."""
        # Claim only what this worker can start at once: a claimed delivery never waits for a slot,
        # so stop() is never held up behind one (a full worker's next finished batch claims).
        capacity = self._capacity()
        if capacity <= 0:
            return 0
        self._asked += capacity
        try:
            claimed = await deliveries.claim_due(
                self._pool,
                now=self._clock(),
                worker=self.config.worker_id,
                lease=self.config.lease,
                max_in_flight=self.config.max_in_flight_per_destination,
                token=uuid.uuid4(),
                capacity=capacity,
                keyring=self._keyring,
            )
            self._start(claimed)
        finally:
            self._asked -= capacity
        self._tell_parked()
        return len(claimed)

    def _capacity(self) -> int:
        """How many deliveries this worker can start now; none once it is stopping."""
        if self._stopping:
            return 0
        return max(0, self.config.max_concurrency - len(self._pushing) - self._asked)

    def _start(self, claimed: list[ClaimedDelivery]) -> None:
        for delivery in claimed:
            task = asyncio.create_task(self._deliver(delivery))
            for tasks in (self._in_flight, self._pushing):
                tasks.add(task)
                task.add_done_callback(tasks.discard)

    def _claim(self, capacity: int) -> Claim:
        return Claim(
            now=self._clock(),
            worker=self.config.worker_id,
            lease=self.config.lease,
            max_in_flight=self.config.max_in_flight_per_destination,
            token=uuid.uuid4(),
            capacity=capacity,
        )

    async def _finish(self, batch: Sequence[Finished]) -> list[Outcome | Exception]:
        """A batch of finished pushes recorded, and what the worker can start claimed, in one statement;
        what it claims is started before the pushes it records end. If the statement failed (each push
        was then recorded alone and nothing claimed), or could not claim, a round claims instead."""
        capacity = self._capacity()
        self._asked += capacity
        try:
            done = await finish_and_claim_batch(self._pool, batch, self._claim(capacity), self._keyring)
            if done.claimed is not None:
                self._start(done.claimed)
        finally:
            self._asked -= capacity
        if done.claimed is None or (capacity == 0 and not self._stopping):
            self._wake.set()
        return done.outcomes

    def _tell_parked(self) -> None:
        """Tell newly parked destinations' recipients (`hub.services.park_notices`), beside the
        deliveries: a slow mail server never holds up a round. One such task at a time."""
        if self._park_notices is None or (self._telling is not None and not self._telling.done()):
            return
        self._telling = task = asyncio.create_task(self._send_park_notices(self._park_notices))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    @staticmethod
    async def _send_park_notices(notices: ParkNotices) -> None:
        try:
            await notices.send_due()
        except DB_ERRORS as exc:  # the next round asks again
            log.warning("delivery.park_notices_failed", error=exc.__class__.__name__)

    async def wait_idle(self) -> None:
        """Wait until no delivery this worker started is in flight (for tests and shutdown)."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)

    # -- one delivery ------------------------------------------------------------------------------------
    async def _deliver(self, delivery: ClaimedDelivery) -> None:
        started = self._clock()
        try:
            try:
                outcome = await self._attempt(delivery)
            finally:
                task = asyncio.current_task()
                if task is not None:
                    self._pushing.discard(task)  # a slot of the worker is free for the next claim
            # Recorded with the claim of the slots it frees (`_finish`): no round of its own.
            recorded = await self._with_database(
                lambda: self._record_once(delivery, outcome, started), delivery, "delivery.outcome_lost"
            )
            if recorded and outcome.verdict is Verdict.DELIVERED:
                await self._with_database(
                    lambda: self._take_answer(delivery, outcome), delivery, "delivery.answer_lost"
                )
        except BaseException:
            self._wake.set()  # not recorded by a batch that claimed: a round claims the freed slot
            raise

    async def _attempt(self, delivery: ClaimedDelivery) -> DeliveryOutcome:
        adapter = self._adapters.get(delivery.adapter)
        if adapter is None:
            return DeliveryOutcome(Verdict.ATTENTION, f"no adapter '{delivery.adapter}' in this hub")
        try:
            shows = getattr(adapter, "shows_clocks", False)
            clocks = await self._clocks(delivery) if shows else ()
            earlier = await deliveries.delivered_before(self._pool, delivery) if shows else ()
            return await adapter.deliver(
                _outbound(delivery, clocks, earlier),
                Destination(delivery.recipient_id, delivery.endpoint, delivery.adapter_config),
            )
        except Exception as exc:  # an adapter bug must not stop the worker: count it as a failure
            log.error("delivery.adapter_failed", adapter=delivery.adapter, error=exc.__class__.__name__)
            return DeliveryOutcome(Verdict.RETRY, f"adapter error: {exc.__class__.__name__}")

    async def _with_database(
        self, action: Callable[[], Awaitable[bool]], delivery: ClaimedDelivery, lost_event: str
    ) -> bool:
        """Run `action` until the database takes it, for as long as the lease lasts. Past that another
        worker may redo the delivery, so giving up loses nothing but time."""
        deadline = asyncio.get_running_loop().time() + self.config.lease.total_seconds()
        pause = 0.2
        while True:
            try:
                return await action()
            except DB_ERRORS as exc:
                if asyncio.get_running_loop().time() + pause >= deadline:
                    log.warning(
                        lost_event,
                        message_id=str(delivery.message_id),
                        recipient=delivery.recipient_id,
                        error=exc.__class__.__name__,
                    )
                    return False
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    async def _record_once(
        self, delivery: ClaimedDelivery, outcome: DeliveryOutcome, started: datetime
    ) -> bool:
        """Record the attempt's outcome; False if the lease was lost meanwhile (another worker owns it)."""
        now = self._clock()
        record = AttemptRecord(
            delivery=delivery,
            worker=self.config.worker_id,
            started_at=started,
            finished_at=now,
            verdict=str(outcome.verdict),
            http_status=outcome.http_status,
            detail=outcome.detail,
            hop_receipt=outcome.hop_receipt,
        )
        bound = log.bind(
            message_id=str(delivery.message_id),
            case_id=str(delivery.case_id),
            recipient=delivery.recipient_id,
            attempt=delivery.attempt,
        )
        policy = self.config.policy
        if outcome.verdict is Verdict.DELIVERED:
            done = bool(
                await self._finished.submit((record, self._evidence(delivery, outcome, now)), self._finish)
            )
            event, detail = "delivery.delivered", outcome.detail
        else:
            waits = policy.waits(outcome.retry_after, self._rng)
            if outcome.verdict is Verdict.ATTENTION:
                failure = Failure(record, "refused", waits, policy.parking())
            elif outcome.verdict is Verdict.PERMANENT:
                failure = Failure(record, "dead", reason=f"refused by the recipient: {outcome.detail}")
            elif policy.exhausted(delivery.attempt, delivery.first_attempt_at, now):
                reason = f"retry budget exhausted after {delivery.attempt} attempts: {outcome.detail}"
                failure = Failure(record, "dead", waits, reason=reason)
            else:
                failure = Failure(record, "retry", waits)
            recorded = await self._finished.submit(failure, self._finish)
            if isinstance(recorded, bool):
                raise TypeError("a failure recorded as a success")
            done = recorded is not None
            event, detail = self._failure_log(failure, outcome, recorded)
        if done:
            level = (
                bound.info if event in ("delivery.delivered", "delivery.attempt_failed") else bound.warning
            )
            level(event, detail=detail)
        return done

    def _failure_log(
        self, failure: Failure, outcome: DeliveryOutcome, recorded: Recorded | None
    ) -> tuple[str, str]:
        """The log event and detail of a recorded failure."""
        if failure.kind == "dead":
            return "delivery.dead", failure.reason or outcome.detail
        wait = recorded.wait if recorded is not None else None
        retry_in = f"retry in {(wait or timedelta(0)).total_seconds():.1f} s"
        if failure.kind == "retry":
            return "delivery.attempt_failed", f"{outcome.detail}; {retry_in}" if recorded else outcome.detail
        if recorded is None:
            return "delivery.refused", outcome.detail
        if recorded.parked:
            self._wake.set()  # the next round tells the recipient
            return "delivery.destination_parked", f"{outcome.detail}; {recorded.refusals} refusals"
        return (
            "delivery.refused",
            f"{outcome.detail}; refusal {recorded.refusals} of {self.config.policy.park_after}, {retry_in}",
        )

    def _evidence(self, delivery: ClaimedDelivery, outcome: DeliveryOutcome, now: datetime) -> str:
        return sign_delivery_evidence(
            self._hub.key,
            hub_id=self._hub.hub_id,
            message_id=delivery.message_id,
            payload_sha256=delivery.payload_sha256,
            recipient=delivery.recipient_id,
            delivered_at=now,
            channel="push",
            attempt=delivery.attempt,
            http_status=outcome.http_status,
            destination=delivery.destination,
        )

    async def _take_answer(self, delivery: ClaimedDelivery, outcome: DeliveryOutcome) -> bool:
        """A signed message in the response body is the recipient's answer: handed to `on_answer`, which
        takes it as if posted (a resubmission after a database error gets the same receipt)."""
        if outcome.response_type != "application/jose" or not outcome.response_body:
            return True
        try:
            accepted = await self._on_answer(outcome.response_body, self._clock())
        except Refusal as refusal:
            log.info(
                "delivery.answer_refused",
                message_id=str(delivery.message_id),
                recipient=delivery.recipient_id,
                problem=refusal.code,
            )
            return True
        log.info(
            "delivery.answer_accepted",
            message_id=str(delivery.message_id),
            recipient=delivery.recipient_id,
            replayed=accepted.replayed,
        )
        return True

    # -- wake-ups ------------------------------------------------------------------------------------------
    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await asyncpg.connect(self._dsn, timeout=5)
            await self._listener.add_listener(CHANNEL, self._on_notify)
        except DB_ERRORS:
            self._listener = None  # polling covers for it; try again next round

    async def _clocks(self, delivery: ClaimedDelivery) -> tuple[NoticeClock, ...]:
        """The clocks this delivery starts (due from now: never later than when they really start) and
        those already running for the recipient on the case, earliest first."""
        now = self._clock()
        held = [deadlines.clock_from_json(c) for c in delivery.clocks or ()]
        starting = [NoticeClock(c.kind, c.jurisdiction, c.legal_basis, now + c.within, True) for c in held]
        rows = await deadlines.running(self._pool, delivery.case_id, delivery.recipient_id)
        running = [
            NoticeClock(r["kind"], r["jurisdiction"], r["legal_basis"], r["due_at"], False) for r in rows
        ]
        return tuple(sorted(starting + running, key=lambda c: (c.due_at, c.kind, c.jurisdiction)))

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(*DB_ERRORS):
                await self._listener.close()
            self._listener = None


def _outbound(
    delivery: ClaimedDelivery, clocks: tuple[NoticeClock, ...] = (), earlier: tuple[uuid.UUID, ...] = ()
) -> OutboundMessage:
    return OutboundMessage(
        message_id=delivery.message_id,
        case_id=delivery.case_id,
        sender=delivery.sender_id,
        recipient=delivery.recipient_id,
        message_type=delivery.message_type,
        version=delivery.version,
        accepted_at=delivery.accepted_at,
        payload_sha256=delivery.payload_sha256,
        signed_form=delivery.signed_form.decode("utf-8"),
        receipt=delivery.receipt,
        attempt=delivery.attempt,
        clocks=clocks,
        earlier=earlier,
    )
