"""`hub open MESSAGE --enc-key FILE [--as ID]`: read the values sealed to you in a signed message file.

For a platform that takes referrals by e-mail: the notice carries the exact signed message as the
attachment `message.jws`, whose sealed values (the victim's contact, a signature...) the notice cannot
show, because the hub itself cannot read them. Saved to a file, this opens them with the platform's own
X25519 private key, on its own machine; nothing is sent anywhere. It prints the message's identity and,
by JSON pointer, what opened and why anything else did not. It does not check the signature: the
notice's PROOF section says how (the sender's key from the hub's directory, the hub's key for
`receipt.jws`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hub.cli.errors import CliError
from hub.client.sealing import open_sealed
from hub.core.jose import JoseError, parse_jws
from hub.keyfile import KeyFileError, read_encryption_key


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    unseal = commands.add_parser("open")
    unseal.add_argument("message", metavar="MESSAGE", help="a signed message: message.jws of a notice")
    unseal.add_argument("--enc-key", required=True, metavar="FILE", help="your X25519 private JWK")
    unseal.add_argument(
        "--as", dest="as_", metavar="ID", help="your participant id (default: the copies sealed to this key)"
    )


def cmd_open(args: argparse.Namespace) -> int:
    try:
        key = read_encryption_key(Path(args.enc_key))
    except KeyFileError as exc:
        raise CliError(str(exc)) from None
    envelope = _envelope(Path(args.message))
    found = open_sealed(envelope.get("body"), args.as_, key)
    if not found.opened and not found.not_opened:
        raise CliError(f"{args.message} has no sealed values")
    result: dict[str, Any] = {
        "message_id": envelope.get("id"),
        "type": envelope.get("type"),
        "from": envelope.get("from"),
        "case": envelope.get("case"),
        "opened": found.opened,
    }
    if found.not_opened:
        result["not_opened"] = found.not_opened
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0 if found.opened else 1


def _envelope(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"no such file: {path}") from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.__class__.__name__}") from None
    try:
        envelope = json.loads(parse_jws(raw.strip()).payload)
    except (JoseError, ValueError):
        raise CliError(f"{path} is not a signed message (a JWS, such as a notice's message.jws)") from None
    if not isinstance(envelope, dict):
        raise CliError(f"{path} does not carry a message envelope")
    return envelope
