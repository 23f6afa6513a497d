"""The simulated platform: a webhook receiver, or an inbox poller, that answers like a careful platform.

Webhook (`POST /webhook`), in this order, because each step must hold before the next is worth doing:

1. the bearer token is the hub's, for this platform, fresh and unused, or the call is refused `401`;
2. an `Idempotency-Key` already taken is a repeat (a retry, a worker that crashed after sending): it is
   answered `200 {"status": "duplicate"}` and nothing is done twice. The key is taken before the
   message is checked, so two concurrent copies cannot both get through;
3. the sender's signature (key from the hub's directory) and the hub's receipt are verified, or the
   message is refused `422` (the hub dead-letters it: sending it again would not make it verify);
4. a takedown request is answered `200` with the platform's signed `acknowledgement` as the body
   (`application/jose`): the hub records it with the delivery, so the proof that the platform was told
   and the confirmation of receipt arrive together;
5. after `delay` seconds, in the background, the decision (`status-update`: removed, or declined with a
   reason) is signed once and submitted to the hub until it is taken: resubmitting the same signed
   message is safe, the hub answers a repeat with the first receipt.

When the hub cannot be asked for a key, the answer is `503`: the hub retries later.

Pull (`pull=True`): the same checks and answers, fed by long-polling `GET /v1/inbox`. A message that
verifies is marked retrieved (`POST /v1/inbox/ack`) and acknowledged by a submitted message; one that
does not is left in the inbox, unmarked, for a person to look at.

Repeats are remembered in memory, for the life of the process: a real platform keeps them in its
database. Only identifiers are logged, never a message's content or a URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from hub.client import HubClient, HubError, sign_message
from hub.core.clock import utc_now
from hub.core.delivery_outcome import Verdict, classify_http
from hub.core.jose import PrivateSigningJwk
from hub.platform_sim.answers import Decision, Referral, acknowledgement, decision
from hub.platform_sim.trust import HubTrust, HubUnavailableError, UnauthorisedError, VerificationError

log = structlog.get_logger("hub.platform_sim")
ANSWERED_TYPES = frozenset({"takedown-request"})  # what a platform acknowledges and decides
MAX_PAUSE = 30.0


@dataclass(frozen=True)
class SimulatorConfig:
    participant_id: str
    key: PrivateSigningJwk
    hub_url: str
    decision: Decision = Decision.REMOVE
    delay: float = 0.0  # seconds between acknowledging and deciding
    host: str = "127.0.0.1"
    port: int = 8090
    pull: bool = False
    pull_wait: int = 10  # seconds one long-poll of the inbox may wait


@dataclass
class SimulatorStats:
    received: int = 0  # webhook calls and inbox items, whatever became of them
    duplicates: int = 0
    refused: int = 0
    acknowledged: int = 0
    decided: int = 0
    refusals: dict[str, int] = field(default_factory=dict)  # refused, by reason

    def refuse(self, reason: str) -> None:
        self.refused += 1
        self.refusals[reason] = self.refusals.get(reason, 0) + 1


class PlatformSimulator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.stats = SimulatorStats()
        self._taken: set[str] = set()  # message ids answered (or being checked): a repeat is dropped
        self._tasks: set[asyncio.Task[None]] = set()  # answers being submitted
        self._pull_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._client: HubClient | None = None
        self._trust: HubTrust | None = None
        self._address: tuple[str, int] | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.config.pull_wait + 30)
        self._session = aiohttp.ClientSession(timeout=timeout)
        self._client = HubClient(
            self._session, self.config.hub_url, self.config.participant_id, self.config.key
        )
        self._trust = HubTrust(self._client, self.config.participant_id)
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.config.host, self.config.port).start()
        except OSError:
            await self.stop()
            raise
        host, port = self._runner.addresses[0][:2]
        self._address = (str(host), int(port))
        if self.config.pull:
            self._pull_task = asyncio.create_task(self._pull(), name="platform-sim-pull")
        log.info(
            "platform_sim.started",
            participant=self.config.participant_id,
            mode="pull" if self.config.pull else "webhook",
            port=port,
        )

    async def stop(self) -> None:
        """Stop taking deliveries (the pull loop, then the server), then abandon unsent answers."""
        if self._pull_task is not None:
            self._pull_task.cancel()
            await asyncio.gather(self._pull_task, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()  # a webhook call still being answered may start an answer
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        log.info("platform_sim.stopped", participant=self.config.participant_id, **self.counts())

    async def __aenter__(self) -> PlatformSimulator:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        if self._address is None:
            raise RuntimeError("the simulator is not started")
        return f"http://{self._address[0]}:{self._address[1]}"

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhook"

    def counts(self) -> dict[str, Any]:
        return asdict(self.stats)

    async def wait_idle(self) -> None:
        """Wait until every answer started so far has been submitted (the pull loop goes on)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhook", self._webhook)
        app.router.add_get("/stats", self._stats)
        return app

    # -- webhook ---------------------------------------------------------------------------------------
    async def _webhook(self, request: web.Request) -> web.Response:
        self.stats.received += 1
        trust = self._require_trust()
        try:
            await trust.check_bearer(request.headers.get("Authorization"))
        except UnauthorisedError as exc:
            return self._refused(401, "unauthorised", str(exc))
        except HubUnavailableError as exc:
            return _unavailable(exc)
        key = request.headers.get("Idempotency-Key", "")
        if key in self._taken:
            self.stats.duplicates += 1
            log.info("platform_sim.duplicate_dropped", message_id=key)
            return web.json_response({"status": "duplicate"})
        try:
            item = await request.json()
        except ValueError:
            item = None
        if not isinstance(item, dict) or not key or item.get("message_id") != key:
            return self._refused(422, "unverified", "the body is not a delivery for this Idempotency-Key")
        self._taken.add(key)  # before the first await of the check: a concurrent copy is a duplicate
        try:
            referral = await trust.verify(item)
        except VerificationError as exc:
            self._taken.discard(key)
            return self._refused(422, "unverified", str(exc), message_id=key)
        except HubUnavailableError as exc:
            self._taken.discard(key)
            return _unavailable(exc)
        answer = self._answer(referral, in_response=True)
        if answer is None:
            return web.json_response({"status": "received"})
        return web.Response(body=answer.encode(), content_type="application/jose")

    async def _stats(self, _: web.Request) -> web.Response:
        return web.json_response(self.counts())

    def _refused(self, status: int, reason: str, detail: str, message_id: str | None = None) -> web.Response:
        self.stats.refuse(reason)
        log.warning("platform_sim.refused", reason=reason, message_id=message_id, detail=detail)
        return web.json_response({"status": "refused", "reason": reason, "detail": detail}, status=status)

    # -- pull ------------------------------------------------------------------------------------------
    async def _pull(self) -> None:
        client = self._require_client()
        cursor: str | None = None
        pause = 0.5
        while True:
            try:
                page = await client.inbox(cursor=cursor, wait=self.config.pull_wait)
                for item in page["messages"]:
                    await self._pull_one(item)
                cursor = str(page["cursor"])
                pause = 0.5
            except (HubError, HubUnavailableError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("platform_sim.pull_failed", error=exc.__class__.__name__)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE)

    async def _pull_one(self, item: Mapping[str, Any]) -> None:
        self.stats.received += 1
        client = self._require_client()
        message_id = str(item.get("message_id", ""))
        if message_id in self._taken:  # answered, but the hub did not hear that it was retrieved
            self.stats.duplicates += 1
            await client.ack([message_id])
            return
        try:
            referral = await self._require_trust().verify(item)
        except VerificationError as exc:
            self.stats.refuse("unverified")
            log.warning("platform_sim.refused", reason="unverified", message_id=message_id, detail=str(exc))
            return  # left in the inbox, not marked retrieved, for a person to look at
        await client.ack([message_id])
        self._taken.add(message_id)
        self._answer(referral, in_response=False)

    # -- answers ---------------------------------------------------------------------------------------
    def _answer(self, referral: Referral, *, in_response: bool) -> str | None:
        """Sign the acknowledgement of a referral and start deciding it. The acknowledgement is returned
        to go in the webhook's response, or (pull) submitted in the background."""
        bound = log.bind(message_id=referral.message_id, case_id=referral.case_id)
        if referral.message_type not in ANSWERED_TYPES:
            bound.info("platform_sim.received", message_type=referral.message_type)
            return None
        envelope = acknowledgement(referral, platform=self.config.participant_id, now=utc_now())
        signed = sign_message(envelope, self.config.key)
        if not in_response:
            self._spawn(self._follow_up(referral, signed, counted=False))
            return None
        self.stats.acknowledged += 1
        bound.info("platform_sim.acknowledged", via="response")
        if self.config.decision is not Decision.NONE:
            self._spawn(self._follow_up(referral, signed, counted=True))
        return signed

    async def _follow_up(self, referral: Referral, signed_acknowledgement: str, *, counted: bool) -> None:
        """Submit the acknowledgement, then the decision. After a webhook response that carried it, the
        acknowledgement is submitted again all the same: the hub answers a repeat with its first receipt,
        and so has it before the decision even if the response was lost on the way."""
        if await self._submit(signed_acknowledgement, referral, "acknowledgement") and not counted:
            self.stats.acknowledged += 1
        if self.config.decision is Decision.NONE:
            return
        await asyncio.sleep(self.config.delay)
        envelope = decision(
            referral, self.config.decision, platform=self.config.participant_id, now=utc_now()
        )
        if envelope is not None and await self._submit(
            sign_message(envelope, self.config.key), referral, "status-update"
        ):
            self.stats.decided += 1

    async def _submit(self, signed: str, referral: Referral, what: str) -> bool:
        """Submit one signed answer until the hub takes it (True) or refuses it for good (False)."""
        client = self._require_client()
        bound = log.bind(message_id=referral.message_id, case_id=referral.case_id, answer=what)
        pause = 0.5
        while True:
            try:
                await client.submit(signed)
            except HubError as exc:
                if classify_http(exc.status)[0] is not Verdict.RETRY:
                    bound.warning("platform_sim.answer_refused", problem=exc.code)
                    return False
                error = f"HTTP {exc.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = exc.__class__.__name__
            else:
                bound.info("platform_sim.answered")
                return True
            bound.warning("platform_sim.answer_deferred", error=error)
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)

    # -- plumbing --------------------------------------------------------------------------------------
    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _require_client(self) -> HubClient:
        if self._client is None:
            raise RuntimeError("the simulator is not started")
        return self._client

    def _require_trust(self) -> HubTrust:
        if self._trust is None:
            raise RuntimeError("the simulator is not started")
        return self._trust


def _unavailable(exc: Exception) -> web.Response:
    log.warning("platform_sim.hub_unavailable", error=str(exc))
    return web.json_response({"status": "unavailable"}, status=503, headers={"Retry-After": "5"})
