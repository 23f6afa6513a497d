"""The orchestrator: a database, a webhook receiver process, `hub serve` processes, a generator
process; warm-up, closed loop, open loop at fixed rates, drains; then the raw ceiling on the same server.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench import common
from bench.load import generator, receiver
from bench.load.broker import DEFAULT_URL as DEFAULT_BROKER_URL
from bench.load.broker import broker_rate
from bench.load.raw import raw_ceiling
from bench.load.syscalls import count_during

SPAWN = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Options:
    referrals: int = 10_000
    concurrency: int = 32
    rates: tuple[float, ...] = ()  # empty: 25 %, 50 % and 75 % of the closed-loop maximum
    open_seconds: float = 10.0
    poisson: bool = True
    warmup: int = 1_000
    platforms: int = 4
    hub_processes: int = 1
    database_url: str | None = None
    raw_seconds: float = 10.0
    raw_connections: int = 8
    drain_timeout: float = 300.0
    hub_env: dict[str, str] = field(default_factory=dict)
    strace_referrals: int = 1_000  # 0: no system-call count
    broker_url: str = DEFAULT_BROKER_URL
    drain_referrals: int = 4_000  # queued with no worker, then pushed by `hub worker` alone (0: none)


@dataclass
class RssSampler:
    pids: list[int]
    baseline: int = 0
    peak: int = 0
    last: int = 0
    samples: list[tuple[float, int]] = field(default_factory=list)

    def sample(self) -> int:
        self.last = common.rss_bytes(self.pids)
        self.peak = max(self.peak, self.last)
        self.samples.append((time.monotonic(), self.last))
        return self.last

    async def run(self, every: float = 1.0) -> None:
        while True:
            self.sample()
            await asyncio.sleep(every)

    def figures(self) -> dict[str, Any]:
        mib = 2**20
        growth = (self.last - self.baseline) / self.baseline * 100 if self.baseline else None
        return {
            "after_warmup_mib": round(self.baseline / mib, 1),
            "peak_mib": round(self.peak / mib, 1),
            "end_mib": round(self.last / mib, 1),
            "growth_pct": None if growth is None else round(growth, 1),
            "samples": len(self.samples),
            # RSS at each tenth of the run: a leak keeps climbing, warm-up growth levels off.
            "tenths_mib": [
                round(self.samples[min(len(self.samples) - 1, i * len(self.samples) // 10)][1] / mib, 1)
                for i in range(11)
            ]
            if self.samples
            else [],
        }


class Worker:
    """A spawned process answering commands on a pipe (the generator), called without blocking the loop."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        self.pipe, child = SPAWN.Pipe()
        self.process = SPAWN.Process(target=target, args=(child, *args), daemon=True)
        self.process.start()

    async def call(self, command: str, **args: Any) -> dict[str, Any]:
        def roundtrip() -> dict[str, Any]:
            self.pipe.send((command, args))
            answer: dict[str, Any] = self.pipe.recv()
            return answer

        return await asyncio.get_running_loop().run_in_executor(None, roundtrip)

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(10)


def start_receiver(port: int) -> multiprocessing.process.BaseProcess:
    parent, child = SPAWN.Pipe()
    process = SPAWN.Process(target=receiver.serve, args=(port, child), daemon=True)
    process.start()
    if not parent.poll(30):
        process.terminate()
        raise RuntimeError("the webhook receiver did not start")
    parent.recv()
    return process


