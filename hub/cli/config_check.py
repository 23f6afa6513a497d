"""`hub config check`: read the configuration the way `hub serve` would and say, one line per check,
what is fine and what is wrong (with the fix). Exit 1 if anything is wrong.

Nothing is created or changed: missing key files are reported as "created on first start", the
embedded database is not started, and the database URL is never printed (it may hold a password).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import stat
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import asyncpg

from hub.core.policy import PolicyError
from hub.keyfile import KeyFileError, read_signing_key
from hub.policies import load_policy_book, load_retention_policy
from hub.settings import Settings, SettingsError
from hub.store.migrate import current_version, latest_version

DATABASE_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str

    def line(self) -> str:
        return f"{'ok' if self.ok else 'problem':<8} {self.name}: {self.message}"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = commands.add_parser("config").add_subparsers(dest="action", required=True)
    config.add_parser("check", help="check settings, policies, key files, database and mail; exit 1 if wrong")


def cmd_config(args: argparse.Namespace) -> int:
    return run_checks(os.environ)


def run_checks(env: Mapping[str, str], out: TextIO | None = None) -> int:
    checks = list(checks_for(env))
    for check in checks:
        print(check.line(), file=sys.stdout if out is None else out)
    return 0 if all(c.ok for c in checks) else 1


def checks_for(env: Mapping[str, str]) -> list[Check]:
    try:
        settings = Settings.from_env(env)
    except SettingsError as exc:
        return [Check("settings", False, f"{exc}: fix the variable and run `hub config check` again")]
    found = [
        Check("settings", True, f"hub id {settings.hub_id}, listening on {settings.host}:{settings.port}")
    ]
    for check in (
        _policies,
        _retention,
        _signing_key,
        _storage_key,
        _database,
        _mail,
    ):
        found.append(check(settings))
    return found


def _guard(name: str, run: Callable[[], str]) -> Check:
    try:
        return Check(name, True, run())
    except _Problem as exc:
        return Check(name, False, str(exc))


class _Problem(Exception):
    """A check failed: the text says what is wrong and how to fix it."""


def _policies(settings: Settings) -> Check:
    def run() -> str:
        try:
            book = load_policy_book(settings.policy_dir)
        except (PolicyError, OSError) as exc:
            raise _Problem(f"{_one_line(exc)}: correct the policy file (HUB_POLICY_DIR)") from None
        where = f"HUB_POLICY_DIR {settings.policy_dir}" if settings.policy_dir else "packaged policies"
        return f"{where}: {len(book.rules)} rules, jurisdictions {', '.join(book.jurisdictions())}"

    return _guard("policies", run)


def _retention(settings: Settings) -> Check:
    def run() -> str:
        try:
            load_retention_policy(settings.retention_file)
        except (PolicyError, OSError) as exc:
            raise _Problem(f"{_one_line(exc)}: correct HUB_RETENTION_FILE") from None
        return str(settings.retention_file) if settings.retention_file else "packaged retention policy"

    return _guard("retention", run)


def _private_mode(path: Path, variable: str) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise _Problem(f"{path} is readable by others (mode {mode:04o}): run `chmod 600 {path}` ({variable})")


def _signing_key(settings: Settings) -> Check:
    path = settings.signing_key_file

    def run() -> str:
        if not path.exists():
            return f"{path} absent: created on first start"
        _private_mode(path, "HUB_SIGNING_KEY_FILE")
        try:
            key = read_signing_key(path)
        except KeyFileError as exc:
            raise _Problem(f"{exc}: point HUB_SIGNING_KEY_FILE at the hub's Ed25519 private JWK") from None
        return f"{path} (kid {key.kid})"

    return _guard("signing key", run)


def _storage_key(settings: Settings) -> Check:
    path = settings.storage_key_path

    def run() -> str:
        if not path.exists():
            return f"{path} absent: created on first start"
        _private_mode(path, "HUB_STORAGE_KEY_FILE")
        try:
            key = base64.b64decode(path.read_bytes().strip(), validate=True)
        except (OSError, ValueError):
            raise _Problem(f"{path} is not base64: restore the storage key from backup") from None
        if len(key) != 32:
            raise _Problem(f"{path} holds {len(key)} bytes, not 32: restore the storage key from backup")
        return f"{path} (32 bytes)"

    return _guard("storage key", run)


def _database(settings: Settings) -> Check:
    url = settings.database_url

    def run() -> str:
        if url is None:
            return f"embedded PostgreSQL under {settings.data_dir / 'postgres'} (HUB_DATABASE_URL unset)"
        try:
            version = asyncio.run(_schema_version(url))
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
            raise _Problem(
                f"cannot reach HUB_DATABASE_URL ({_reason(exc)}): check host, port, credentials and that "
                "PostgreSQL is running"
            ) from None
        expected = latest_version()
        if version < expected:
            raise _Problem(f"schema version {version}, code expects {expected}: run `hub migrate`")
        if version > expected:
            raise _Problem(f"schema version {version} is newer than this hub's {expected}: upgrade the hub")
        return f"reachable, schema version {version} (current)"

    return _guard("database", run)


async def _schema_version(url: str) -> int:
    conn = await asyncpg.connect(url, timeout=DATABASE_TIMEOUT_SECONDS)
    try:
        return await current_version(conn)
    finally:
        await conn.close()


def _mail(settings: Settings) -> Check:
    mail = settings.mail

    def run() -> str:
        password = mail.smtp_password_file
        if password is not None:
            if not password.is_file():
                raise _Problem(f"HUB_SMTP_PASSWORD_FILE {password} does not exist: create it or unset it")
            _private_mode(password, "HUB_SMTP_PASSWORD_FILE")
            if mail.smtp_username is None:
                raise _Problem("HUB_SMTP_PASSWORD_FILE is set without HUB_SMTP_USERNAME: set both or neither")
        if "@" not in mail.mail_from:
            raise _Problem(f"HUB_MAIL_FROM {mail.mail_from!r} is not an address: set e.g. hub@example.org")
        login = f", login as {mail.smtp_username}" if mail.smtp_username else ""
        tls = "STARTTLS" if mail.smtp_starttls else "no TLS"
        return f"SMTP {mail.smtp_host}:{mail.smtp_port} ({tls}{login})"

    return _guard("mail", run)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.__class__.__name__}: {exc.strerror}"
    return exc.__class__.__name__


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
