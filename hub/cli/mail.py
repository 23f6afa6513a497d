"""`hub mail list [--case ID] [--verdict V] [--limit N]` and `hub mail show ID [--out FILE]`: the e-mail
replies mail-in kept as evidence, for the operator. They are stored encrypted (a case's with its key),
so this is how one is read: `show` writes the mail exactly as received (or the prefix kept of mail to an
unknown address), which its SHA-256 in `list` and in a hub-attested answer's `evidence_sha256`
identifies. The list names no address (a reply address is a bearer secret of its case)."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from hub.cli.errors import CliError
from hub.cli.operator import json_default, operator_connection
from hub.core.case_reference import CaseReferenceError
from hub.keyfile import load_or_create_storage_key
from hub.settings import Settings
from hub.store.case_keys import Keyring, ShreddedError
from hub.store.case_lookup import resolve_case
from hub.store.mail import list_inbound, open_inbound


def cmd_mail(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "list":

        async def listing() -> list[dict[str, Any]]:
            async with operator_connection(settings) as conn:
                try:
                    case_id = await resolve_case(conn, args.case) if args.case else None
                except CaseReferenceError as exc:
                    raise CliError(f"--case: {exc}", exit_code=2) from None
                return await list_inbound(conn, case_id, args.verdict, args.limit)

        print(json.dumps(asyncio.run(listing()), indent=2, default=json_default))
        return 0
    return _show(args, settings)


def _show(args: argparse.Namespace, settings: Settings) -> int:
    mail_id = _uuid(args.mail_id, "ID")
    out = Path(args.out) if args.out else None
    if out is not None and out.exists():
        raise CliError(f"{out} already exists: refusing to overwrite evidence")
    keyring = Keyring(load_or_create_storage_key(settings.storage_key_path))

    async def read() -> bytes:
        async with operator_connection(settings) as conn:
            try:
                return await open_inbound(conn, keyring, mail_id)
            except KeyError:
                raise CliError(f"no kept e-mail {mail_id}") from None
            except ShreddedError:
                raise CliError(
                    f"e-mail {mail_id} is no longer kept (purged with its case, or not kept)"
                ) from None

    raw = asyncio.run(read())
    if out is None:
        sys.stdout.buffer.write(raw) if hasattr(sys.stdout, "buffer") else sys.stdout.write(
            raw.decode("utf-8", "replace")
        )
        sys.stdout.flush()
    else:
        out.write_bytes(raw)
        print(f"{out}: {len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()}", file=sys.stderr)
    return 0


def _write_stdout(raw: bytes) -> None:
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (a test's capture): the mail as text
        sys.stdout.write(raw.decode("utf-8", "replace"))
    else:
        sys.stdout.flush()
        buffer.write(raw)
        buffer.flush()


def _uuid(value: str, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CliError(f"{name} must be an id (a UUID)", exit_code=2) from None


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mail = commands.add_parser("mail").add_subparsers(dest="action", required=True)
    listing = mail.add_parser("list", help="the kept e-mail replies, newest first (no content, no address)")
    listing.add_argument("--case", help="only the replies to this case (its id or its first 6+ hex digits)")
    listing.add_argument("--verdict", help="only those with this verdict (accepted, unauthenticated, ...)")
    listing.add_argument("--limit", type=int, default=100, choices=range(1, 10001), metavar="N")
    show = mail.add_parser("show", help="write one kept e-mail as it was received")
    show.add_argument("mail_id", metavar="ID")
    show.add_argument("--out", help="write it to this file (default: standard output)")