class LoadBench:
    def __init__(self, options: Options) -> None:
        self.o = options
        self.receiver_url = ""
        self.phases: dict[str, dict[str, Any]] = {}
        self.hub_pids: list[int] = []
        self.accepted_total = 0
        self.figures: dict[str, Any] = {"options": {k: v for k, v in options.__dict__.items()}}

    async def run(self) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="hub-load-") as tmp:
            work = Path(tmp)
            async with common.database(self.o.database_url, work) as dsn:
                self.figures["machine"] = await common.machine_info(dsn)
                await self._run_on(dsn, work)
                self.figures["raw"] = await raw_ceiling(
                    dsn, connections=self.o.raw_connections, seconds=self.o.raw_seconds
                )
                self.figures["broker"] = await broker_rate(self.o.broker_url, seconds=self.o.raw_seconds)
        self._ratio()
        return self.figures

    async def _run_on(self, dsn: str, work: Path) -> None:
        port = common.free_port()
        self.receiver_url = f"http://127.0.0.1:{port}"
        receiver_process = start_receiver(port)
        hubs: list[Any] = []
        gen: Worker | None = None
        try:
            cast = await common.register_cast(
                dsn,
                common.run_tag(),
                self.o.platforms,
                {i: f"{self.receiver_url}/webhook/p{i}" for i in range(self.o.platforms)},
            )
            files = common.HubFiles(work, "bench-hub")
            files.create()
            port = common.free_port()  # one port: `hub serve --processes N` shares it (SO_REUSEPORT)
            hubs = [common.start_hub(0, port, dsn, files, self.o.hub_env, self.o.hub_processes)]
            urls = [f"http://127.0.0.1:{port}"]
            async with aiohttp.ClientSession() as session:
                for url in urls:
                    await common.wait_ready(session, url, time.monotonic() + 60)
            gen = Worker(
                generator.run,
                urls,
                cast.hotline,
                cast.hotline_key.to_dict(),
                [{"id": p.id, "domain": p.domain, "enc": p.enc.to_dict()} for p in cast.platforms],
            )
            self.hub_pids = common.serving_pids(hubs[0].pid, self.o.hub_processes)
            await self._phases(gen, RssSampler(self.hub_pids), dsn)
            self.figures["hub_exit_codes"] = common.stop_processes(hubs)
            hubs = []
            if self.o.drain_referrals:
                await self._backlog_drain(gen, dsn, files, port)
        finally:
            if gen is not None:
                gen.stop()
            if hubs:
                self.figures["hub_exit_codes"] = common.stop_processes(hubs)
            receiver_process.terminate()
            receiver_process.join(10)

    async def _phases(self, gen: Worker, rss: RssSampler, dsn: str) -> None:
        if self.o.warmup:
            await self._phase(gen, "warmup", "closed", self.o.warmup, concurrency=self.o.concurrency)
        rss.baseline = rss.sample()
        sampler = asyncio.create_task(rss.run())
        try:
            closed = await self._phase(
                gen, "closed", "closed", self.o.referrals, concurrency=self.o.concurrency
            )
            peak = closed["accepted_per_s"]
            rates = self.o.rates or tuple(round(peak * f) for f in (0.25, 0.5, 0.75))
            for rate in rates:
                count = max(1, int(rate * self.o.open_seconds))
                await self._phase(
                    gen,
                    f"open@{rate:g}",
                    "open",
                    count,
                    rate=float(rate),
                    poisson=self.o.poisson,
                    max_in_flight=1024,
                )
        finally:
            sampler.cancel()
        rss.sample()
        self.figures["rss"] = rss.figures()
        await self._syscalls(gen)
        await self._totals(dsn)

    async def _phase(self, gen: Worker, name: str, kind: str, count: int, **args: Any) -> dict[str, Any]:
        signing = await gen.call("sign", count=count)  # before the clock starts
        cpu_before = common.cpu_seconds(self.hub_pids)
        raw = await gen.call(kind, count=count, **args)
        figures = summarise_submissions(raw)
        figures["signed"] = {
            "avg_bytes": round(signing["avg_bytes"]),
            "per_s": round(count / max(signing["seconds"], 1e-9)),
        }
        if "rate" in args:
            figures["offered_rate"] = args["rate"]
        self.accepted_total += figures["accepted"]
        arrivals = await self._drain(self.accepted_total)
        figures["delivery"] = summarise_deliveries(raw, arrivals)
        # The hub's CPU for taking these referrals in and pushing them out: steadier than a rate on a
        # machine shared with other work, and what an optimisation of the hot path should lower.
        cpu = common.cpu_seconds(self.hub_pids) - cpu_before
        figures["hub_cpu_ms_per_referral"] = round(cpu * 1000 / max(figures["accepted"], 1), 2)
        self.phases[name] = figures
        self.figures["phases"] = self.phases
        _progress(name, figures)
        return figures

    async def _syscalls(self, gen: Worker) -> None:
        """Network system calls per referral, in and out, over a closed loop of their own under strace."""
        if not self.o.strace_referrals:
            self.figures["syscalls"] = {"skipped": "--strace-referrals 0"}
            return

        async def closed_loop() -> int:  # a phase of its own: its rate is the traced hub's, not reported
            traced = await self._phase(
                gen, "under-strace", "closed", self.o.strace_referrals, concurrency=self.o.concurrency
            )
            return int(traced["accepted"])

        self.figures["syscalls"] = await count_during(self.hub_pids, closed_loop)
        _progress_syscalls(self.figures["syscalls"])

    async def _backlog_drain(self, gen: Worker, dsn: str, files: common.HubFiles, port: int) -> None:
        """The delivery side alone: a backlog accepted by `hub serve` with no push worker
        (`HUB_DELIVERY_WORKER=false`), then pushed by one `hub worker` with nothing else running. Its rate
        is from the backlog's first arrival to its last; its CPU per delivery is the worker's over the
        same span (its start-up left out)."""
        n, env = self.o.drain_referrals, {**self.o.hub_env, "HUB_DELIVERY_WORKER": "false"}
        api = common.start_hub(1, port, dsn, files, env, self.o.hub_processes)
        try:
            async with aiohttp.ClientSession() as session:
                await common.wait_ready(session, f"http://127.0.0.1:{port}", time.monotonic() + 60)
            await gen.call("sign", count=n)
            raw = await gen.call("closed", count=n, concurrency=self.o.concurrency)
        finally:
            api_codes = common.stop_processes([api])
        queued = summarise_submissions(raw)
        ids = {m for i, m in enumerate(raw["ids"]) if raw["status"][i] == 202}
        before = await self._receiver_count()
        worker = common.start_worker(2, dsn, files, env)
        try:
            first_seen = await self._first_arrival(before, worker)
            cpu_first, count_first = common.cpu_seconds([worker.pid]), await self._receiver_count()
            arrivals = await self._drain(self.accepted_total + len(ids))
            cpu_last, count_last = common.cpu_seconds([worker.pid]), await self._receiver_count()
            states = await self._settled(dsn)
        finally:
            worker_codes = common.stop_processes([worker])
        times = sorted(t for m, t in arrivals.items() if m in ids)
        self.accepted_total += len(ids)
        pushed = count_last - count_first
        self.figures["backlog_drain"] = {
            "queued": len(ids),
            "queued_per_s": queued["accepted_per_s"],
            "refused_or_errors": queued["submitted"] - queued["accepted"],
            "delivered": len(times),
            "lost": len(ids) - len(times),
            "per_s": round((len(times) - 1) / (times[-1] - times[0]), 1) if len(times) > 1 else None,
            "worker_cpu_ms_per_delivery": round((cpu_last - cpu_first) * 1000 / max(pushed, 1), 3),
            "first_arrival_after_start_s": round(first_seen, 2),
            "exit_codes": {"api": api_codes, "worker": worker_codes},
            "settings": env,
        }
        _progress_backlog(self.figures["backlog_drain"])
        totals = self.figures["totals"]
        totals["submitted"] += queued["submitted"]
        totals["accepted"] += len(ids)
        totals["delivered"] += len(times)
        totals["lost"] += len(ids) - len(times)
        totals["duplicates"] = self.figures["receiver"]["duplicates"]
        totals["push_deliveries_by_state"] = states

    async def _receiver_count(self) -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.receiver_url + "/_bench/count") as response,
        ):
            return int((await response.json())["unique"])

    async def _first_arrival(self, before: int, worker: Any) -> float:
        """Seconds from the worker's start to its first push (start-up: imports, pool, first claim)."""
        started = time.monotonic()
        while await self._receiver_count() <= before:
            if worker.poll() is not None:
                raise RuntimeError(f"hub worker exited with {worker.returncode} before pushing")
            if time.monotonic() - started > self.o.drain_timeout:
                raise RuntimeError("hub worker pushed nothing before the drain timeout")
            await asyncio.sleep(0.01)
        return time.monotonic() - started

    async def _settled(self, dsn: str) -> dict[str, int]:
        """Push deliveries by state once none is in flight (the hub records a push when its answer is
        back and its batch commits, after the receiver counted it), or at the drain timeout."""
        conn = await asyncpg.connect(dsn)
        try:
            until = time.monotonic() + self.o.drain_timeout
            query = "SELECT state, count(*) AS n FROM deliveries WHERE channel = 'push' GROUP BY state"
            while True:
                states = {r["state"]: r["n"] for r in await conn.fetch(query)}
                if "in_flight" not in states or time.monotonic() >= until:
                    return states
                await asyncio.sleep(0.1)
        finally:
            await conn.close()

    async def _drain(self, expected: int) -> dict[str, float]:
        """Wait until the receiver has `expected` distinct messages (or the drain timeout): arrivals."""
        until = time.monotonic() + self.o.drain_timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < until:
                async with session.get(self.receiver_url + "/_bench/count") as response:
                    count = await response.json()
                if count["unique"] >= expected:
                    break
                await asyncio.sleep(0.1)
            async with session.get(self.receiver_url + "/_bench/arrivals") as response:
                arrivals: dict[str, float] = await response.json()
            async with session.get(self.receiver_url + "/_bench/count") as response:
                self.figures["receiver"] = await response.json()
        return arrivals

    async def _totals(self, dsn: str) -> None:
        phases = self.phases.values()
        submitted = sum(p["submitted"] for p in phases)
        accepted = sum(p["accepted"] for p in phases)
        delivered = sum(p["delivery"]["delivered"] for p in phases)
        states = await self._settled(dsn)
        self.figures["totals"] = {
            "submitted": submitted,
            "accepted": accepted,
            "delivered": delivered,
            "lost": accepted - delivered,
            "duplicates": self.figures["receiver"]["duplicates"],
            "push_deliveries_by_state": states,
        }

    def _ratio(self) -> None:
        closed = self.phases.get("closed", {})
        raw = self.figures["raw"]["rows_per_s"]
        hub = closed.get("accepted_per_s", 0.0)
        self.figures["ratio_hub_to_raw"] = round(hub / raw, 3) if raw else None


