"""Pieces the benchmarks share: a database to run on, hub processes, participants, referrals, figures.

The fault test (`bench/fault_test.py`) set the pattern: an embedded PostgreSQL in a temporary directory
(or a server given by URL), participants registered straight into the database as an operator would,
and `hub serve` subprocesses configured through `HUB_*` variables. The referrals are fictitious: example
domains, random hashes, contact details sealed to the recipient.
"""

from __future__ import annotations

import asyncio
import os
import platform
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from bench.fault_test import free_port, wait_ready
from hub.client import new_envelope, sign_message
from hub.core.clock import rfc3339, utc_now
from hub.core.jose import PrivateEncryptionJwk, PrivateSigningJwk, PublicJwk, b64url_encode
from hub.core.sealing import seal
from hub.keyfile import write_private_jwk
from hub.services.bindings import bind_own_key
from hub.store import directory
from hub.store.database import connect
from hub.store.embedded import start_embedded_postgres
from hub.store.migrate import migrate

__all__ = ["free_port", "wait_ready"]

ROOT = Path(__file__).resolve().parent.parent


# -- the database -----------------------------------------------------------------------------------------
@asynccontextmanager
async def database(url: str | None, work: Path) -> AsyncIterator[str]:
    """The given server URL, or a throwaway embedded PostgreSQL under `work` (deleted afterwards)."""
    if url:
        yield url
        return
    loop = asyncio.get_running_loop()
    pg = await loop.run_in_executor(
        None, lambda: start_embedded_postgres(work / "postgres", cleanup="delete")
    )
    try:
        yield pg.dsn()
    finally:
        pg.stop()


# -- participants -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Platform:
    id: str
    domain: str
    enc: PublicJwk
    sig_key: PrivateSigningJwk | None = None  # the platform's own key, to read its inbox (bench.scale)


@dataclass(frozen=True)
class Cast:
    """Who takes part in a benchmark run: one hotline sending, several platforms receiving."""

    hotline: str
    hotline_key: PrivateSigningJwk
    platforms: list[Platform]


async def register_cast(
    dsn: str,
    run_tag: str,
    platforms: int,
    endpoint_of: dict[int, str] | None = None,
    hub_id: str = "bench-hub",
) -> Cast:
    """Migrate and register a hotline and `platforms` platforms (webhook endpoints from `endpoint_of`
    by platform index; the others read a pull inbox). Ids carry `run_tag`, so runs on one database
    do not collide."""
    hotline = f"de-hotline-{run_tag}"
    hotline_key = PrivateSigningJwk.generate(f"{hotline}-sig")
    cast: list[Platform] = []
    async with connect(dsn) as conn:
        await migrate(conn)
        await directory.add_participant(
            conn,
            participant_id=hotline,
            name="Benchmark hotline",
            kind="hotline",
            country="DE",
            endpoint=None,
            accepts=["takedown-request"],
        )
        await directory.add_key(conn, participant_id=hotline, jwk=hotline_key.public().to_dict())
        for i in range(platforms):
            pid = f"ie-platform-{i}-{run_tag}"
            sig, enc = PrivateSigningJwk.generate(f"{pid}-sig"), PrivateEncryptionJwk.generate(f"{pid}-enc")
            await directory.add_participant(
                conn,
                participant_id=pid,
                name=f"Benchmark platform {i}",
                kind="platform",
                country="IE",
                endpoint=(endpoint_of or {}).get(i),
                accepts=["takedown-request"],
            )
            await directory.add_key(conn, participant_id=pid, jwk=sig.public().to_dict())
            await bind_own_key(
                conn, hub_id=hub_id, participant_id=pid, signer=sig, key=enc.public(), now=utc_now()
            )
            cast.append(Platform(pid, f"media{i}.example.com", enc.public(), sig))
    return Cast(hotline, hotline_key, cast)


# -- referrals --------------------------------------------------------------------------------------------
def _sealed(platform: Platform, plaintext: bytes) -> dict[str, Any]:
    entry = {
        "to": platform.id,
        "kid": platform.enc.kid,
        "alg": "X25519-SEALEDBOX",
        "ciphertext": b64url_encode(seal(plaintext, platform.enc)),
    }
    return {"sealed": [entry]}


def _content_item(platform: Platform, n: int, k: int) -> dict[str, Any]:
    return {
        "url": f"https://{platform.domain}/v/{secrets.token_hex(5)}",
        "platform_item_id": f"item-{n}-{k}",
        "hashes": [
            {"alg": "sha256", "value": secrets.token_hex(32)},
            {"alg": "pdq", "value": secrets.token_hex(32)},
        ],
        "description": "Intimate image reposted without consent; fictitious benchmark item.",
    }


