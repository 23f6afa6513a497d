"""Reading a JWK file someone hands the command line: a public key to register or bind, or the public
half of a private key file. One set of one-line errors for a missing, unreadable or wrong file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hub.cli.errors import CliError
from hub.core.jose import InvalidJwkError, PublicJwk
from hub.keyfile import KeyFileError, read_private_jwk


def _json_of(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        raise CliError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CliError(f"{path} is not a JSON file: {exc.__class__.__name__}") from None


def _is_private(data: Any) -> bool:
    return isinstance(data, dict) and "d" in data


def read_public_jwk(path: str) -> PublicJwk:
    """The public JWK in `path`; a private key there is refused (the operator registers public keys)."""
    data = _json_of(path)
    if _is_private(data):
        raise CliError(
            f"{path} holds a PRIVATE key: register the public JWK that 'hub keys generate' printed"
        )
    try:
        return PublicJwk.from_dict(data)
    except InvalidJwkError as exc:
        raise CliError(f"{path}: {exc}") from None


def public_of(path: str) -> PublicJwk:
    """The public half of the JWK in `path`, which may hold a private or a public key."""
    if not _is_private(_json_of(path)):
        return read_public_jwk(path)
    try:
        return read_private_jwk(Path(path)).public()
    except KeyFileError as exc:
        raise CliError(str(exc)) from None