def summarise_submissions(raw: dict[str, Any]) -> dict[str, Any]:
    ok = [i for i, s in enumerate(raw["status"]) if s == 202]
    latencies = [raw["answered"][i] - raw["scheduled"][i] for i in ok]
    seconds = raw["ended"] - raw["started"]
    errors = sum(1 for s in raw["status"] if s == 0)
    return {
        "submitted": len(raw["status"]),
        "accepted": len(ok),
        "refused": len(raw["status"]) - len(ok) - errors,
        "errors": errors,
        "seconds": round(seconds, 3),
        "accepted_per_s": round(len(ok) / seconds, 1) if seconds > 0 else 0.0,
        "accept_latency": common.latency_ms(latencies),
    }


def summarise_deliveries(raw: dict[str, Any], arrivals: dict[str, float]) -> dict[str, Any]:
    """End-to-end latency (the hub's 202 to the receiver's first arrival) and delivery throughput."""
    pairs = [
        (raw["answered"][i], arrivals[m])
        for i, m in enumerate(raw["ids"])
        if raw["status"][i] == 202 and m in arrivals
    ]
    accepted = sum(1 for s in raw["status"] if s == 202)
    times = sorted(arrived for _, arrived in pairs)
    figures: dict[str, Any] = {
        "delivered": len(pairs),
        "lost": accepted - len(pairs),
        "e2e_latency": common.latency_ms([arrived - answered for answered, arrived in pairs]),
    }
    if len(times) > 1 and times[-1] > times[0]:
        figures["per_s"] = round((len(times) - 1) / (times[-1] - times[0]), 1)
        after = [t for t in times if t > raw["ended"]]
        if len(after) >= 100:  # the backlog left when submissions stopped, delivered with nothing else on
            figures["backlog_after_load"] = len(after)
            figures["backlog_drain_per_s"] = round(len(after) / (after[-1] - raw["ended"]), 1)
    return figures


