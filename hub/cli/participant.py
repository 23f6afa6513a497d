"""Participant commands: sign and send, read the inbox, acknowledge, read and share a case.

They run on the participant's machine with its private key and talk to a hub over HTTP through the
client library, exactly as an integration would. `send` seals every value marked `{"seal": {...}}` to
each recipient's current X25519 key before signing (`hub.client.sealing`), and splits a takedown request
to several platforms into one message per platform under one case (`hub.client.fanout`); what it signed
is kept beside the file (`hub.cli.sent_file`), so sending the same file again is the same message(s).
`inbox --enc-key FILE` opens what was sealed to this participant.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from hub.cli.errors import CliError
from hub.cli.sent_file import SentFile
from hub.cli.tables import case_list_table, case_table, inbox_table
from hub.client import HubClient, HubError
from hub.client.fanout import FanOutError, send_referral, split_referral
from hub.client.http import CaseReferenceError
from hub.client.sealing import SealingError, open_sealed
from hub.client.trust_store import TrustStoreError, open_store
from hub.client.verify import VerificationError, verify_inbox_item
from hub.core.jose import PrivateEncryptionJwk, sha256_hex
from hub.core.json_position import position_of
from hub.keyfile import KeyFileError, read_encryption_key, read_signing_key


def _run(
    args: argparse.Namespace,
    action: Callable[[HubClient], Awaitable[Any]],
    readable: Callable[[Any], str] | None = None,
) -> int:
    """Run `action` against the hub and print its result: as JSON, or with `readable` unless --json."""
    try:
        key = read_signing_key(Path(args.key))
        trust = open_store(args.trust_store)
    except (KeyFileError, TrustStoreError) as exc:
        raise CliError(str(exc)) from None

    async def run() -> Any:
        timeout = aiohttp.ClientTimeout(total=getattr(args, "wait", 0) + 60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            return await action(HubClient(session, args.hub, args.as_, key, trust=trust))

    try:
        result = asyncio.run(run())
    except SealingError as exc:
        raise CliError(f"{exc}; nothing was sent") from None
    except HubError as exc:
        raise CliError(f"the hub refused: {exc}") from None
    except CaseReferenceError as exc:
        raise CliError(str(exc)) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise CliError(f"cannot reach the hub at {args.hub}: {exc.__class__.__name__}") from None
    if readable is not None and not args.json:
        print(readable(result))
        return 0
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def _read_envelope(name: str) -> tuple[bytes, dict[str, Any]]:
    """The file's bytes and the envelope they hold, or a one-line error saying where the JSON breaks."""
    try:
        raw = Path(name).read_bytes()
        envelope = json.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise CliError(f"no such file: {name}") from None
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{name} is not a JSON envelope: line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{name} is not a JSON envelope: {exc.__class__.__name__}") from None
    if not isinstance(envelope, dict):
        raise CliError(f"{name} must hold a JSON object (the envelope)")
    return raw, envelope


def cmd_send(args: argparse.Namespace) -> int:
    path = Path(args.file)
    raw, envelope = _read_envelope(args.file)
    envelope.setdefault("from", args.as_)
    if envelope["from"] != args.as_:
        raise CliError(f"the envelope says it is from '{envelope['from']}', but you send as '{args.as_}'")
    sent = SentFile.beside(path, sha256_hex(raw))

    async def send(client: HubClient) -> Any:
        directory = await client.participants() if envelope.get("type") == "takedown-request" else []
        try:
            parts = split_referral(envelope, directory, sent.file_sha256)
        except FanOutError as exc:
            raise CliError(f"{exc}; nothing was sent") from None
        try:
            receipts = await send_referral(client, parts, sent)
        except HubError as exc:
            if exc.problem.get("errors"):
                raise CliError(f"the hub refused: {exc}; {faults_in_file(exc, args.file, raw)}") from None
            if exc.code != "duplicate-id":
                raise
            raise CliError(
                f"the hub refused: {exc.status} duplicate-id: this file was already sent, but "
                f"{sent.path.name} (what was signed then) is gone, so it cannot be resent as the same "
                "message; find its case with `hub cases list`; no second case was opened"
            ) from None
        if len(receipts) == 1:
            return receipts[0]
        return {"case_id": receipts[0]["case_id"], "parts": receipts}

    return _run(args, send)


def faults_in_file(exc: HubError, name: str, raw: bytes) -> str:
    """Each fault of the hub's problem as its JSON Pointer, where it is in the file, and the hub's words,
    on one line."""
    text = raw.decode("utf-8")
    said = []
    for fault in exc.problem.get("errors", []):
        if not isinstance(fault, dict):
            continue
        pointer = str(fault.get("pointer", ""))
        where = position_of(text, pointer)
        place = ""
        if where is not None:
            inside = "" if where.exact else "in the value at "
            place = f" ({inside}{name} line {where.line} column {where.column})"
        said.append(f"{pointer or '/'}{place}: {fault.get('detail', '')}")
    return "; ".join(said)


def encryption_key_option(path: str | None) -> PrivateEncryptionJwk | None:
    """The participant's X25519 private JWK (`--enc-key`), or None when not given."""
    if not path:
        return None
    try:
        return read_encryption_key(Path(path))
    except KeyFileError as exc:
        raise CliError(str(exc)) from None


def cmd_inbox(args: argparse.Namespace) -> int:
    enc_key = encryption_key_option(args.enc_key)

    async def inbox(client: HubClient) -> Any:
        page = await client.inbox(cursor=args.cursor, wait=args.wait)
        hub_jwks = await client.hub_jwks()
        for item in page["messages"]:
            sender = await client.participant(item["from"])
            try:
                verified = verify_inbox_item(item, sender["jwks"], hub_jwks, recipient=client.participant_id)
                item["verified"] = True
                item["envelope"] = verified.envelope
                # "signed by <sender>", or "answered by e-mail from <address>, attested by the hub"
                item["provenance"] = verified.provenance
                if verified.attestation is not None:
                    item["attested"] = verified.attestation.to_json()
                if enc_key is not None:
                    found = open_sealed(verified.envelope.get("body"), client.participant_id, enc_key)
                    item["opened"] = found.opened
                    if found.not_opened:
                        item["not_opened"] = found.not_opened
            except VerificationError as exc:
                item["verified"] = False
                item["verification_error"] = str(exc)
        # Only what verified is marked retrieved: a message that does not verify stays for a second look.
        trusted = [m["message_id"] for m in page["messages"] if m["verified"]]
        if args.ack and trusted:
            await client.ack(trusted)
        return page

    return _run(args, inbox, inbox_table)


def cmd_ack(args: argparse.Namespace) -> int:
    return _run(args, lambda client: client.ack(args.message_ids))


def cmd_status(args: argparse.Namespace) -> int:
    if args.case_id is None:  # where all of one's cases stand
        return _run(
            args,
            lambda client: client.cases(
                state=args.state,
                overdue=True if args.overdue else None,
                sort=args.sort,
                cursor=args.cursor,
            ),
            case_list_table,
        )

    async def status(client: HubClient) -> Any:
        return await client.case(await client.resolve_case(args.case_id))

    return _run(args, status, case_table)


def cmd_share(args: argparse.Namespace) -> int:
    async def share(client: HubClient) -> Any:
        return await client.share(await client.resolve_case(args.case_id), args.participant_id)

    return _run(args, share)
