"""`hub`: the operator's and the participant's command line.

Errors are one line on stderr and a non-zero exit: 2 for a usage mistake, 1 for a refusal.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import asyncpg

from hub.cli import (
    audit,
    cases,
    config_check,
    console,
    deliveries,
    evidence,
    mailin,
    operator,
    participant,
    platform_sim,
    purge,
    stats,
)
from hub.cli import hashing as hashing_cli
from hub.cli.errors import CliError
from hub.settings import Settings, SettingsError
from hub.store.directory import PARTICIPANT_KINDS
from hub.store.embedded import EmbeddedDatabaseError


def _participant_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", required=True, help="your Ed25519 private JWK file")
    parser.add_argument("--as", dest="as_", required=True, metavar="ID", help="your participant id")
    parser.add_argument(
        "--hub", default=os.environ.get("HUB_URL", "http://127.0.0.1:8080"), help="the hub's URL"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description="The cross-border referral hub.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the hub (API and workers)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    commands.add_parser("migrate", help="bring the database schema up to date")
    commands.add_parser("demo", help="run the whole flow on a throwaway database and exit")

    keys = commands.add_parser("keys", help="key files").add_subparsers(dest="action", required=True)
    generate = keys.add_parser(
        "generate", help="write a new private JWK (mode 0600) and print its public JWK"
    )
    generate.add_argument("path")
    generate.add_argument("--use", choices=("sig", "enc"), default="sig", help="sig: Ed25519; enc: X25519")
    generate.add_argument("--kid", help="key id (default: the RFC 7638 thumbprint)")

    _directory_commands(commands)
    deliveries.add_commands(commands)
    cases.add_commands(commands)
    mailin.add_commands(commands)
    platform_sim.add_commands(commands)
    audit.add_commands(commands)
    evidence.add_commands(commands)
    purge.add_commands(commands)
    stats.add_commands(commands)
    hashing_cli.add_commands(commands)
    config_check.add_commands(commands)
    console.add_commands(commands)
    _participant_commands(commands)
    return parser


def _directory_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    participants = commands.add_parser("participants", help="the directory").add_subparsers(
        dest="action", required=True
    )
    add = participants.add_parser("add", help="register a participant with its public key")
    add.add_argument("id")
    add.add_argument("--name", required=True)
    add.add_argument("--kind", required=True, choices=PARTICIPANT_KINDS)
    add.add_argument("--country", required=True, help="ISO 3166-1 alpha-2, e.g. DE")
    add.add_argument("--jwk", required=True, help="the public JWK file")
    add.add_argument("--endpoint", help="push delivery URL")
    add.add_argument("--accepts", help="comma-separated message types (default depends on --kind)")
    add.add_argument("--domain", action="append", help="a domain the platform serves (repeat for more)")
    add.add_argument("--trusted-flagger", action="store_true", help="DSA Art. 22 trusted flagger status")
    add.add_argument("--adapter", help="how it is reached: pull, webhook, email, or a plugin's name")
    add.add_argument("--adapter-config", help="the adapter's configuration as a JSON object")
    update = participants.add_parser(
        "update", help="change domains, trusted-flagger status, endpoint, accepts"
    )
    update.add_argument("id")
    update.add_argument("--add-domain", action="append")
    update.add_argument("--remove-domain", action="append")
    update.add_argument("--trusted-flagger", choices=("yes", "no"))
    update.add_argument("--endpoint", help="push delivery URL")
    update.add_argument("--no-endpoint", action="store_true", help="stop pushing: use the pull inbox")
    update.add_argument("--accepts", help="comma-separated message types")
    update.add_argument("--adapter", help="how it is reached: pull, webhook, email, or a plugin's name")
    update.add_argument("--adapter-config", help="the adapter's configuration as a JSON object")
    participants.add_parser("list")
    participants.add_parser("show").add_argument("id")
    add_key = participants.add_parser("add-key", help="add another public key (rotation, encryption)")
    add_key.add_argument("id")
    add_key.add_argument("--jwk", required=True)
    add_key.add_argument("--not-before")
    add_key.add_argument("--not-after")
    revoke = participants.add_parser("revoke-key")
    revoke.add_argument("id")
    revoke.add_argument("kid")
    revoke.add_argument("--reason", default="unspecified")


def _participant_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    send = commands.add_parser("send", help="sign an envelope and submit it")
    send.add_argument("file")
    _participant_options(send)
    inbox = commands.add_parser("inbox", help="read (and verify) your inbox")
    inbox.add_argument("--cursor")
    inbox.add_argument("--wait", type=int, default=0, help="long-poll up to N seconds")
    inbox.add_argument("--ack", action="store_true", help="mark what was read as retrieved")
    _participant_options(inbox)
    ack = commands.add_parser("ack", help="mark inbox messages retrieved")
    ack.add_argument("message_ids", nargs="+")
    _participant_options(ack)
    status = commands.add_parser("status", help="a case's status and timeline")
    status.add_argument("case_id")
    _participant_options(status)
    share = commands.add_parser("share", help="share a case with another participant")
    share.add_argument("case_id")
    share.add_argument("participant_id")
    _participant_options(share)


def dispatch(args: argparse.Namespace) -> int:
    if args.command in ("send", "inbox", "ack", "status", "share"):
        return int(getattr(participant, f"cmd_{args.command}")(args))
    if args.command == "platform-sim":
        return platform_sim.cmd_platform_sim(args)
    if args.command == "hash":
        return hashing_cli.cmd_hash(args)
    if args.command == "config":
        return config_check.cmd_config(args)
    if args.command == "console":
        return console.cmd_console(args)
    if args.command == "keys":
        return operator.cmd_keys_generate(args, Settings.from_env())
    if args.command == "demo":
        from hub.cli.demo import cmd_demo

        return cmd_demo()
    handler = {
        "serve": operator.cmd_serve,
        "migrate": operator.cmd_migrate,
        "participants": operator.cmd_participants,
        "worker": deliveries.cmd_worker,
        "deliveries": deliveries.cmd_deliveries,
        "cases": cases.cmd_cases,
        "mail-in": mailin.cmd_mail_in,
        "audit": audit.cmd_audit,
        "evidence": evidence.cmd_evidence,
        "purge": purge.cmd_purge,
        "stats": stats.cmd_stats,
        "dsa-export": stats.cmd_dsa_export,
    }[args.command]
    return handler(args, Settings.from_env())


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return dispatch(args)
    except (CliError, SettingsError, EmbeddedDatabaseError) as exc:
        print(f"hub: error: {exc}", file=sys.stderr)
        return exc.exit_code if isinstance(exc, CliError) else 1
    except BrokenPipeError:  # the reader went away (`hub ... | head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        print(f"hub: error: cannot use the database: {_reason(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _reason(exc: BaseException) -> str:
    """A database error's class and, for OS errors, the system's words: never the server's message,
    which may quote a stored value."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.__class__.__name__} ({exc.strerror})"
    return exc.__class__.__name__


if __name__ == "__main__":
    sys.exit(main())