def _progress(name: str, figures: dict[str, Any]) -> None:
    lat, e2e = figures["accept_latency"], figures["delivery"]["e2e_latency"]
    print(
        f"  {name:<14} accepted {figures['accepted']:>7}/{figures['submitted']:<7} "
        f"{figures['accepted_per_s']:>8.1f}/s  p50 {lat['p50_ms']} ms  p99 {lat['p99_ms']} ms  "
        f"delivered {figures['delivery']['delivered']}  e2e p99 {e2e['p99_ms']} ms",
        flush=True,
    )


def _progress_backlog(b: dict[str, Any]) -> None:
    print(
        f"  backlog        {b['queued']} queued with no worker, pushed by hub worker alone: "
        f"{b['per_s']} deliveries/s, {b['worker_cpu_ms_per_delivery']} ms CPU each, lost {b['lost']}",
        flush=True,
    )


def _progress_syscalls(figures: dict[str, Any]) -> None:
    if "skipped" in figures:
        print(f"  syscalls       skipped: {figures['skipped']}", flush=True)
    else:
        print(
            f"  syscalls       {figures['referrals']} referrals under strace: {figures['per_referral']}",
            flush=True,
        )


def summary_table(figures: dict[str, Any]) -> str:
    rows = [
        ("phase", "accepted/s", "accept p50", "accept p99", "e2e p50", "e2e p99", "delivered/s", "hub CPU")
    ]
    for name, p in figures["phases"].items():
        d = p["delivery"]
        rows.append(
            (
                name,
                f"{p['accepted_per_s']:.0f}",
                f"{p['accept_latency']['p50_ms']} ms",
                f"{p['accept_latency']['p99_ms']} ms",
                f"{d['e2e_latency']['p50_ms']} ms",
                f"{d['e2e_latency']['p99_ms']} ms",
                str(d.get("per_s", "-")),
                f"{p.get('hub_cpu_ms_per_referral', '-')} ms",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines) + "\n" + _footer(figures)


def _footer(figures: dict[str, Any]) -> str:
    raw, totals, rss = figures["raw"], figures["totals"], figures["rss"]
    closed = figures["phases"].get("closed", {})
    drain = closed.get("delivery", {}).get("backlog_drain_per_s", "-")
    m = figures["machine"]
    return "\n".join(
        [
            f"raw ceiling: {raw['rows_per_s']:.0f} rows/s ({raw['connections']} connections, one row per "
            f"transaction, {raw['row_bytes']['signed_form']} B signed form, fsync {raw['fsync']}, "
            f"synchronous_commit {raw['synchronous_commit']})",
            f"ratio hub/raw: {figures['ratio_hub_to_raw']}",
            _syscall_line(figures.get("syscalls", {"skipped": "not run"})),
            _broker_line(figures.get("broker", {"skipped": "not run"})),
            f"backlog drain after the closed loop (intake still finishing): {drain} deliveries/s",
            _backlog_line(figures.get("backlog_drain")),
            f"totals: submitted {totals['submitted']}, accepted {totals['accepted']}, delivered "
            f"{totals['delivered']}, lost {totals['lost']}, duplicates {totals['duplicates']}",
            f"hub RSS: {rss['after_warmup_mib']} MiB after warm-up, peak {rss['peak_mib']}, end "
            f"{rss['end_mib']} ({rss['growth_pct']} %); by tenths of the run: {rss.get('tenths_mib')}",
            f"machine: {m['cores']} cores {m['cpu_model']}, PostgreSQL {m['postgresql']['server_version']}, "
            f"Python {m['python']}, commit {m['git_commit']}",
        ]
    )


def _backlog_line(b: dict[str, Any] | None) -> str:
    if not b:
        return "backlog drain by hub worker alone: skipped (--drain-referrals 0)"
    return (
        f"backlog drain by hub worker alone ({b['queued']} queued while none ran): {b['per_s']} "
        f"deliveries/s, worker CPU {b['worker_cpu_ms_per_delivery']} ms per delivery, lost {b['lost']}"
    )


def _syscall_line(s: dict[str, Any]) -> str:
    if "skipped" in s:
        return f"system calls per referral: skipped ({s['skipped']})"
    per = s["per_referral"]
    return (
        f"system calls per referral, in and out ({s['referrals']} under strace -c -f): "
        f"sendto {per['sendto']}, recvfrom {per['recvfrom']}, epoll_wait {per['epoll_wait']}; "
        f"send+recv {s['send_recv_per_referral']}, all calls {s['all_calls_per_referral']}"
    )


def _broker_line(b: dict[str, Any]) -> str:
    if "skipped" in b:
        return f"peer: message broker skipped ({b['skipped']})"
    return (
        f"peer: RabbitMQ {b['messages_per_s']:.0f} messages/s (durable queue, persistent "
        f"{b['message_bytes']} B, publisher confirms, {b['in_flight']} in flight; none of the hub's work)"
    )


def parse_rates(text: str) -> tuple[float, ...]:
    return tuple(float(r) for r in text.split(",") if r.strip())


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.startswith("HUB_"):
            raise ValueError(f"--hub-env takes HUB_NAME=value, got {pair!r}")
        env[name] = value
    return env


__all__ = ["Connection", "LoadBench", "Options", "parse_env", "parse_rates", "summary_table"]
