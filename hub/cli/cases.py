"""`hub cases list`: the operator's view of every case, with the same filters as `GET /v1/cases`.
It lists identifiers, types, parties, states and overdue flags only: no message content."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from hub.cli.errors import CliError
from hub.cli.operator import json_default, operator_connection
from hub.core.clock import utc_now
from hub.core.refusal import Refusal
from hub.services.case_list import STATUSES, CaseFilter, list_cases
from hub.settings import Settings


def cmd_cases(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> Any:
        async with operator_connection(settings) as conn:
            try:
                filters = CaseFilter(
                    status=args.state,
                    overdue=True if args.overdue else None,
                    country=args.country,
                    recipient=args.recipient,
                )
                return await list_cases(
                    conn, viewer=None, filters=filters, cursor=args.cursor, limit=args.limit, now=utc_now()
                )
            except Refusal as refusal:
                raise CliError(refusal.detail, exit_code=2) from None

    print(json.dumps(asyncio.run(run()), indent=2, default=json_default))
    return 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cases = commands.add_parser("cases").add_subparsers(dest="action", required=True)
    listing = cases.add_parser("list", help="cases, newest first")
    listing.add_argument("--overdue", action="store_true", help="only cases with a deadline past due")
    listing.add_argument("--state", choices=STATUSES)
    listing.add_argument("--country", help="a recipient's country (ISO 3166-1 alpha-2)")
    listing.add_argument("--recipient")
    listing.add_argument("--cursor")
    listing.add_argument("--limit", type=int, default=50)
