"""`hub stats`: the transparency figures over every case, as JSON, CSV or the HTML report; and
`hub dsa-export --platform ID`: a platform's statements of reasons in the EU DSA Transparency Database
format, for the platform to submit with its own API token (see `hub/stats/dsa.py`).

Both read the database directly, as the operator does where the hub runs. Neither prints personal
data: figures are counts by organisation, and the export strips URLs from the platform's texts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from hub.cli.errors import CliError
from hub.cli.operator import operator_connection
from hub.core.clock import utc_now
from hub.core.refusal import Refusal
from hub.keyfile import load_or_create_storage_key
from hub.settings import Settings
from hub.stats.dsa import DsaExport, export_statements
from hub.stats.figures import Period, parse_period, to_csv
from hub.stats.report import render_report
from hub.store.case_keys import Keyring
from hub.store.directory import get_participant
from hub.store.stats import figures_for, platform_status_updates

BATCH_LIMIT = 100  # statements per call to the database's `statements` endpoint


def _period(args: argparse.Namespace) -> Period:
    try:
        return parse_period(args.from_, args.to, utc_now())
    except Refusal as refusal:
        raise CliError(refusal.detail, exit_code=2) from None


def _write(text: str, out: str | None) -> None:
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        Path(out).write_text(text, "utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror or exc.__class__.__name__}") from None


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    period = _period(args)

    async def run() -> dict[str, Any]:
        async with operator_connection(settings) as conn:
            return await figures_for(conn, None, period)

    figures = asyncio.run(run())
    if args.format == "csv":
        _write(to_csv(figures), args.out)
    elif args.format == "html":
        _write(render_report(figures, generated_at=utc_now()), args.out)
    else:
        _write(json.dumps(figures, indent=2), args.out)
    return 0


def cmd_dsa_export(args: argparse.Namespace, settings: Settings) -> int:
    period = _period(args)

    async def run() -> DsaExport:
        async with operator_connection(settings) as conn:
            platform = await get_participant(conn, args.platform)
            if platform is None or platform.kind != "platform":
                raise CliError(f"{args.platform!r} is not a platform in the directory", exit_code=2)
            keyring = Keyring(load_or_create_storage_key(settings.storage_key_path))
            return export_statements(await platform_status_updates(conn, args.platform, period, keyring))

    export = asyncio.run(run())
    for skipped in export.skipped:
        print(f"hub: skipped status update {skipped.message_id}: {skipped.reason}", file=sys.stderr)
    if args.format == "batch":
        if len(export.statements) > BATCH_LIMIT:
            raise CliError(
                f"{len(export.statements)} statements: the statements endpoint takes at most {BATCH_LIMIT} "
                "a call; use --format jsonl or a shorter period",
                exit_code=2,
            )
        _write(json.dumps({"statements": export.statements}, indent=2, ensure_ascii=False), args.out)
    else:
        _write("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in export.statements), args.out)
    print(f"hub: {len(export.statements)} statements of reasons exported", file=sys.stderr)
    return 0


def _period_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="from_", metavar="YYYY-MM-DD", help="first day (default: 1 January)")
    parser.add_argument("--to", metavar="YYYY-MM-DD", help="day after the last (default: next 1 January)")
    parser.add_argument("--out", metavar="FILE", help="write here instead of standard output")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stats = commands.add_parser("stats")
    _period_options(stats)
    stats.add_argument("--format", choices=("json", "csv", "html"), default="json")
    export = commands.add_parser("dsa-export")
    export.add_argument("--platform", required=True, metavar="ID")
    _period_options(export)
    export.add_argument(
        "--format",
        choices=("jsonl", "batch"),
        default="jsonl",
        help="jsonl: one statement a line (the `statement` endpoint); "
        "batch: {'statements': [...]} (the `statements` endpoint, at most 100)",
    )
