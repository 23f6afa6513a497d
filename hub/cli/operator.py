"""Operator commands: run the hub, migrate, generate keys, manage the directory.

Directory commands talk to the database directly (the operator runs them where the hub runs); they
migrate first, so they work on a new database too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog

from hub.cli.destinations import add_destination, destinations_shown, remove_destination
from hub.cli.errors import CliError
from hub.cli.jwk_files import read_public_jwk
from hub.core.binding import BindingError, fingerprint, matches_fingerprint, read_binding
from hub.core.clock import rfc3339
from hub.core.jose import PrivateEncryptionJwk, PrivateSigningJwk, PublicJwk
from hub.keyfile import KeyFileError, write_private_jwk
from hub.log import configure_logging
from hub.services.bindings import BindingRefused, apply_binding
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
    "hub": (),  # a peer hub: what it forwards is addressed to its participants (docs/federation.md)
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


def cmd_participants(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> Any:
        # registering the first participants may come before the hub's first start: it may make the database
        async with operator_connection(settings, create=args.action == "add") as conn:
            try:
                args.hub_id = settings.hub_id
                return await _PARTICIPANT_ACTIONS[args.action](conn, args)
            except DirectoryError as exc:
                raise CliError(str(exc)) from None

    result = asyncio.run(run())
    if args.action == "list" and not args.json:
        from hub.cli.tables import participants_table

        print(participants_table(result))
    elif result is not None:
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


def checked_fingerprint(jwk: PublicJwk, given: str | None) -> None:
    """The operator registers a first key only after comparing its fingerprint with the one its
    participant reads out over another channel (issue 18): asked for when not given on a terminal."""
    if given is None:
        if not sys.stdin.isatty():
            raise CliError(
                "give --fingerprint: the key's fingerprint as its participant read it to you over another "
                "channel (they print it with `hub keys fingerprint KEYFILE`)",
                exit_code=2,
            )
        given = input(f"Fingerprint of key {jwk.kid}, as the participant reads it to you: ")
    if not matches_fingerprint(given, jwk):
        raise CliError(
            f"the fingerprint does not match key {jwk.kid}: do not register it; check with the participant "
            "over another channel"
        )


def contact_choice(given: str | None) -> str | None:
    """A directory contact address, checked as the e-mail adapter checks its addresses."""
    from adapters.email import plausible_address

    if given is not None and not plausible_address(given):
        raise CliError("--contact-email must be a plain e-mail address such as abuse@platform.example")
    return given


async def _add(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    jwk = read_public_jwk(args.jwk)
    if jwk.use != "sig":
        raise CliError("a participant is registered with its signing (Ed25519) key; it binds its others")
    checked_fingerprint(jwk, args.fingerprint)
    adapter, adapter_config = adapter_choice(args, args.endpoint)
    if args.kind == "hub":  # a peer is no push destination of its own: its participants are
        if args.adapter is not None or args.adapter_config is not None:
            raise CliError("a peer hub takes no --adapter: what it forwards goes to its participants")
        adapter, adapter_config = "pull", {}
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
            contact_email=contact_choice(args.contact_email),
        )
        await directory.add_key(conn, participant_id=args.id, jwk=jwk.to_dict())
    return {"added": args.id, "kid": jwk.kid, "fingerprint": fingerprint(jwk)}


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
        "contact_email": participant.contact_email,
        "keys": keys,
        "destinations": await destinations_shown(conn, args.id),
    }


async def _apply_binding(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    """Publish a binding the participant signed and handed over (the hub checks it as the API does)."""
    try:
        text = (await asyncio.to_thread(Path(args.binding).read_text, "utf-8")).strip()
    except FileNotFoundError:
        raise CliError(f"no such file: {args.binding}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{args.binding} cannot be read: {exc.__class__.__name__}") from None
    try:
        named = read_binding(text).participant_id
    except BindingError as exc:
        raise CliError(f"binding refused: {exc}") from None
    if named != args.id:
        raise CliError(f"the binding is for '{named}', not '{args.id}': nothing was changed")
    try:
        async with conn.transaction():
            applied = await apply_binding(conn, hub_id=args.hub_id, text=text, now=datetime.now(UTC))
    except BindingRefused as exc:
        raise CliError(f"binding refused: {exc.detail}") from None
    return applied.document()


async def _reset(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    jwk = read_public_jwk(args.jwk)
    if jwk.use != "sig":
        raise CliError("a reset registers the participant's new signing (Ed25519) key")
    checked_fingerprint(jwk, args.fingerprint)
    async with conn.transaction():
        epoch = await directory.reset_participant(
            conn, participant_id=args.id, jwk=jwk.to_dict(), reason=args.reason, at=datetime.now(UTC)
        )
    log.warning("directory.reset", participant=args.id, epoch=epoch)
    return {
        "reset": args.id,
        "epoch": epoch,
        "kid": jwk.kid,
        "fingerprint": fingerprint(jwk),
        "note": "every earlier key is revoked; its peers refuse it until they confirm the reset",
    }


async def _update(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    if args.endpoint or args.no_endpoint or args.adapter or args.adapter_config:
        raise CliError(
            "a delivery address changes only with its participant's binding: they sign it with "
            "`hub keys bind --adapter NAME [--endpoint URL] [--adapter-config JSON]` and publish it "
            "(--hub URL), or hand it to you for `hub participants apply-binding ID --binding FILE`"
        )
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
        contact_email=contact_choice(args.contact_email),
        clear_contact_email=args.no_contact_email,
    )
    return await _show(conn, args)


async def _revoke_key(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    now = datetime.now(UTC)
    others = [
        k
        for k in await directory.keys_of(conn, args.id)
        if k.use == "sig" and k.kid != args.kid and k.problem_at(now) is None
    ]
    if not others and not args.force:
        raise CliError(
            f"'{args.kid}' is the last valid signing key of '{args.id}': revoked, it can neither send nor "
            "bind a new key, and only a reset brings it back; add --force to revoke it anyway"
        )
    await directory.revoke_key(conn, participant_id=args.id, kid=args.kid, reason=args.reason)
    return {"participant": args.id, "revoked_kid": args.kid}


_PARTICIPANT_ACTIONS = {
    "update": _update,
    "add": _add,
    "list": _list,
    "show": _show,
    "add-key": _apply_binding,
    "apply-binding": _apply_binding,
    "reset": _reset,
    "revoke-key": _revoke_key,
    "add-destination": add_destination,
    "remove-destination": remove_destination,
}
