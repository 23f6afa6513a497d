"""One hub of a demo, running in this process: its settings, its app on a free local port, its URL.

`hub demo` runs one, `hub demo --federated` two; both start and stop them here, so that a demo hub is
configured in one place (embedded database, own signing key in the demo's data folder, quiet logs).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from hub.api.app import create_app
from hub.api.keys import HUB
from hub.core.hub_identity import HubIdentity
from hub.settings import Settings


@dataclass(frozen=True)
class DemoHub:
    """One running demo hub: its settings (id, database), its base URL and its app."""

    settings: Settings
    dsn: str
    url: str
    app: web.Application

    @property
    def hub_id(self) -> str:
        return self.settings.hub_id

    @property
    def identity(self) -> HubIdentity:
        return self.app[HUB]


@asynccontextmanager
async def running_hub(hub_id: str, dsn: str, data_dir: Path) -> AsyncIterator[DemoHub]:
    """Start a hub on 127.0.0.1 and a free port; stop it (server and workers) on leaving."""
    settings = Settings(
        database_url=dsn,
        data_dir=data_dir,
        hub_id=hub_id,
        host="127.0.0.1",
        port=0,
        signing_key_file=data_dir / "hub-signing-key.jwk",
        log_level="warning",
    )
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield DemoHub(settings, dsn, f"http://{host}:{port}", app)
    finally:
        await runner.cleanup()
