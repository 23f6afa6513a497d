"""`hub`: the operator's and the participant's command line.

Errors are one line on stderr and a non-zero exit: 2 for a usage mistake, 1 for a refusal.

`COMMANDS` is the one list of commands and their one-line help. A command's grammar and code live in the
module the table names, imported only when that command is asked for: `hub --help` imports none of them
(and none of the database driver, the web framework or JSON Schema).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from hub.cli.errors import CliError
from hub.cli.options import participant_options

AddCommands = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

# name: (its help in `hub --help`, "module:function" that adds its parser, and its siblings', when asked for)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("run the hub (API and workers)", "hub.cli.main:_hub_commands"),
    "migrate": ("bring the database schema up to date", "hub.cli.main:_hub_commands"),
    "demo": ("run the whole flow on a throwaway database and exit", "hub.cli.main:_hub_commands"),
    "keys": ("key files", "hub.cli.main:_hub_commands"),
    "participants": ("the directory", "hub.cli.main:_directory_commands"),
    "peers": ("peer hubs: take a peer's vouching feed (sync)", "hub.cli.peers:add_commands"),
    "worker": ("run the push-delivery worker without the API", "hub.cli.deliveries:add_commands"),
    "deliveries": ("push deliveries and dead letters", "hub.cli.deliveries:add_commands"),
    "cases": ("cases and their deadlines", "hub.cli.cases:add_commands"),
    "mail-in": ("receive e-mail replies to notices (SMTP or LMTP)", "hub.cli.mailin:add_commands"),
    "mail": ("the e-mail replies kept as evidence (list, show)", "hub.cli.mail:add_commands"),
    "platform-sim": (
        "run the reference platform simulator (webhook or pull)",
        "hub.cli.platform_sim:add_commands",
    ),
    "audit": ("the tamper-evident audit log", "hub.cli.audit:add_commands"),
    "evidence": ("court-ready evidence bundles", "hub.cli.evidence:add_commands"),
    "purge": ("delete personal data of cases whose retention ended", "hub.cli.purge:add_commands"),
    "stats": ("transparency figures over every case (no personal data)", "hub.cli.stats:add_commands"),
    "dsa-export": (
        "a platform's statements of reasons in the DSA Transparency Database format",
        "hub.cli.stats:add_commands",
    ),
    "hash": (
        "SHA-256, MD5 and PDQ of image files, computed locally, for a takedown request's locators",
        "hub.cli.hashing:add_commands",
    ),
    "open": (
        "open the values sealed to you in a signed message file (an e-mail notice's message.jws)",
        "hub.cli.unseal:add_commands",
    ),
    "config": ("the hub's configuration", "hub.cli.config_check:add_commands"),
    "console": ("run the participant console (a local web application)", "hub.cli.console:add_commands"),
    "send": ("sign an envelope and submit it", "hub.cli.main:_participant_commands"),
    "inbox": ("read (and verify) your inbox", "hub.cli.main:_participant_commands"),
    "ack": ("mark inbox messages retrieved", "hub.cli.main:_participant_commands"),
    "status": ("a case's status and timeline", "hub.cli.main:_participant_commands"),
    "share": ("share a case with another participant", "hub.cli.main:_participant_commands"),
}
PARTICIPANT_COMMANDS = ("send", "inbox", "ack", "status", "share")
ADAPTER_HELP = "how it is reached: pull, webhook, email, coop, hma, hub, or a plugin's name"


def build_parser(
    argv: Sequence[str] | None = None, *, every_command: bool = False
) -> argparse.ArgumentParser:
    """The parser for `argv`: the full grammar of the command it names (or of all, `every_command`), and for
    every other command only its name and help."""
    parser = argparse.ArgumentParser(prog="hub", description="The cross-border referral hub.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    asked = _command_in(argv)
    wanted = list(COMMANDS) if every_command else [asked] if asked in COMMANDS else []
    loaded: set[str] = set()
    for name in wanted:
        target = COMMANDS[name][1]
        if target not in loaded:
            loaded.add(target)
            _load(target)(commands)
    for name, (help_text, _) in COMMANDS.items():
        if name not in commands.choices:
            commands.add_parser(name, help=help_text, add_help=False)
    return parser


def _command_in(argv: Sequence[str] | None) -> str:
    words = sys.argv[1:] if argv is None else argv
    return words[0] if words and not words[0].startswith("-") else ""


def _load(target: str) -> AddCommands:
    module, function = target.split(":")
    add: AddCommands = getattr(importlib.import_module(module), function)
    return add


def _hub_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--processes",
        type=int,
        choices=range(1, 257),
        metavar="N",
        help="hub processes sharing the port, one per core (default HUB_PROCESSES, 1)",
    )
    commands.add_parser("migrate")
    demo = commands.add_parser("demo")
    demo.add_argument(
        "--federated",
        action="store_true",
        help="two hubs, peers of each other: a takedown forwarded from one to the other and answered back",
    )

    keys = commands.add_parser("keys").add_subparsers(dest="action", required=True)
    generate = keys.add_parser(
        "generate", help="write a new private JWK (mode 0600) and print its public JWK"
    )
    generate.add_argument("path")
    generate.add_argument("--use", choices=("sig", "enc"), default="sig", help="sig: Ed25519; enc: X25519")
    generate.add_argument("--kid", help="key id (default: the RFC 7638 thumbprint)")
    from hub.cli.hub_key import add_rotate_command
    from hub.cli.keys import add_key_commands

    add_key_commands(keys)
    add_rotate_command(keys)


def _directory_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from hub.store.directory import PARTICIPANT_KINDS

    participants = commands.add_parser("participants").add_subparsers(dest="action", required=True)
    add = participants.add_parser("add", help="register a participant with its public key")
    add.add_argument("id")
    add.add_argument("--name", required=True)
    add.add_argument("--kind", required=True, choices=PARTICIPANT_KINDS)
    add.add_argument("--country", required=True, help="ISO 3166-1 alpha-2, e.g. DE")
    add.add_argument("--jwk", required=True, help="the public JWK file")
    add.add_argument(
        "--fingerprint",
        help="the key's fingerprint as the participant read it to you (hub keys fingerprint); asked for "
        "when not given",
    )
    add.add_argument("--endpoint", help="push delivery URL")
    add.add_argument("--accepts", help="comma-separated message types (default depends on --kind)")
    add.add_argument("--domain", action="append", help="a domain the platform serves (repeat for more)")
    add.add_argument("--trusted-flagger", action="store_true", help="DSA Art. 22 trusted flagger status")
    add.add_argument(
        "--hash-signals",
        action="store_true",
        help="a platform opting in to the hash signals of referrals not addressed to it (with consent)",
    )
    add.add_argument("--adapter", help=ADAPTER_HELP)
    add.add_argument("--adapter-config", help="the adapter's configuration as a JSON object")
    add.add_argument(
        "--contact-email", help="its directory contact: told there when its push destination is parked"
    )
    update = participants.add_parser(
        "update", help="change domains, trusted-flagger status, hash signals, endpoint, accepts"
    )
    update.add_argument("id")
    update.add_argument("--add-domain", action="append")
    update.add_argument("--remove-domain", action="append")
    update.add_argument("--trusted-flagger", choices=("yes", "no"))
    update.add_argument("--hash-signals", choices=("yes", "no"), help="opted in to others' hash signals")
    update.add_argument("--endpoint", help="push delivery URL")
    update.add_argument("--no-endpoint", action="store_true", help="stop pushing: use the pull inbox")
    update.add_argument("--accepts", help="comma-separated message types")
    update.add_argument("--adapter", help=ADAPTER_HELP)
    update.add_argument("--adapter-config", help="the adapter's configuration as a JSON object")
    update.add_argument("--contact-email", help="its directory contact (parking notices)")
    update.add_argument("--no-contact-email", action="store_true", help="remove its directory contact")
    participants.add_parser("list").add_argument(
        "--json", action="store_true", help="print JSON, not a table"
    )
    participants.add_parser("show").add_argument("id")
    add_key = participants.add_parser(
        "add-key", help="publish a key its participant bound (hub keys bind): rotation, encryption"
    )
    add_key.add_argument("id")
    add_key.add_argument(
        "--binding", required=True, metavar="FILE", help="the binding the participant signed"
    )
    apply = participants.add_parser("apply-binding", help="publish any binding its participant signed")
    apply.add_argument("id")
    apply.add_argument("--binding", required=True, metavar="FILE")
    revoke = participants.add_parser("revoke-key")
    revoke.add_argument("id")
    revoke.add_argument("kid")
    revoke.add_argument("--reason", default="unspecified")
    revoke.add_argument("--force", action="store_true", help="revoke even the last valid signing key")
    reset = participants.add_parser(
        "reset",
        help="lost-key recovery: revoke every key, register a new identity (loud: peers must confirm)",
    )
    reset.add_argument("id")
    reset.add_argument("--jwk", required=True, help="the new signing key's public JWK")
    reset.add_argument("--fingerprint", help="its fingerprint as the participant read it to you")
    reset.add_argument("--reason", required=True, help="why (recorded in the transparency log)")
    from hub.cli.destinations import add_destination_commands

    add_destination_commands(participants)


def _participant_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    send = commands.add_parser("send")
    send.add_argument("file")
    participant_options(send)
    inbox = commands.add_parser("inbox")
    inbox.add_argument("--cursor")
    inbox.add_argument("--wait", type=int, default=0, help="long-poll up to N seconds")
    inbox.add_argument("--ack", action="store_true", help="mark what was read as retrieved")
    inbox.add_argument(
        "--enc-key", metavar="FILE", help="your X25519 private JWK: open the values sealed to you"
    )
    inbox.add_argument("--json", action="store_true", help="print JSON (with the envelopes), not a table")
    participant_options(inbox)
    ack = commands.add_parser("ack")
    ack.add_argument("message_ids", nargs="+")
    participant_options(ack)
    status = commands.add_parser("status", help="a case's states and timeline; without a case, your cases")
    status.add_argument("case_id", nargs="?", help="the case (or a prefix of its id); none: list your cases")
    status.add_argument(
        "--sort",
        choices=("opened", "due"),
        default="opened",
        help="your cases newest first, or next due first",
    )
    status.add_argument("--state", help="only your cases in this state, e.g. open")
    status.add_argument("--overdue", action="store_true", help="only your cases with a deadline past due")
    status.add_argument("--cursor", help="the next page of your cases (as the list says)")
    status.add_argument("--json", action="store_true", help="print JSON, not a table")
    participant_options(status)
    share = commands.add_parser("share")
    share.add_argument("case_id")
    share.add_argument("participant_id")
    participant_options(share)


def dispatch(args: argparse.Namespace) -> int:
    from hub.settings import Settings

    if args.command in PARTICIPANT_COMMANDS:
        from hub.cli import participant

        return int(getattr(participant, f"cmd_{args.command}")(args))
    if args.command == "platform-sim":
        from hub.cli.platform_sim import cmd_platform_sim

        return cmd_platform_sim(args)
    if args.command == "hash":
        from hub.cli.hashing import cmd_hash

        return cmd_hash(args)
    if args.command == "open":
        from hub.cli.unseal import cmd_open

        return cmd_open(args)
    if args.command == "config":
        from hub.cli.config_check import cmd_config

        return cmd_config(args)
    if args.command == "console":
        from hub.cli.console import cmd_console

        return cmd_console(args)
    if args.command == "demo":
        if args.federated:
            from hub.cli.demo_federated import cmd_demo_federated

            return cmd_demo_federated()
        from hub.cli.demo import cmd_demo

        return cmd_demo()
    if args.command == "keys":
        from hub.cli.keys import cmd_keys

        return cmd_keys(args)
    module, function = _HANDLERS[args.command].split(":")
    handler = getattr(importlib.import_module(module), function)
    return int(handler(args, Settings.from_env()))


# the commands whose handler takes (args, settings)
_HANDLERS = {
    "serve": "hub.cli.operator:cmd_serve",
    "migrate": "hub.cli.operator:cmd_migrate",
    "participants": "hub.cli.operator:cmd_participants",
    "peers": "hub.cli.peers:cmd_peers",
    "worker": "hub.cli.deliveries:cmd_worker",
    "deliveries": "hub.cli.deliveries:cmd_deliveries",
    "cases": "hub.cli.cases:cmd_cases",
    "mail-in": "hub.cli.mailin:cmd_mail_in",
    "mail": "hub.cli.mail:cmd_mail",
    "audit": "hub.cli.audit:cmd_audit",
    "evidence": "hub.cli.evidence:cmd_evidence",
    "purge": "hub.cli.purge:cmd_purge",
    "stats": "hub.cli.stats:cmd_stats",
    "dsa-export": "hub.cli.stats:cmd_dsa_export",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    import asyncpg

    from hub.settings import SettingsError
    from hub.store.embedded import EmbeddedDatabaseError

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
