"""`hub purge [--dry-run]`: purge the cases whose retention ended, and delete the mail to no known reply
address whose retention ended (the hub also does both every minute)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from hub.cli.errors import CliError
from hub.cli.operator import json_default, operator_connection
from hub.core.clock import utc_now
from hub.core.policy import PolicyError
from hub.policies import load_retention_policy
from hub.settings import Settings
from hub.store.database import create_pool, database_url
from hub.store.purge import PurgeCandidate, candidates, purge_case, purge_unmatched_mail


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    try:
        policy = load_retention_policy(settings.retention_file)
    except PolicyError as exc:
        raise CliError(str(exc)) from None

    async def run() -> Any:
        async with operator_connection(settings):
            pass  # migrated
        dsn, _ = database_url(settings.database_url, settings.data_dir)
        pool = await create_pool(dsn, min_size=1, max_size=2)
        try:
            now = utc_now()
            found = await candidates(pool, policy, now)
            due = [c for c in found if c.due]
            purged = (
                []
                if args.dry_run
                else [str(c.case_id) for c in due if await purge_case(pool, c, policy, now)]
            )
            unmatched = (
                0
                if args.dry_run
                else await purge_unmatched_mail(pool, now, settings.mail.mailin_unmatched_retention_hours)
            )
            waiting = [_candidate(c) for c in found if not c.due]
            return {
                "due": [_candidate(c) for c in due],
                "purged": purged,
                "unmatched_mail_deleted": unmatched,
                "waiting": waiting,
                "dry_run": args.dry_run,
            }
        finally:
            await pool.close()

    print(json.dumps(asyncio.run(run()), indent=2, default=json_default))
    return 0


def _candidate(c: PurgeCandidate) -> dict[str, object]:
    """A case past or awaiting its purge, with the date its retention period ends."""
    return {
        "case_id": str(c.case_id),
        "final_at": c.final_at,
        "final_status": c.final_status,
        "purge_at": c.purge_at,
    }


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    purge = commands.add_parser("purge")
    purge.add_argument(
        "--dry-run",
        action="store_true",
        help="list what is due and when each final case will be, without purging",
    )