def takedown_envelope(hotline: str, platform: Platform, n: int, urls: int = 3) -> dict[str, Any]:
    """A realistic takedown request (about 3 KB signed): `urls` content items on the platform's
    example domain with hashes, the statements the laws require, contact and signature sealed."""
    body = {
        "category": "intimate-image",
        "minor_depicted": "no",
        "content": [_content_item(platform, n, k) for k in range(urls)],
        "non_consent_statement": {
            "affirmed": True,
            "text": "The depicted adult never consented to the publication and reported it to us.",
        },
        "illegality": {
            "explanation": "Intimate images of an identifiable adult were published without consent.",
            "laws": [
                {"jurisdiction": "EU", "citation": "Directive (EU) 2024/1385, Art. 5"},
                {"jurisdiction": "DE", "citation": "StGB section 201a"},
            ],
        },
        "accuracy_statement": {
            "affirmed": True,
            "text": "We believe in good faith that the information in this notice is accurate.",
        },
        "authorisation": {
            "signatory": "authorised-representative",
            "method": "hotline-attestation",
            "signed_at": rfc3339(utc_now()),
            "reference": f"BENCH-{n}",
        },
        "contact": _sealed(platform, b'{"channel":"via-hotline","language":"de"}'),
        "jurisdictions": ["EU", "DE"],
        "identical_copies": True,
    }
    return new_envelope("takedown-request", sender=hotline, to=[platform.id], body=body)


def signed_referral(hotline: str, key: PrivateSigningJwk, platform: Platform, n: int) -> tuple[str, bytes]:
    """(message id, compact JWS bytes) of referral number `n`."""
    envelope = takedown_envelope(hotline, platform, n)
    return envelope["id"], sign_message(envelope, key).encode()


# -- hub processes ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HubFiles:
    """The files every hub process of a run shares: its signing key and its storage key."""

    work: Path
    hub_id: str

    @property
    def signing_key(self) -> Path:
        return self.work / "hub-signing-key.jwk"

    @property
    def storage_key(self) -> Path:
        return self.work / "hub-storage-key"

    def create(self) -> None:
        write_private_jwk(self.signing_key, PrivateSigningJwk.generate())


def hub_env(index: int, dsn: str, files: HubFiles, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of one of the run's hub processes: its database, the run's shared keys."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_DATABASE_URL": dsn,
        "HUB_DATA_DIR": str(files.work / f"hub-{index}"),
        "HUB_SIGNING_KEY_FILE": str(files.signing_key),
        "HUB_STORAGE_KEY_FILE": str(files.storage_key),
        "HUB_ID": files.hub_id,
        "HUB_WORKER_ID": f"{files.hub_id}-{index}",
        "HUB_LOG_LEVEL": "error",
        **(extra_env or {}),
    }


def start_hub(
    index: int,
    port: int,
    dsn: str,
    files: HubFiles,
    extra_env: dict[str, str] | None = None,
    processes: int = 1,
) -> subprocess.Popen[bytes]:
    """`hub serve [--processes N]` on `port`, on `dsn`, with the run's shared keys; its log in the work
    directory."""
    command = ["serve", "--port", str(port), "--processes", str(processes)]
    return _start(command, index, hub_env(index, dsn, files, extra_env), files)


def start_worker(
    index: int, dsn: str, files: HubFiles, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`hub worker` (push delivery without the API) on `dsn`, with the run's shared keys."""
    return _start(["worker"], index, hub_env(index, dsn, files, extra_env), files)


def _start(command: list[str], index: int, env: dict[str, str], files: HubFiles) -> subprocess.Popen[bytes]:
    log = (files.work / f"hub-{index}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "hub", *command], env=env, stdout=log, stderr=subprocess.STDOUT
    )


def stop_processes(procs: Sequence[subprocess.Popen[bytes]], timeout: float = 30.0) -> list[int]:
    """SIGTERM each process we started, then wait (SIGKILL after `timeout`); their exit codes."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    codes = []
    for proc in procs:
        try:
            codes.append(proc.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes.append(proc.wait())
    return codes


def serving_pids(parent: int, processes: int, timeout: float = 60.0) -> list[int]:
    """The processes that do the hub's work: `parent` itself, or the N that `hub serve --processes N`
    started (multiprocessing's resource tracker left out)."""
    if processes == 1:
        return [parent]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [
            c.pid
            for c in psutil.Process(parent).children()
            if "resource_tracker" not in " ".join(_cmdline(c))
        ]
        if len(found) == processes:
            return sorted(found)
        time.sleep(0.1)
    raise RuntimeError(f"hub serve --processes {processes} did not start its processes")


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return list(proc.cmdline())
    except psutil.Error:
        return []


def cpu_seconds(pids: Sequence[int]) -> float:
    """User and system CPU time these processes have used so far, summed."""
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def rss_bytes(pids: Sequence[int]) -> int:
    """Resident memory of these processes and their children, summed."""
    total = 0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            total += proc.memory_info().rss
            total += sum(c.memory_info().rss for c in proc.children(recursive=True))
        except psutil.Error:
            continue
    return total


# -- figures ----------------------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by nearest rank; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def latency_ms(values: Sequence[float]) -> dict[str, float | None]:
    """p50, p99 and max of latencies given in seconds, in milliseconds."""
    return {
        "p50_ms": _ms(percentile(values, 50)),
        "p99_ms": _ms(percentile(values, 99)),
        "max_ms": _ms(max(values) if values else None),
        "n": len(values),
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return out + ("-dirty" if dirty else "") if out else "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


async def machine_info(dsn: str) -> dict[str, Any]:
    """Cores, CPU, memory, PostgreSQL version and durability settings, Python, git commit."""
    conn = await asyncpg.connect(dsn)
    try:
        pg = {
            name: await conn.fetchval(f"SHOW {name}")
            for name in ("server_version", "fsync", "synchronous_commit", "wal_sync_method", "shared_buffers")
        }
    finally:
        await conn.close()
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": pg,
        "git_commit": git_commit(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def run_tag() -> str:
    return uuid.uuid4().hex[:8]
