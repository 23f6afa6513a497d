"""`hub peers sync PEER`: take a peer hub's vouching feed into this hub's directory (docs/federation.md,
section 3): fetched from the peer's endpoint, verified with its registered key, mirrored. Prints the
global ids the feed lists; a failure is one line and exit 1, and changes nothing."""

from __future__ import annotations

import argparse
import asyncio
import json

import aiohttp

from hub.cli.errors import CliError
from hub.cli.operator import operator_connection
from hub.core.clock import utc_now
from hub.services.peer_sync import PeerSyncError, sync_peer
from hub.settings import Settings


def cmd_peers(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> list[str]:
        async with operator_connection(settings) as conn, aiohttp.ClientSession() as session:
            try:
                return await sync_peer(
                    conn,
                    session,
                    args.peer,
                    utc_now(),
                    wait_seconds=args.timeout,
                    accept_rewritten_log=args.accept_rewritten_log,
                )
            except PeerSyncError as exc:
                raise CliError(str(exc)) from None

    listed = asyncio.run(run())
    print(json.dumps({"peer": args.peer, "participants": listed}, indent=2))
    return 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    peers = commands.add_parser("peers", help="peer hubs (docs/federation.md)")
    actions = peers.add_subparsers(dest="action", required=True, metavar="ACTION")
    sync = actions.add_parser("sync", help="fetch, verify and mirror a peer hub's vouching feed")
    sync.add_argument("peer", metavar="PEER", help="the peer hub's id (a participant of kind hub)")
    sync.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the peer (30)")
    sync.add_argument(
        "--accept-rewritten-log",
        action="store_true",
        help="after checking with the peer's operator out of band: forget the head of its log kept, take "
        "its log as it is now, and take its forwardings again",
    )
