"""Operator commands: run the hub, migrate, generate keys, manage the directory.

Directory commands talk to the database directly (the operator runs them where the hub runs); they
migrate first, so they work on a new database too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog

from hub.cli.errors import CliError
from hub.core.clock import rfc3339
from hub.core.jose import InvalidJwkError, PrivateEncryptionJwk, PrivateSigningJwk, PublicJwk
from hub.keyfile import KeyFileError, write_private_jwk
from hub.log import configure_logging
from hub.settings import Settings
from hub.store import directory
from hub.store.database import connect, database_url
from hub.store.directory import DirectoryError
from hub.store.migrate import DatabaseTooNewError, migrate

if TYPE_CHECKING:
    from hub.api.server import GuardedSite

log = structlog.get_logger("hub.cli")

DEFAULT_ACCEPTS = {
    "hotline": ("takedown-request", "assistance-request"),
    "platform": ("takedown-request",),
    "support-service": ("assistance-request",),
    "regulator": (),
    "law-enforcement": (),
}


@asynccontextmanager
async def operator_connection(
    settings: Settings, *, create: bool = False
) -> AsyncIterator[asyncpg.Connection]:
    """The hub's database, migrated. Without HUB_DATABASE_URL it is the embedded one in HUB_DATA_DIR; a
    command that only reads or changes what is there (`create` False) refuses to start a new, empty one
    where there is none, so that an operator on the wrong machine or with the wrong HUB_DATA_DIR is told,
    not answered `[]`."""
    embedded_dir = settings.data_dir / "postgres"
    if settings.database_url is None and not create and not (embedded_dir / "PG_VERSION").exists():
        raise CliError(
            f"no hub database here: {embedded_dir} holds none (HUB_DATA_DIR); run this where the hub runs, "
            "set HUB_DATABASE_URL, or make one with `hub migrate`"
        )
    dsn, _embedded = database_url(settings.database_url, settings.data_dir)
    async with connect(dsn) as conn:
        try:
            await migrate(conn)
        except DatabaseTooNewError as exc:
            raise CliError(str(exc)) from None
        yield conn


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from hub.api.app import create_app
    from hub.api.server import ListenError, check_port_free, serve

    settings = settings.with_changes(host=args.host or settings.host, port=args.port or settings.port)
    configure_logging(settings.log_level)
    processes = args.processes or settings.processes
    log.info(
        "hub.starting",
        processes=processes,
        host=settings.host,
        port=settings.port,
        hub_id=settings.hub_id,
        database="external" if settings.database_url else "embedded",
    )
    try:
        check_port_free(settings.host, settings.port)
        if processes > 1:
            from hub.api.processes import serve_processes

            return serve_processes(settings, processes)
        asyncio.run(serve(create_app(settings), settings.host, settings.port, on_started=_listening))
    except (DatabaseTooNewError, ListenError) as exc:
        raise CliError(str(exc)) from None
    return 0


def _listening(site: GuardedSite) -> None:
    log.info("hub.listening", url=site.name)


def json_default(value: object) -> str:
    return rfc3339(value) if isinstance(value, datetime) else str(value)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> list[int]:
        dsn, _ = database_url(settings.database_url, settings.data_dir)
        async with connect(dsn) as conn:
            try:
                return await migrate(conn)
            except DatabaseTooNewError as exc:
                raise CliError(str(exc)) from None

    applied = asyncio.run(run())
    print(f"applied migrations {applied}" if applied else "database schema is up to date")
    return 0


def cmd_keys_generate(args: argparse.Namespace, settings: Settings) -> int:
    key: PrivateSigningJwk | PrivateEncryptionJwk = (
        PrivateEncryptionJwk.generate(args.kid) if args.use == "enc" else PrivateSigningJwk.generate(args.kid)
    )
    try:
        write_private_jwk(Path(args.path), key)
    except KeyFileError as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(key.public().to_dict(), indent=2))
    return 0


def read_public_jwk(path: str) -> PublicJwk:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        raise CliError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CliError(f"{path} is not a JSON file: {exc.__class__.__name__}") from None
    if isinstance(data, dict) and "d" in data:
        raise CliError(
            f"{path} holds a PRIVATE key: register the public JWK that 'hub keys generate' printed"
        )
    try:
        return PublicJwk.from_dict(data)
    except InvalidJwkError as exc:
        raise CliError(f"{path}: {exc}") from None


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"{option} must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z") from None
    if moment.tzinfo is None:
        raise CliError(f"{option} must include a time zone, e.g. 2026-12-01T00:00:00Z")
    return moment


def cmd_participants(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> Any:
        # registering the first participants may come before the hub's first start: it may make the database
        async with operator_connection(settings, create=args.action == "add") as conn:
            try:
                return await _PARTICIPANT_ACTIONS[args.action](conn, args)
            except DirectoryError as exc:
                raise CliError(str(exc)) from None

    result = asyncio.run(run())
    if result is not None:
        print(json.dumps(result, indent=2, default=json_default))
    return 0


def adapter_choice(
    args: argparse.Namespace, endpoint: str | None
) -> tuple[str | None, dict[str, Any] | None]:
    """The adapter and configuration asked for, validated by the adapter's own config class."""
    from adapters.base import AdapterConfigError
    from adapters.registry import validate_config

    if args.adapter is None and args.adapter_config is None:
        return None, None
    try:
        config = json.loads(args.adapter_config) if args.adapter_config else {}
    except json.JSONDecodeError:
        raise CliError(
            '--adapter-config must be a JSON object, e.g. \'{"to": "abuse@platform.example"}\''
        ) from None
    if not isinstance(config, dict):
        raise CliError("--adapter-config must be a JSON object")
    name = args.adapter or ("webhook" if endpoint else "pull")
    try:
        validate_config(name, config, endpoint)
    except AdapterConfigError as exc:
        raise CliError(f"adapter '{name}': {exc}") from None
    return name, config


