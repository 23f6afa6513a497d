"""The operator's commands for a participant's further delivery destinations (issue 19).

`hub participants add-destination ID --binding FILE` publishes a destination its participant signed
(`hub keys bind --add-destination NAME --adapter NAME ...`): the operator cannot add one on anyone's
behalf. `hub participants remove-destination ID NAME` stops one, with the participant's
`--binding FILE` or, taking a channel away as the operator may take a key's trust away, with a
`--reason` recorded in the transparency log.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from hub.cli.errors import CliError
from hub.core.binding import BindingError, read_binding
from hub.services.bindings import BindingRefused, apply_binding
from hub.store import destinations


async def published(conn: asyncpg.Connection, args: argparse.Namespace, operation: str) -> dict[str, Any]:
    """Publish the participant's binding of `operation` from `args.binding`, checked as the API does."""
    try:
        text = (await asyncio.to_thread(Path(args.binding).read_text, "utf-8")).strip()
    except FileNotFoundError:
        raise CliError(f"no such file: {args.binding}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{args.binding} cannot be read: {exc.__class__.__name__}") from None
    try:
        binding = read_binding(text)
    except BindingError as exc:
        raise CliError(f"binding refused: {exc}") from None
    if binding.participant_id != args.id:
        raise CliError(f"the binding is for '{binding.participant_id}', not '{args.id}': nothing was changed")
    if binding.operation != operation:
        raise CliError(f"the binding is a {binding.operation}, not a {operation}: nothing was changed")
    name = getattr(args, "name", None)
    if name is not None and binding.destination_name != name:
        raise CliError(
            f"the binding names destination '{binding.destination_name}', not '{name}': nothing was changed"
        )
    try:
        async with conn.transaction():
            applied = await apply_binding(conn, hub_id=args.hub_id, text=text, now=datetime.now(UTC))
    except BindingRefused as exc:
        raise CliError(f"binding refused: {exc.detail}") from None
    return applied.document()


async def add_destination(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    return await published(conn, args, "add-destination")


async def remove_destination(conn: asyncpg.Connection, args: argparse.Namespace) -> Any:
    if args.binding is not None:
        return await published(conn, args, "remove-destination")
    if not args.reason:
        raise CliError(
            "say why with --reason (recorded in the transparency log), or publish the participant's own "
            "removal with --binding FILE"
        )
    async with conn.transaction():
        stopped = await destinations.remove_destination(
            conn, participant_id=args.id, name=args.name, at=datetime.now(UTC), reason=args.reason
        )
    return {"participant": args.id, "removed_destination": args.name, "stopped_deliveries": stopped}


async def destinations_shown(conn: asyncpg.Connection, participant_id: str) -> list[dict[str, Any]]:
    """What `participants show` lists of them: the active ones, as bound."""
    return [
        {
            "name": d.name,
            "adapter": d.adapter,
            "endpoint": d.endpoint,
            "adapter_config": d.adapter_config,
            "carries": None if d.carries is None else list(d.carries),
            "bound_at": d.bound_at,
        }
        for d in await destinations.destinations_of(conn, participant_id)
    ]


def add_destination_commands(participants: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add = participants.add_parser(
        "add-destination",
        help="publish a further delivery destination its participant bound (hub keys bind "
        "--add-destination): e.g. an HMA bank beside its webhook",
    )
    add.add_argument("id")
    add.add_argument("--binding", required=True, metavar="FILE", help="the binding the participant signed")
    remove = participants.add_parser(
        "remove-destination", help="stop delivering to one of a participant's further destinations"
    )
    remove.add_argument("id")
    remove.add_argument("name")
    remove.add_argument("--binding", metavar="FILE", help="the participant's signed removal")
    remove.add_argument("--reason", help="the operator's reason, without the participant's binding")
