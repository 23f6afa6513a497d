"""`hub mail-in`: run the SMTP (or LMTP) receiver for replies to e-mail notices, until SIGTERM or SIGINT.

It opens the hub's resources as `hub worker` does (signing key, database, migrations) without serving
the API or running workers, and listens on localhost unless told otherwise: put it behind the MX of the
reply domain (`HUB_MAIL_REPLY_DOMAIN`). It verifies DKIM itself (DNS lookups), or trusts the MX's
Authentication-Results when its authserv-id is in `HUB_MAILIN_TRUSTED_AUTHSERV_IDS` (docs/operations.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

import structlog
from aiohttp import web

from hub.cli.errors import CliError
from hub.log import configure_logging
from hub.settings import Settings

log = structlog.get_logger("hub.mailin")


def cmd_mail_in(args: argparse.Namespace, settings: Settings) -> int:
    from hub.api.app import create_app
    from hub.api.keys import CLOCK, INTAKE, KEYRING, POOL
    from hub.mailin.receiver import MailIn, start_server
    from hub.services.issuer import Issuer

    configure_logging(settings.log_level)
    mail = settings.mail
    host = args.host or mail.mailin_host
    port = mail.mailin_port if args.port is None else args.port
    lmtp = args.lmtp or mail.mailin_lmtp

    async def run() -> None:
        app = create_app(settings, background=False)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()  # the signing key, the database (migrated) and the pool
        try:
            try:
                server = await start_server(
                    MailIn(Issuer(app[INTAKE]), app[POOL], app[KEYRING], mail, app[CLOCK]),
                    host,
                    port,
                    lmtp=lmtp,
                )
            except OSError as exc:
                raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
            bound = server.sockets[0].getsockname()[1] if server.sockets else port
            log.info("mailin.started", host=host, port=bound, protocol="lmtp" if lmtp else "smtp")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            await stop.wait()
            server.close()
            with contextlib.suppress(TimeoutError):  # a client that hangs on must not hold the shutdown
                await asyncio.wait_for(server.wait_closed(), settings.delivery.shutdown_grace_seconds)
            log.info("mailin.stopped")
        finally:
            await runner.cleanup()

    asyncio.run(run())
    return 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mail_in = commands.add_parser("mail-in")
    mail_in.add_argument("--host", help="address to listen on (default HUB_MAILIN_HOST, 127.0.0.1)")
    mail_in.add_argument("--port", type=int, help="port to listen on (default HUB_MAILIN_PORT, 8025)")
    mail_in.add_argument("--lmtp", action="store_true", help="speak LMTP instead of SMTP (HUB_MAILIN_LMTP)")
