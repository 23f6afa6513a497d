"""`hub console`: run the participant console (`hub.console`) on this machine until SIGTERM or SIGINT.

It holds the organisation's private key and talks to the hub through the client library, like the
other participant commands. It listens on 127.0.0.1 unless told otherwise and prints the sign-in link
that carries a random token; each link signs in once, within `--link-seconds` (or
`HUB_CONSOLE_LINK_SECONDS`, 600 by default), and a new one is printed here when the sign-in page asks
for it. `--passphrase-file` (or `HUB_CONSOLE_PASSPHRASE`) adds a passphrase. `--enc-key` lets it open
sealed values addressed to the organisation.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

import aiohttp
from aiohttp import web

from hub.cli.errors import CliError
from hub.cli.options import participant_options
from hub.client import HubClient, HubError
from hub.client.trust_store import TrustStore, TrustStoreError, default_path
from hub.console import ConsoleConfig, create_console_app
from hub.console.archive import ArchiveError
from hub.console.config import DEFAULT_LINK_SECONDS, LOOPBACK_HOSTS, MAX_LINK_SECONDS, MIN_LINK_SECONDS
from hub.console.keys import LOGIN_LINKS
from hub.core.clock import time_zone
from hub.core.jose import PrivateEncryptionJwk
from hub.keyfile import KeyFileError, read_encryption_key, read_signing_key
from hub.log import configure_logging

DESCRIPTION = """\
A local web application for your organisation's staff: an inbox of received referrals with their
signature checks and deadlines, case pages with timelines, a case list with filters, and forms made from
the hub's templates that are checked before anything is signed. Your keys stay on this machine. Open the
sign-in link it prints; nobody without it (and the passphrase, if you set one) can use the console.
"""
PASSPHRASE_ENV = "HUB_CONSOLE_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
LINK_SECONDS_ENV = "HUB_CONSOLE_LINK_SECONDS"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    console = commands.add_parser("console", description=DESCRIPTION)
    participant_options(console)
    console.add_argument("--enc-key", metavar="FILE", help="your X25519 private JWK, to open sealed values")
    console.add_argument(
        "--passphrase-file", metavar="FILE", help=f"ask for this passphrase too (or set {PASSPHRASE_ENV})"
    )
    console.add_argument("--listen", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    console.add_argument("--port", type=int, default=8470, help="port to listen on (default: 8470)")
    console.add_argument(
        "--allow-host", action="append", default=[], metavar="NAME", help="another name the browser may use"
    )
    console.add_argument(
        "--data-dir", help="where the console keeps the signed messages it sent and received"
    )
    console.add_argument(
        "--time-zone",
        default="UTC",
        metavar="ZONE",
        help="show times in this IANA time zone, e.g. Europe/Berlin (default: UTC)",
    )
    console.add_argument(
        "--link-seconds",
        metavar="SECONDS",
        help=f"how long a sign-in link works, once (default: {DEFAULT_LINK_SECONDS}; or {LINK_SECONDS_ENV})",
    )


def default_data_dir(participant_id: str) -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "referral-hub-console" / participant_id


def _passphrase(args: argparse.Namespace) -> str | None:
    if args.passphrase_file:
        try:
            text = Path(args.passphrase_file).read_text("utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.__class__.__name__
            raise CliError(f"cannot read the passphrase file {args.passphrase_file}: {reason}") from None
        if not text:
            raise CliError(f"the passphrase file {args.passphrase_file} is empty")
        return text
    return os.environ.get(PASSPHRASE_ENV) or None


def _enc_key(args: argparse.Namespace) -> PrivateEncryptionJwk | None:
    if not args.enc_key:
        return None
    try:
        return read_encryption_key(Path(args.enc_key))
    except KeyFileError as exc:
        raise CliError(str(exc)) from None


def _link_seconds(args: argparse.Namespace) -> int:
    raw = args.link_seconds if args.link_seconds is not None else os.environ.get(LINK_SECONDS_ENV)
    if raw in (None, ""):
        return DEFAULT_LINK_SECONDS
    where = "--link-seconds" if args.link_seconds is not None else LINK_SECONDS_ENV
    if not (raw.isascii() and raw.isdigit()) or not MIN_LINK_SECONDS <= int(raw) <= MAX_LINK_SECONDS:
        raise CliError(f"{where} must be a number of seconds from {MIN_LINK_SECONDS} to {MAX_LINK_SECONDS}")
    return int(raw)


def build_config(args: argparse.Namespace) -> ConsoleConfig:
    try:
        key = read_signing_key(Path(args.key))
    except KeyFileError as exc:
        raise CliError(str(exc)) from None
    allowed = set(LOOPBACK_HOSTS) | {h.lower() for h in args.allow_host}
    if args.listen not in ("0.0.0.0", "::"):  # noqa: S104 - a comparison, not a binding
        allowed.add(f"[{args.listen}]" if ":" in args.listen else args.listen.lower())
    return ConsoleConfig(
        participant_id=args.as_,
        key=key,
        hub_url=args.hub,
        data_dir=Path(args.data_dir) if args.data_dir else default_data_dir(args.as_),
        enc_key=_enc_key(args),
        passphrase=_passphrase(args),
        allowed_hosts=frozenset(allowed),
        link_seconds=_link_seconds(args),
        trust_store=Path(args.trust_store) if args.trust_store else default_path(),
        time_zone=time_zone_option(args.time_zone),
    )


def time_zone_option(name: str) -> str:
    try:
        time_zone(name)
    except ValueError as exc:
        raise CliError(f"--time-zone: {exc}") from None
    return name


def _trust(config: ConsoleConfig) -> TrustStore | None:
    try:
        return None if config.trust_store is None else TrustStore(config.trust_store)
    except TrustStoreError as exc:
        raise CliError(str(exc)) from None


async def check_start(config: ConsoleConfig) -> None:
    """Before the console serves anyone: the hub answers, `--as` names a participant of its directory,
    and the key is one of that participant's current signing keys (as the client library trusts them:
    bound by the participant). Each failure is one plain line saying what to fix."""
    hub = config.hub_url
    me = config.participant_id
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        client = HubClient(session, hub, me, config.key, trust=_trust(config))
        try:
            await client.hub_id()
            entry = await client.participant(me)
        except HubError as exc:
            if exc.status == 404:
                raise CliError(
                    f"the hub at {hub} has no participant '{me}': check --as "
                    "(or ask the operator to register it)"
                ) from None
            raise CliError(f"the hub at {hub} refused: {exc}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise CliError(
                f"cannot reach the hub at {hub} ({exc.__class__.__name__}): is it running, and is --hub "
                "(or HUB_URL) right?"
            ) from None
    kid = config.key.kid
    mine = config.key.public().to_dict()
    keys = {str(k.get("kid")): k for k in entry.get("jwks", {}).get("keys", [])}
    found = keys.get(kid)
    if found is None or found.get("x") != mine.get("x"):
        refused = entry.get("jwks", {}).get("refused", {}).get(kid)
        why = f" ({refused})" if refused else ""
        raise CliError(
            f"your key '{kid}' is not a signing key of '{me}' in the "
            f"hub's directory{why}: use the key registered for '{me}', or bind this one (hub keys bind)"
        )
    if found.get("status", "active") != "active" or found.get("use", "sig") != "sig":
        raise CliError(
            f"the key '{kid}' of '{me}' is no longer current in the hub's directory "
            f"({found.get('status', 'not a signing key')}): use a current key, "
            "or bind a new one (hub keys bind)"
        )


def cmd_console(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise CliError("--port must be between 0 and 65535", exit_code=2)
    config = build_config(args)
    asyncio.run(check_start(config))
    configure_logging("info")
    try:
        app = create_console_app(config)
    except ArchiveError as exc:
        raise CliError(str(exc)) from None
    asyncio.run(_run(app, config, args.listen, args.port))
    return 0


async def _run(app: web.Application, config: ConsoleConfig, listen: str, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)  # an access log would record case ids with times
    await runner.setup()
    try:
        await web.TCPSite(runner, listen, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise CliError(
            f"cannot listen on {listen}:{port}: {exc.strerror or exc.__class__.__name__}"
        ) from None
    bound = runner.addresses[0][1] if runner.addresses else port
    shown = "127.0.0.1" if listen in ("0.0.0.0", "::", "127.0.0.1") else listen  # noqa: S104
    where = f"[{shown}]" if ":" in shown else shown
    minutes = max(1, config.link_seconds // 60)
    print(f"Console for {config.participant_id}, talking to {config.hub_url}.", flush=True)
    print(
        f"Open this link in your browser within {minutes} min (it signs you in once; keep it to yourself):\n"
        f"  http://{where}:{bound}/login?token={config.login_token}",
        flush=True,
    )

    def announce(token: str) -> None:
        print(
            f"New sign-in link (works once, within {minutes} min; the previous one no longer works):\n"
            f"  http://{where}:{bound}/login?token={token}",
            flush=True,
        )

    app[LOGIN_LINKS].on_issue = announce
    if config.passphrase:
        print("You will be asked for the console's passphrase as well.", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
