"""Operator commands for push delivery: run workers alone, inspect deliveries and destinations,
re-queue dead letters, unpark a destination."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from dataclasses import replace
from typing import Any

import asyncpg
from aiohttp import web

from hub.cli.errors import CliError
from hub.cli.operator import json_default, operator_connection
from hub.core.clock import utc_now
from hub.log import configure_logging
from hub.settings import Settings
from hub.store import deliveries

STATES = ("pending", "in_flight", "delivered", "retrieved", "dead")


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run the delivery worker (and housekeeping) without serving the API, until SIGTERM or SIGINT."""
    from hub.api.app import create_app

    configure_logging(settings.log_level)

    async def run() -> None:
        # HUB_DELIVERY_WORKER=false keeps the worker out of `hub serve`, never out of `hub worker`
        worker_settings = replace(settings, delivery=replace(settings.delivery, in_serve=True))
        runner = web.AppRunner(create_app(worker_settings), handle_signals=False)
        await runner.setup()  # opens every resource in cleanup_ctx, the worker included
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()  # stops claiming, lets in-flight deliveries finish within the grace

    asyncio.run(run())
    return 0


def cmd_deliveries(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> Any:
        async with operator_connection(settings) as conn:
            return await _ACTIONS[args.action](conn, args)

    print(json.dumps(asyncio.run(run()), indent=2, default=json_default))
    return 0


async def _list(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    return await deliveries.list_deliveries(
        conn, state=args.state, recipient=args.recipient, after=args.after, limit=args.limit
    )


async def _show(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    found = await deliveries.get_delivery(conn, args.seq)
    if found is None:
        raise CliError(f"no delivery {args.seq}")
    return found


async def _requeue(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    if args.all_dead == bool(args.seqs):
        raise CliError("name the deliveries to re-queue, or give --all-dead (not both)", exit_code=2)
    seqs = await deliveries.dead_deliveries(conn, args.recipient) if args.all_dead else args.seqs
    requeued = await deliveries.requeue(conn, seqs, utc_now())
    skipped = sorted(set(seqs) - set(requeued))
    if skipped and not args.all_dead:
        raise CliError(
            f"not dead, so not re-queued: {', '.join(map(str, skipped))} (re-queued {len(requeued)})"
        )
    return {"requeued": requeued}


async def _destinations(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    return await deliveries.list_destinations(conn)


async def _unpark(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    resumed = await deliveries.unpark(conn, args.participant_id, utc_now())
    if resumed is None:
        raise CliError(f"no push destination '{args.participant_id}'")
    return {"unparked": args.participant_id, "resumed": resumed}


_ACTIONS = {
    "list": _list,
    "show": _show,
    "requeue": _requeue,
    "destinations": _destinations,
    "unpark": _unpark,
}


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands.add_parser("worker")
    group = commands.add_parser("deliveries")
    actions = group.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="deliveries, oldest first")
    listing.add_argument("--state", choices=STATES)
    listing.add_argument("--recipient")
    listing.add_argument("--after", type=int, default=0, help="list deliveries after this number")
    listing.add_argument("--limit", type=int, default=100)
    actions.add_parser("show", help="one delivery and its attempts").add_argument("seq", type=int)
    requeue = actions.add_parser("requeue", help="give dead deliveries a fresh retry budget")
    requeue.add_argument("seqs", type=int, nargs="*")
    requeue.add_argument("--all-dead", action="store_true")
    requeue.add_argument("--recipient", help="with --all-dead: only this recipient's")
    actions.add_parser("destinations", help="push destinations: failures, backoff, parking")
    actions.add_parser(
        "unpark", help="resume a parked destination: ID, or ID/NAME for a further one (hub participants show)"
    ).add_argument("participant_id")
