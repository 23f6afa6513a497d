"""Fault test: N referrals through several hub processes to a webhook receiver, while things break.

    python bench/fault_test.py --n 2000 --hubs 3

On a throwaway embedded PostgreSQL, it starts HUBS `hub serve` processes sharing one database and one
signing key, registers a hotline and a platform whose endpoint is a local webhook receiver (in this
process; it drops repeats by `Idempotency-Key`, as the contract asks of recipients), and submits N signed
takedown requests round-robin, retrying a refused or failed submission on another hub with the same
signed bytes (the hub answers a resubmission with the same receipt). Meanwhile:

  (a) the receiver is down (connections refused) from 15 % to 40 % of the submissions,
  (b) from 50 %, the first hub process seen holding delivery leases is killed with SIGKILL (its leased
      deliveries are recovered by the others once the leases expire),
  (c) PostgreSQL is restarted (fast shutdown) at 70 %.

Each hub process runs its own delivery worker with short leases (5 s) and quick retries, so a run of a
few thousand referrals shows lease recovery (`recovered_leases`) and receiver-side dedup at work.

Then it waits for every accepted referral to be delivered and prints

    sent N, delivered N, lost 0, applied twice 0

where `applied twice` counts referrals the receiver applied more than once after its dedup (which would
mean the hub made two messages of one submission), and exits 1 if any figure is off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from hub.client import new_envelope, sign_message
from hub.core.clock import rfc3339, utc_now
from hub.core.jose import PrivateEncryptionJwk, PrivateSigningJwk, b64url_encode, parse_jws
from hub.core.sealing import seal
from hub.keyfile import write_private_jwk
from hub.services.bindings import bind_own_key
from hub.store import directory
from hub.store.database import connect
from hub.store.embedded import EmbeddedPostgres, start_embedded_postgres
from hub.store.migrate import migrate

HOTLINE, PLATFORM = "de-hotline-fault", "ie-platform-fault"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Receiver:
    """A webhook receiver that can go down and come back, keeping what it has applied."""

    port: int
    latency: float = 0.0
    seen: set[str] = field(default_factory=set)  # Idempotency-Keys applied
    applied: Counter[str] = field(default_factory=Counter)  # referral -> times applied after dedup
    requests: int = 0
    duplicates: int = 0
    runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        key = request.headers.get("Idempotency-Key", "")
        try:
            body = await request.json()
        except ConnectionResetError:  # the sending hub died mid-request
            return web.Response(status=400)
        if key in self.seen:
            self.duplicates += 1
            return web.json_response({"status": "duplicate"})
        envelope = json.loads(parse_jws(body["message"]).payload)
        self.seen.add(key)
        self.applied[envelope["body"]["content"][0]["platform_item_id"]] += 1
        # A real platform takes a moment to answer, so deliveries stay in flight; it has applied the
        # referral already, so a hub that dies now makes the next hub's retry a duplicate to drop.
        await asyncio.sleep(self.latency)
        return web.json_response({"status": "applied"})

    async def up(self) -> None:
        app = web.Application()
        app.router.add_post("/webhook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def down(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()  # closes the listener and every open connection
            self.runner = None


async def register(dsn: str, receiver_port: int) -> tuple[PrivateSigningJwk, PrivateEncryptionJwk]:
    hotline_key = PrivateSigningJwk.generate(f"{HOTLINE}-sig")
    platform_sig, platform_enc = (
        PrivateSigningJwk.generate(f"{PLATFORM}-sig"),
        PrivateEncryptionJwk.generate(f"{PLATFORM}-enc"),
    )
    async with connect(dsn) as conn:
        await migrate(conn)
        await directory.add_participant(
            conn,
            participant_id=HOTLINE,
            name="Fault-test hotline",
            kind="hotline",
            country="DE",
            endpoint=None,
            accepts=["takedown-request"],
        )
        await directory.add_key(conn, participant_id=HOTLINE, jwk=hotline_key.public().to_dict())
        await directory.add_participant(
            conn,
            participant_id=PLATFORM,
            name="Fault-test platform",
            kind="platform",
            country="IE",
            endpoint=f"http://127.0.0.1:{receiver_port}/webhook",
            accepts=["takedown-request"],
        )
        await directory.add_key(conn, participant_id=PLATFORM, jwk=platform_sig.public().to_dict())
        await bind_own_key(
            conn,
            hub_id=FAULT_HUB_ID,
            participant_id=PLATFORM,
            signer=platform_sig,
            key=platform_enc.public(),
            now=utc_now(),
        )
    return hotline_key, platform_enc


def referral(i: int, key: PrivateSigningJwk, platform_enc: PrivateEncryptionJwk) -> bytes:
    sealed = seal(b'{"channel":"via-hotline"}', platform_enc.public())
    body = {
        "category": "intimate-image",
        "minor_depicted": "no",
        "content": [{"url": f"https://photos.example.com/p/fault-{i}", "platform_item_id": f"fault-{i}"}],
        "non_consent_statement": {"affirmed": True, "text": "The depicted adult did not consent to this."},
        "illegality": {
            "explanation": "An intimate image was published without the depicted adult's consent.",
            "laws": [{"jurisdiction": "EU", "citation": "Directive (EU) 2024/1385, Art. 5"}],
        },
        "accuracy_statement": {"affirmed": True, "text": "We believe in good faith this notice is accurate."},
        "authorisation": {
            "signatory": "authorised-representative",
            "method": "hotline-attestation",
            "signed_at": rfc3339(utc_now()),
            "reference": f"FAULT-{i}",
        },
        "contact": {
            "sealed": [
                {
                    "to": PLATFORM,
                    "kid": platform_enc.kid,
                    "alg": "X25519-SEALEDBOX",
                    "ciphertext": b64url_encode(sealed),
                }
            ]
        },
        "jurisdictions": ["EU"],
    }
    return sign_message(
        new_envelope("takedown-request", sender=HOTLINE, to=[PLATFORM], body=body), key
    ).encode()


def start_hub(index: int, port: int, dsn: str, work: Path, key_file: Path) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_DATABASE_URL": dsn,
        "HUB_DATA_DIR": str(work / f"hub-{index}"),
        "HUB_SIGNING_KEY_FILE": str(key_file),
        "HUB_STORAGE_KEY_FILE": str(key_file.parent / "hub-storage-key"),  # shared, like the signing key
        "HUB_ID": FAULT_HUB_ID,
        "HUB_WORKER_ID": f"fault-hub-{index}",
        "HUB_LOG_LEVEL": "error",
        "HUB_DELIVERY_LEASE_SECONDS": "5",
        "HUB_DELIVERY_POLL_SECONDS": "0.2",
        "HUB_RETRY_BASE_SECONDS": "0.2",
        "HUB_RETRY_CAP_SECONDS": "2",
        "HUB_RETRY_MAX_ATTEMPTS": "1000",
        "HUB_SHUTDOWN_GRACE_SECONDS": "5",
    }
    log = (work / f"hub-{index}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def wait_ready(session: aiohttp.ClientSession, url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            async with session.get(url + "/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"hub at {url} did not become ready")


@dataclass
class Run:
    n: int
    hubs: list[str]
    alive: list[bool]
    accepted: set[int] = field(default_factory=set)
    submissions: int = 0
    refused_submissions: int = 0
    progress: int = 0
    progressed: asyncio.Event = field(default_factory=asyncio.Event)

    def advance(self) -> None:
        self.progress += 1
        self.progressed.set()

    async def reach(self, fraction: float) -> None:
        while self.progress < fraction * self.n:
            self.progressed.clear()
            await self.progressed.wait()


async def submit_one(
    session: aiohttp.ClientSession, run: Run, i: int, signed: bytes, deadline: float
) -> None:
    attempt = i
    while time.monotonic() < deadline:
        live = [h for h, ok in zip(run.hubs, run.alive, strict=True) if ok]
        url = live[attempt % len(live)]
        attempt += 1
        run.submissions += 1
        try:
            async with session.post(
                url + "/v1/messages", data=signed, headers={"Content-Type": "application/jose"}
            ) as response:
                if response.status == 202:
                    run.accepted.add(i)
                    return
                if response.status < 500:
                    raise RuntimeError(f"referral {i} refused: {response.status} {await response.text()}")
        except (aiohttp.ClientError, TimeoutError):
            pass
        run.refused_submissions += 1
        await asyncio.sleep(0.05)
    raise RuntimeError(f"referral {i} could not be submitted before the deadline")


FAULT_HUB_ID = "fault-hub"
DELIVERY_FIGURES = """
SELECT count(*) FILTER (WHERE state = 'delivered') AS delivered,
       count(*) FILTER (WHERE state = 'dead') AS dead,
       -- a lease that expired and was claimed again leaves more claims than recorded attempts
       count(*) FILTER (
           WHERE attempts > (SELECT count(*) FROM delivery_attempts a WHERE a.delivery_seq = d.seq)
       ) AS recovered_leases
