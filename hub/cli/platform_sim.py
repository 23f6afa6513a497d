"""`hub platform-sim`: run the reference platform (`hub.platform_sim`) until SIGTERM or SIGINT.

It runs on the platform's side, with the platform's private key, and talks to the hub only through its
public API, as a real integration would.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

from hub.cli.errors import CliError
from hub.keyfile import KeyFileError, read_signing_key
from hub.log import configure_logging
from hub.platform_sim import Decision, PlatformSimulator, SimulatorConfig

DESCRIPTION = """\
A reference platform for trying the hub out and for reading as an example. By default it receives
referrals by webhook at POST /webhook (register it with --adapter webhook --endpoint
http://HOST:PORT/webhook); with --pull it long-polls the hub's inbox instead. Either way it checks the
hub's token and receipt and the sender's signature, drops repeats, acknowledges each takedown request
at once and, after --delay seconds, reports its decision. Counters are at GET /stats.
"""


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = commands.add_parser("platform-sim", description=DESCRIPTION)
    sim.add_argument("--key", required=True, help="the platform's Ed25519 private JWK file")
    sim.add_argument("--as", dest="as_", required=True, metavar="ID", help="the platform's participant id")
    sim.add_argument(
        "--hub", default=os.environ.get("HUB_URL", "http://127.0.0.1:8080"), help="the hub's URL"
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    sim.add_argument("--port", type=int, default=8090, help="port to listen on (default: 8090)")
    sim.add_argument(
        "--decide",
        choices=[d.value for d in Decision],
        default=Decision.REMOVE.value,
        help="remove: report removal; decline: decline with a reason; none: acknowledge only",
    )
    sim.add_argument(
        "--delay", type=float, default=0.0, metavar="SECONDS", help="wait before deciding (default: 0)"
    )
    sim.add_argument("--pull", action="store_true", help="long-poll the hub's inbox instead of a webhook")


def cmd_platform_sim(args: argparse.Namespace) -> int:
    if args.delay < 0:
        raise CliError("--delay must not be negative", exit_code=2)
    try:
        key = read_signing_key(Path(args.key))
    except KeyFileError as exc:
        raise CliError(str(exc)) from None
    configure_logging("info")
    config = SimulatorConfig(
        participant_id=args.as_,
        key=key,
        hub_url=args.hub,
        decision=Decision(args.decide),
        delay=args.delay,
        host=args.host,
        port=args.port,
        pull=args.pull,
    )
    asyncio.run(_run(PlatformSimulator(config)))
    return 0


async def _run(simulator: PlatformSimulator) -> None:
    try:
        await simulator.start()
    except OSError as exc:
        config = simulator.config
        reason = exc.strerror or exc.__class__.__name__
        raise CliError(f"cannot listen on {config.host}:{config.port}: {reason}") from None
    mode = "pulling its inbox" if simulator.config.pull else "webhook at POST /webhook"
    print(f"platform simulator '{simulator.config.participant_id}': {mode}, stats at GET /stats", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await simulator.stop()
