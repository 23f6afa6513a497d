"""Private JWK files: written once with mode 0600, never overwritten, read back with a clear error."""

from __future__ import annotations

import base64
import contextlib
import json
import os
from pathlib import Path

from hub.core.jose import InvalidJwkError, PrivateEncryptionJwk, PrivateSigningJwk, load_private_jwk


class KeyFileError(Exception):
    """A key file is missing, unreadable, or does not hold the expected private JWK."""


def write_private_jwk(path: Path, key: PrivateSigningJwk | PrivateEncryptionJwk) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.exists():
            raise KeyFileError(f"{path} already exists: refusing to overwrite a key") from None
        raise KeyFileError(f"cannot create {path}: a parent is not a directory") from None
    except OSError as exc:
        raise KeyFileError(f"cannot create {path}: {exc.strerror or exc.__class__.__name__}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(key.to_dict(), handle, indent=2)
        handle.write("\n")


def read_private_jwk(path: Path) -> PrivateSigningJwk | PrivateEncryptionJwk:
    try:
        data = json.loads(path.read_text("utf-8"))
        return load_private_jwk(data)
    except FileNotFoundError:
        raise KeyFileError(f"no key file at {path}") from None
    except (OSError, json.JSONDecodeError, InvalidJwkError) as exc:
        raise KeyFileError(f"{path} does not hold a private JWK: {exc.__class__.__name__}") from None


def read_signing_key(path: Path) -> PrivateSigningJwk:
    key = read_private_jwk(path)
    if not isinstance(key, PrivateSigningJwk):
        raise KeyFileError(f"{path} holds an encryption key, not an Ed25519 signing key")
    return key


def read_encryption_key(path: Path) -> PrivateEncryptionJwk:
    key = read_private_jwk(path)
    if not isinstance(key, PrivateEncryptionJwk):
        raise KeyFileError(f"{path} holds a signing key, not an X25519 encryption key")
    return key


def load_or_create_storage_key(path: Path) -> bytes:
    """The hub's storage key (32 random bytes, base64 in a 0600 file): it wraps every case's data key,
    so a copy of the database alone reads no message. Created on first start."""
    if not path.exists():
        with contextlib.suppress(KeyFileError):  # another hub process created it first
            _write_secret(path, base64.b64encode(os.urandom(32)) + b"\n")
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (OSError, ValueError):
        raise KeyFileError(f"{path} does not hold a storage key") from None
    if len(key) != 32:
        raise KeyFileError(f"{path} does not hold a 32-byte storage key")
    return key


def _write_secret(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists") from None
    except OSError as exc:
        raise KeyFileError(f"cannot create {path}: {exc.strerror or exc.__class__.__name__}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def load_or_create_signing_key(path: Path) -> PrivateSigningJwk:
    """The hub's own signing key: created on first start, then always the same."""
    if not path.exists():
        with contextlib.suppress(KeyFileError):  # another hub process created it first
            write_private_jwk(path, PrivateSigningJwk.generate())
    return read_signing_key(path)