FROM deliveries d WHERE channel = 'push'
"""


class FaultTest:
    def __init__(self, n: int, hub_count: int, concurrency: int, limit_s: float, latency: float) -> None:
        self.n, self.hub_count, self.concurrency, self.limit_s = n, hub_count, concurrency, limit_s
        self.receiver = Receiver(port=free_port(), latency=latency)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.faults: dict[str, float] = {}
        self.figures: dict[str, Any] = {}

    async def run(self, work: Path) -> dict[str, Any]:
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        pg = await loop.run_in_executor(
            None, lambda: start_embedded_postgres(work / "postgres", cleanup="delete")
        )
        try:
            await self._run_with(pg, work)
        finally:
            self._stop_hubs(work)
            await self.receiver.down()
            pg.stop()
        self.figures["total_s"] = round(time.monotonic() - started, 2)
        return self.figures

    async def _run_with(self, pg: EmbeddedPostgres, work: Path) -> None:
        dsn = pg.dsn()
        hotline_key, platform_enc = await register(dsn, self.receiver.port)
        key_file = work / "hub-signing-key.jwk"
        write_private_jwk(key_file, PrivateSigningJwk.generate())
        ports = [free_port() for _ in range(self.hub_count)]
        self.procs = [start_hub(i, port, dsn, work, key_file) for i, port in enumerate(ports)]
        run = Run(n=self.n, hubs=[f"http://127.0.0.1:{p}" for p in ports], alive=[True] * self.hub_count)
        await self.receiver.up()
        signed = [referral(i, hotline_key, platform_enc) for i in range(self.n)]
        deadline = time.monotonic() + self.limit_s
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            for url in run.hubs:
                await wait_ready(session, url, time.monotonic() + 60)
            load_started = time.monotonic()
            faults = asyncio.create_task(self._inject_faults(run, pg))
            pending = iter(range(self.n))

            async def submitter() -> None:
                for i in pending:
                    await submit_one(session, run, i, signed[i], deadline)
                    run.advance()

            await asyncio.gather(*(submitter() for _ in range(self.concurrency)))
            self.figures["load_s"] = round(time.monotonic() - load_started, 2)
            await faults
        figures = await self._drain(dsn, len(run.accepted), deadline)
        self.figures["all_delivered_after_s"] = round(time.monotonic() - load_started, 2)
        self._summarise(run, figures)

    async def _inject_faults(self, run: Run, pg: EmbeddedPostgres) -> None:
        await run.reach(0.15)
        await self.receiver.down()
        down_at = time.monotonic()
        await run.reach(0.40)
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - down_at)))  # down for a second at least
        await self.receiver.up()
        self.faults["receiver_down_s"] = time.monotonic() - down_at
        await run.reach(0.50)
        victim = await self._hub_holding_leases(pg.dsn())  # so the kill strands deliveries in flight
        run.alive[victim] = False
        self.procs[victim].send_signal(signal.SIGKILL)
        self.figures["killed_hub"] = victim
        await run.reach(0.70)
        started = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(None, pg.restart)
        self.faults["postgres_restart_s"] = time.monotonic() - started

    async def _hub_holding_leases(self, dsn: str, patience: float = 10.0) -> int:
        """The index of a hub holding leases now (the last hub if none is seen within `patience`)."""
        conn = await asyncpg.connect(dsn)
        try:
            until = time.monotonic() + patience
            while time.monotonic() < until:
                row = await conn.fetchrow(
                    "SELECT leased_by, count(*) AS held FROM deliveries WHERE state = 'in_flight'"
                    " AND lease_expires_at > now() GROUP BY leased_by ORDER BY held DESC LIMIT 1"
                )
                if row is not None:
                    self.faults["leases_held_when_killed"] = row["held"]
                    return int(row["leased_by"].rsplit("-", 1)[1])
                await asyncio.sleep(0.002)
        finally:
            await conn.close()
        return self.hub_count - 1

    async def _drain(self, dsn: str, accepted: int, deadline: float) -> asyncpg.Record:
        while True:
            conn = await asyncpg.connect(dsn)
            try:
                row = await conn.fetchrow(DELIVERY_FIGURES)
            finally:
                await conn.close()
            if row["delivered"] + row["dead"] >= accepted or time.monotonic() > deadline:
                return row
            await asyncio.sleep(0.25)

    def _summarise(self, run: Run, row: asyncpg.Record) -> None:
        received = {int(k.split("-")[1]) for k in self.receiver.applied}
        self.figures.update(
            sent=len(run.accepted),
            delivered=int(row["delivered"]),
            lost=len(run.accepted - received),
            applied_twice=sum(1 for times in self.receiver.applied.values() if times > 1),
            dead=int(row["dead"]),
            recovered_leases=int(row["recovered_leases"]),
            receiver_requests=self.receiver.requests,
            duplicates_dropped_by_receiver=self.receiver.duplicates,
            submission_attempts=run.submissions,
            failed_submission_attempts=run.refused_submissions,
            hubs=self.hub_count,
            leases_held_when_killed=int(self.faults.get("leases_held_when_killed", 0)),
            receiver_down_s=round(self.faults.get("receiver_down_s", 0.0), 2),
            postgres_restart_s=round(self.faults.get("postgres_restart_s", 0.0), 2),
        )

    def _stop_hubs(self, work: Path) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = []
        for i, proc in enumerate(self.procs):
            try:
                codes.append(proc.wait(timeout=30))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(proc.wait())
            if codes[-1] not in (0, -signal.SIGKILL):
                sys.stderr.write(
                    f"hub {i} exited {codes[-1]}:\n" + (work / f"hub-{i}.log").read_text()[-4000:]
                )
        self.figures["hub_exit_codes"] = codes


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--hubs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--receiver-latency", type=float, default=0.005, help="seconds the receiver takes")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.hubs < 2:
        parser.error("--hubs must be at least 2: one of them is killed")
    with tempfile.TemporaryDirectory(prefix="hub-fault-") as tmp:
        test = FaultTest(args.n, args.hubs, args.concurrency, args.timeout, args.receiver_latency)
        figures = asyncio.run(test.run(Path(tmp)))
    print(
        f"sent {figures['sent']}, delivered {figures['delivered']}, lost {figures['lost']}, "
        f"applied twice {figures['applied_twice']}"
    )
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    ok = (
        figures["sent"] == args.n == figures["delivered"]
        and figures["lost"] == 0
        and figures["applied_twice"] == 0
        and figures["dead"] == 0
        and sorted(figures["hub_exit_codes"]) == [-signal.SIGKILL] + [0] * (args.hubs - 1)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
