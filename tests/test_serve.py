"""`hub serve` and `hub worker` as processes: they deliver, and on SIGTERM stop claiming, let the
delivery in flight finish within the grace period, and exit 0."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from hub.core.jose import PrivateEncryptionJwk, PrivateSigningJwk
from hub.store import directory
from tests.factories import Member, jose, register_keys, takedown


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SlowReceiver:
    """Holds each webhook request until released, so a delivery is in flight when SIGTERM comes."""

    def __init__(self) -> None:
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.keys: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.keys.append(request.headers["Idempotency-Key"])
        self.arrived.set()
        await self.release.wait()
        return web.json_response({"status": "applied"})


async def register(db: asyncpg.Connection, receiver_url: str) -> tuple[Member, Member]:
    members = []
    for pid, kind, country, endpoint in (
        ("de-hotline-test", "hotline", "DE", None),
        ("ie-platform-test", "platform", "IE", receiver_url),
    ):
        key, enc = PrivateSigningJwk.generate(f"{pid}-sig"), PrivateEncryptionJwk.generate(f"{pid}-enc")
        accepts = ["takedown-request"]
        await directory.add_participant(
            db,
            participant_id=pid,
            name=f"Fictitious {kind}",
            kind=kind,
            country=country,
            endpoint=endpoint,
            accepts=accepts,
        )
        await register_keys(db, pid, key, enc)
        members.append(Member(pid, kind, country, key, enc))
    return members[0], members[1]


async def start(
    command: str,
    database_url: str,
    tmp_path: Path,
    port: int,
    storage_key: Path | None = None,
    *args: str,
    extra_env: dict[str, str] | None = None,
) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_DATABASE_URL=database_url,
        HUB_DATA_DIR=str(tmp_path / "data"),
        HUB_ID="test-hub",
        HUB_PORT=str(port),
        HUB_DELIVERY_POLL_SECONDS="0.1",
        HUB_SHUTDOWN_GRACE_SECONDS="20",
        HUB_SIGNING_KEY_FILE=str(tmp_path / "hub-key.jwk"),
        # every hub process of one deployment shares the storage key, as it shares the signing key
        HUB_STORAGE_KEY_FILE=str(storage_key or tmp_path / "hub-storage-key"),
        HUB_LOG_LEVEL="info",
    )
    env.update(extra_env or {})
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub",
        command,
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(url + "/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the hub did not become ready")


async def test_sigterm_lets_the_delivery_in_flight_finish(
    aiohttp_server: Any, database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    receiver = SlowReceiver()
    app = web.Application()
    app.router.add_post("/webhook", receiver.handle)
    server = await aiohttp_server(app)
    hotline, platform = await register(db, str(server.make_url("/webhook")))
    port = free_port()
    hub = await start("serve", database_url, tmp_path, port)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url)
        envelope = takedown(hotline, platform)
        async with (
            aiohttp.ClientSession() as session,
            session.post(url + "/v1/messages", **jose(hotline.sign(envelope))) as response,
        ):
            assert response.status == 202
        await asyncio.wait_for(receiver.arrived.wait(), 20)

        hub.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        assert hub.returncode is None  # still waiting for the delivery in flight
        receiver.release.set()
        _, stderr = await asyncio.wait_for(hub.communicate(), 30)
    finally:
        if hub.returncode is None:
            hub.kill()
            await hub.wait()
    assert hub.returncode == 0, stderr.decode()[-2000:]
    assert receiver.keys == [envelope["id"]]
    state = await db.fetchval("SELECT state FROM deliveries WHERE message_id = $1", uuid.UUID(envelope["id"]))
    assert state == "delivered"
    assert b"delivery.worker_stopped" in stderr
    assert b"Traceback" not in stderr


async def test_hub_worker_delivers_without_serving_the_api(
    aiohttp_server: Any,
    aiohttp_client: Any,
    settings: Any,
    database_url: str,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    from hub.api.app import create_app

    receiver = SlowReceiver()
    receiver.release.set()
    app = web.Application()
    app.router.add_post("/webhook", receiver.handle)
    server = await aiohttp_server(app)
    hotline, platform = await register(db, str(server.make_url("/webhook")))
    api = await aiohttp_client(create_app(settings, background=False))  # accepts, never pushes
    envelope = takedown(hotline, platform)
    assert (await api.post("/v1/messages", **jose(hotline.sign(envelope)))).status == 202

    port = free_port()
    worker = await start("worker", database_url, tmp_path, port, storage_key=settings.storage_key_path)
    try:
        await asyncio.wait_for(receiver.arrived.wait(), 30)
        with contextlib.suppress(aiohttp.ClientError):  # no API is served by a worker
            async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/healthz"):
                raise AssertionError("hub worker served HTTP")
        worker.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(worker.communicate(), 30)
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
    assert worker.returncode == 0, stderr.decode()[-2000:]
    assert receiver.keys == [envelope["id"]]


async def test_split_roles_serve_only_takes_requests_and_hub_worker_pushes(
    aiohttp_server: Any,
    aiohttp_client: Any,
    settings: Any,
    database_url: str,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    """HUB_DELIVERY_WORKER=false: `hub serve` runs everything but the push worker (its housekeeping,
    clocks and peer sync included); `hub worker` pushes whatever the setting says."""
    from dataclasses import replace

    from hub.api.app import create_app
    from hub.api.keys import WORKER

    receiver = SlowReceiver()
    receiver.release.set()
    app = web.Application()
    app.router.add_post("/webhook", receiver.handle)
    server = await aiohttp_server(app)
    hotline, platform = await register(db, str(server.make_url("/webhook")))
    api_only = replace(settings, delivery=replace(settings.delivery, in_serve=False, poll_interval=0.05))
    hub_app = create_app(api_only)  # background work on, the push worker off
    api = await aiohttp_client(hub_app)
    assert WORKER not in hub_app
    envelope = takedown(hotline, platform)
    assert (await api.post("/v1/messages", **jose(hotline.sign(envelope)))).status == 202
    await asyncio.sleep(0.5)  # ten of a worker's polls: none runs in this process
    pending = await db.fetchval("SELECT count(*) FROM deliveries WHERE state = 'pending'")
    assert (pending, receiver.keys) == (1, [])

    port = free_port()
    worker = await start(
        "worker",
        database_url,
        tmp_path,
        port,
        settings.storage_key_path,
        extra_env={"HUB_DELIVERY_WORKER": "false"},  # the split deployment's shared configuration
    )
    try:
        await asyncio.wait_for(receiver.arrived.wait(), 30)
        worker.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(worker.communicate(), 30)
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
    assert worker.returncode == 0, stderr.decode()[-2000:]
    assert receiver.keys == [envelope["id"]]


def hub_processes_of(parent: int) -> list[int]:
    """The hub processes `hub serve --processes N` started (multiprocessing's helpers left out)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


async def started_all(hub: asyncio.subprocess.Process) -> bytes:
    """The parent's log up to the line saying every process listens (the rest stays in the pipe)."""
    assert hub.stderr is not None
    seen = b""
    while b"hub.processes_started" not in seen:
        line = await asyncio.wait_for(hub.stderr.readline(), 60)
        assert line, seen.decode()[-2000:]
        seen += line
    return seen


async def test_serve_with_processes_shares_the_port_and_stops_them_all_on_sigterm(
    aiohttp_server: Any, database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """Issue 21: `hub serve --processes 2` runs two whole hubs on one port; a referral goes in and out;
    SIGTERM to the parent stops both gracefully and the parent exits 0."""
    receiver = SlowReceiver()
    receiver.release.set()
    app = web.Application()
    app.router.add_post("/webhook", receiver.handle)
    server = await aiohttp_server(app)
    hotline, platform = await register(db, str(server.make_url("/webhook")))
    port = free_port()
    hub = await start("serve", database_url, tmp_path, port, None, "--processes", "2")
    url = f"http://127.0.0.1:{port}"
    try:
        started = await started_all(hub)
        children = hub_processes_of(hub.pid)
        assert len(children) == 2, children
        envelope = takedown(hotline, platform)
        async with (
            aiohttp.ClientSession() as session,
            session.post(url + "/v1/messages", **jose(hotline.sign(envelope))) as response,
        ):
            assert response.status == 202
        await asyncio.wait_for(receiver.arrived.wait(), 20)

        hub.send_signal(signal.SIGTERM)
        _, rest = await asyncio.wait_for(hub.communicate(), 60)
    finally:
        if hub.returncode is None:
            hub.kill()
            await hub.wait()
    stderr = started + rest
    assert hub.returncode == 0, stderr.decode()[-2000:]
    assert receiver.keys == [envelope["id"]]  # delivered once, by one of the two
    assert not any(alive(pid) for pid in children)
    assert stderr.count(b"delivery.worker_stopped") == 2
    assert b"hub.processes_stopped" in stderr
    assert b"Traceback" not in stderr


async def test_a_hub_process_that_dies_stops_the_group_for_the_supervisor_to_restart(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    hub = await start("serve", database_url, tmp_path, port, None, "--processes", "2")
    try:
        await started_all(hub)
        first, second = hub_processes_of(hub.pid)
        os.kill(first, signal.SIGKILL)
        _, stderr = await asyncio.wait_for(hub.communicate(), 60)
    finally:
        if hub.returncode is None:
            hub.kill()
            await hub.wait()
    assert hub.returncode == 1, stderr.decode()[-2000:]
    assert b"hub.process_ended" in stderr
    assert not alive(second)  # the other was stopped, not left serving alone


async def test_serve_on_a_busy_port_says_the_port_is_busy(database_url: str, tmp_path: Path) -> None:
    """Issue 17: not "cannot use the database", and before the hub touches the database."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for extra in ((), ("--processes", "2")):
            hub = await start("serve", database_url, tmp_path, port, None, *extra)
            _, stderr = await asyncio.wait_for(hub.communicate(), 60)
            assert hub.returncode == 1
            assert f"cannot listen on 127.0.0.1:{port}: the port is busy" in stderr.decode()
            assert b"database" not in stderr.split(b"\n")[-2]
            assert b"delivery.worker_started" not in stderr  # refused before anything started


async def test_serve_says_where_it_listens(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    hub = await start("serve", database_url, tmp_path, port)
    try:
        await wait_ready(f"http://127.0.0.1:{port}")
        hub.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(hub.communicate(), 60)
    finally:
        if hub.returncode is None:
            hub.kill()
            await hub.wait()
    assert f'"url": "http://127.0.0.1:{port}", "event": "hub.listening"'.encode() in stderr
