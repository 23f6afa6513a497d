"""`hub serve --processes N`: N hub processes on one port, for every core of a bigger machine.

The parent prepares what the processes share, once: the hub's key files (so no two processes race to
create them), the database (the embedded server is started here and owned by the parent; a configured
`HUB_DATABASE_URL` is used as it is) and its migrations. It then reserves the port with `SO_REUSEPORT`
(a bound socket that never listens, so a port 0 becomes one known port), starts the N processes, each a
whole hub (API and workers) listening with `SO_REUSEPORT` on that port, and the kernel spreads new
connections over them. Everything the workers share is already safe for several processes: deliveries and
clocks are claimed with `FOR UPDATE SKIP LOCKED` under leases, the audit sequencer runs one at a time under
an advisory lock, and migrations serialise on theirs.

SIGTERM or SIGINT to the parent stops every process gracefully (each drains its deliveries and seals the
audit log, as one `hub serve` does) and waits for them; a process that exits on its own stops the others
and the parent exits non-zero, so a supervisor (systemd, Kubernetes) restarts the whole group. On
Kubernetes, the alternative is more replicas of one process each, behind the Service.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import signal
import socket
import threading
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import structlog

from hub.keyfile import load_or_create_signing_key, load_or_create_storage_key
from hub.settings import Settings
from hub.store.database import connect, database_url
from hub.store.migrate import migrate

log = structlog.get_logger("hub.processes")

STOP_MARGIN_SECONDS = 15.0  # beyond the delivery grace, before a process that will not stop is killed


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound to host:port with SO_REUSEPORT that never listens: it fixes the port (a free one for
    port 0) for the processes that will listen on it, and receives no connection itself."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    holder = socket.socket(family, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        holder.bind((host, port))
    except OSError:
        holder.close()
        raise
    return holder


def serve_processes(settings: Settings, processes: int) -> int:
    """Run `processes` hub processes on settings.host:settings.port until a signal; the exit code."""
    load_or_create_signing_key(settings.signing_key_file)
    load_or_create_storage_key(settings.storage_key_path)
    dsn, embedded = database_url(settings.database_url, settings.data_dir)
    asyncio.run(_migrate(dsn))
    holder = reserve_port(settings.host, settings.port)
    port = holder.getsockname()[1]
    shared = settings.with_changes(database_url=dsn, port=port)
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each: no inherited event loop
    ready = [context.Event() for _ in range(processes)]
    children: list[BaseProcess] = [
        context.Process(target=_child, args=(shared, index, ready[index]), name=f"hub-{index}", daemon=False)
        for index in range(processes)
    ]
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for child in children:
            child.start()
        code = _await_ready(children, ready, stopping)
        if code is None:
            log.info(
                "hub.processes_started", processes=processes, port=port, url=f"http://{settings.host}:{port}"
            )
            code = _supervise(children, stopping)
        _stop(children, settings.delivery.shutdown_grace_seconds + STOP_MARGIN_SECONDS)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        holder.close()
        if embedded is not None:
            embedded.stop()
    log.info("hub.processes_stopped", processes=processes, exit_code=code)
    return code


async def _migrate(dsn: str) -> None:
    async with connect(dsn) as conn:
        await migrate(conn)


def _await_ready(children: list[BaseProcess], ready: list[Any], stopping: threading.Event) -> int | None:
    """Wait until every process listens (None); 0 if a signal came first, 1 if a process ended first."""
    while not all(event.is_set() for event in ready):
        if stopping.wait(0.1):
            return 0
        ended = _ended(children)
        if ended is not None:
            return ended
    return None


def _ended(children: list[BaseProcess]) -> int | None:
    """1, logged, if a process has ended on its own; else None."""
    for child in children:
        if not child.is_alive():
            log.error("hub.process_ended", process=child.name, exit_code=child.exitcode)
            return 1
    return None


def _supervise(children: list[BaseProcess], stopping: threading.Event) -> int:
    """Wait for a signal (exit 0) or for a process to end on its own (exit 1)."""
    while not stopping.wait(0.5):
        ended = _ended(children)
        if ended is not None:
            return ended
    return 0


def _stop(children: list[BaseProcess], timeout: float) -> None:
    """SIGTERM to every process still running, then wait; kill what has not stopped in `timeout`."""
    for child in children:
        if child.is_alive():
            with contextlib.suppress(ProcessLookupError):
                child.terminate()  # SIGTERM: the process's own graceful stop
    for child in children:
        child.join(timeout)
        if child.is_alive():
            log.error("hub.process_killed", process=child.name)
            child.kill()
            child.join()


def _child(settings: Settings, index: int, ready: Any) -> None:
    """One hub process: the whole application, listening with SO_REUSEPORT on the reserved port; `ready`
    (a multiprocessing Event) is set once it listens."""
    from hub.api.app import create_app
    from hub.api.server import serve
    from hub.log import configure_logging

    configure_logging(settings.log_level)
    structlog.contextvars.bind_contextvars(process=index)
    app = create_app(settings)
    asyncio.run(
        serve(app, settings.host, settings.port, reuse_port=True, on_started=lambda _site: ready.set())
    )
