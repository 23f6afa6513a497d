"""Several hubs on one machine, each its own database, data directory, signing key and aiohttp server on
a port of its own, all peers of each other (docs/federation.md): the harness of the three-hub tests.

A hub can be stopped (its server, its app's pool and workers closed) and started again on the same
database, key and port, as an operator restarts one. Delivery workers run a round at a time (`settle`),
wired as `create_app` wires them, so a test decides when forwarding happens; each hub has its own fake
clock, moved together (`advance`)."""

from __future__ import annotations

import random
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from adapters.registry import build_adapters
from hub.api.app import adapter_context, create_app
from hub.api.keys import DSN, HUB, INTAKE, POOL
from hub.core.hub_identity import HubIdentity
from hub.delivery.worker import DeliveryWorker, WorkerConfig
from hub.services import vouching
from hub.store import directory
from hub.store.database import connect
from tests.conftest import with_database
from tests.factories import FakeClock, Member, delivery_worker, jose
from tests.test_federation_forwarding import hub_settings


def free_port() -> int:
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        return int(bound.getsockname()[1])


@dataclass
class MeshHub:
    """One hub of the mesh: its database (and a connection of the test's to it), clock and server."""

    hub_id: str
    database_url: str
    data_dir: Path
    db: asyncpg.Connection
    clock: FakeClock = field(default_factory=FakeClock)
    port: int = field(default_factory=free_port)
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def app(self) -> web.Application:
        assert self.runner is not None, f"{self.hub_id} is stopped"
        return self.runner.app

    @property
    def identity(self) -> HubIdentity:
        return self.app[HUB]

    async def start(self) -> None:
        app = create_app(
            hub_settings(self.hub_id, self.database_url, self.data_dir), clock=self.clock, background=False
        )
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def stop(self) -> None:
        """The server closed (what is in flight answered or cut) and the app's resources with it."""
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @property
    def running(self) -> bool:
        return self.runner is not None


@dataclass
class Mesh:
    hubs: dict[str, MeshHub]
    session: aiohttp.ClientSession

    def __getitem__(self, hub_id: str) -> MeshHub:
        return self.hubs[hub_id]

    def advance(self, **delta: float) -> None:
        for hub in self.hubs.values():
            hub.clock.advance(**delta)

    def worker(self, hub: MeshHub, grace: float = 5.0) -> DeliveryWorker:
        app = hub.app
        return delivery_worker(
            app[POOL],
            app[DSN],
            build_adapters(adapter_context(app, self.session)),
            app[INTAKE],
            hub.clock,
            WorkerConfig(poll_interval=0.05, grace=grace),
            rng=random.Random(7),
        )

    async def settle(self, rounds: int = 20) -> int:
        """Every running hub's delivery worker, a round each in turn, until a pass claims nothing; how
        many deliveries were attempted."""
        attempted = 0
        for _ in range(rounds):
            claimed = 0
            for hub in self.hubs.values():
                if not hub.running:
                    continue
                worker = self.worker(hub)
                claimed += await worker.run_once()
                await worker.wait_idle()
            attempted += claimed
            if claimed == 0:
                return attempted
        raise AssertionError(f"still delivering after {rounds} rounds")

    async def sync(self, into: MeshHub, source: MeshHub) -> list[str]:
        """`into` mirrors the feed `source` serves (what `hub peers sync` does)."""
        async with self.session.get(source.url + "/v1/federation/participants") as response:
            feed = await response.text()
        verified = await vouching.peer_feed(into.db, source.hub_id, feed)
        return await vouching.mirror_feed(into.db, verified, into.clock())

    async def sync_all(self) -> None:
        for into in self.hubs.values():
            for source in self.hubs.values():
                if into is not source:
                    await self.sync(into, source)

    async def submit(self, hub: MeshHub, member: Member, envelope: dict[str, Any]) -> dict[str, Any]:
        signed = member.sign(envelope)
        async with self.session.post(hub.url + "/v1/messages", **jose(signed)) as response:
            body = await response.json()
            assert response.status == 202, body
        return {**body, "signed": signed}

    async def get(self, hub: MeshHub, member: Member, path: str) -> Any:
        token = member.token(audience=hub.hub_id, now=hub.clock.ts())
        async with self.session.get(hub.url + path, headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def case(self, hub: MeshHub, member: Member, case_id: str) -> dict[str, Any]:
        return dict(await self.get(hub, member, f"/v1/cases/{case_id}"))

    async def inbox(self, hub: MeshHub, member: Member) -> list[dict[str, Any]]:
        return list((await self.get(hub, member, "/v1/inbox"))["messages"])


def as_seen_on(member: Member, home_hub: str) -> Member:
    """`member` as the other hubs name it: its global id, its own keys."""
    return Member(f"{member.id}@{home_hub}", member.kind, member.country, member.key, member.enc)


@asynccontextmanager
async def cloned_databases(server_dsn: str, template: str, count: int) -> AsyncIterator[list[str]]:
    """`count` databases, each a clone of the migrated template, dropped afterwards."""
    names = [f"hub_mesh_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    admin = await asyncpg.connect(server_dsn)
    try:
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        yield [with_database(server_dsn, name) for name in names]
    finally:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def mesh_of(
    server_dsn: str, template: str, hub_ids: Sequence[str], tmp_path: Path
) -> AsyncIterator[Mesh]:
    """Hubs `hub_ids`, started, each registered on every other as a peer (kind `hub`, its key, its URL)."""
    async with AsyncExitStack() as stack:
        urls = await stack.enter_async_context(cloned_databases(server_dsn, template, len(hub_ids)))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        hubs: dict[str, MeshHub] = {}
        for hub_id, url in zip(hub_ids, urls, strict=True):
            hub = MeshHub(hub_id, url, tmp_path / hub_id, await stack.enter_async_context(connect(url)))
            hubs[hub_id] = hub
            stack.push_async_callback(hub.stop)
            await hub.start()
        for hub in hubs.values():
            for peer in hubs.values():
                if peer is not hub:
                    await register_peer(hub.db, peer.identity, peer.url)
        yield Mesh(hubs, session)


async def register_peer(conn: asyncpg.Connection, peer: HubIdentity, endpoint: str) -> None:
    await directory.add_participant(
        conn,
        participant_id=peer.hub_id,
        name=f"Peer {peer.hub_id}",
        kind="hub",
        country="EU",
        endpoint=endpoint,
        accepts=[],
    )
    await directory.add_key(conn, participant_id=peer.hub_id, jwk=peer.public_jwk())