async def _add(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    jwk = read_public_jwk(args.jwk)
    adapter, adapter_config = adapter_choice(args, args.endpoint)
    accepts = args.accepts.split(",") if args.accepts else list(DEFAULT_ACCEPTS[args.kind])
    async with conn.transaction():
        await directory.add_participant(
            conn,
            participant_id=args.id,
            name=args.name,
            kind=args.kind,
            country=args.country.upper(),
            endpoint=args.endpoint,
            accepts=[a.strip() for a in accepts if a.strip()],
            domains=args.domain or [],
            trusted_flagger=args.trusted_flagger,
            hash_signals=args.hash_signals,
            adapter=adapter,
            adapter_config=adapter_config,
        )
        await directory.add_key(conn, participant_id=args.id, jwk=jwk.to_dict())
    return {"added": args.id, "kid": jwk.kid}


async def _list(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    return [
        {"id": p.id, "kind": p.kind, "country": p.country, "accepts": list(p.accepts)}
        for p in await directory.list_participants(conn)
    ]


async def _show(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    participant = await directory.get_participant(conn, args.id)
    if participant is None:
        raise CliError(f"no participant '{args.id}'")
    keys = [
        {
            "kid": k.kid,
            "use": k.use,
            "not_before": k.not_before,
            "not_after": k.not_after,
            "revoked_at": k.revoked_at,
            "revocation_reason": k.revocation_reason,
        }
        for k in await directory.keys_of(conn, args.id)
    ]
    return {
        "id": participant.id,
        "name": participant.name,
        "kind": participant.kind,
        "country": participant.country,
        "endpoint": participant.endpoint,
        "accepts": list(participant.accepts),
        "domains": list(participant.domains),
        "trusted_flagger": participant.trusted_flagger,
        "hash_signals": participant.hash_signals,
        "adapter": participant.adapter,
        "adapter_config": participant.adapter_config,
        "keys": keys,
    }


async def _add_key(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    jwk = read_public_jwk(args.jwk)
    await directory.add_key(
        conn,
        participant_id=args.id,
        jwk=jwk.to_dict(),
        not_before=_moment(args.not_before, "--not-before"),
        not_after=_moment(args.not_after, "--not-after"),
    )
    return {"participant": args.id, "added_kid": jwk.kid}


async def _update(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    if args.endpoint and args.no_endpoint:
        raise CliError("give --endpoint or --no-endpoint, not both", exit_code=2)
    current = await directory.get_participant(conn, args.id)
    if current is None:
        raise CliError(f"no participant '{args.id}'")
    endpoint = None if args.no_endpoint else (args.endpoint or current.endpoint)
    if args.adapter is None and args.adapter_config is not None:
        args.adapter = current.adapter
    adapter, adapter_config = adapter_choice(args, endpoint)
    await directory.update_participant(
        conn,
        args.id,
        add_domains=args.add_domain or [],
        remove_domains=args.remove_domain or [],
        trusted_flagger=None if args.trusted_flagger is None else args.trusted_flagger == "yes",
        hash_signals=None if args.hash_signals is None else args.hash_signals == "yes",
        endpoint=args.endpoint,
        clear_endpoint=args.no_endpoint,
        accepts=None if args.accepts is None else [a.strip() for a in args.accepts.split(",") if a.strip()],
        adapter=adapter,
        adapter_config=adapter_config,
    )
    return await _show(conn, args)


async def _revoke_key(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    await directory.revoke_key(conn, participant_id=args.id, kid=args.kid, reason=args.reason)
    return {"participant": args.id, "revoked_kid": args.kid}


_PARTICIPANT_ACTIONS = {
    "update": _update,
    "add": _add,
    "list": _list,
    "show": _show,
    "add-key": _add_key,
    "revoke-key": _revoke_key,
}
