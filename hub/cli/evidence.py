"""`hub evidence export CASE [--out FILE]` and `hub evidence verify FILE` (offline)."""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
import zipfile
from pathlib import Path

from hub.cli.errors import CliError
from hub.cli.operator import operator_connection
from hub.core.clock import utc_now
from hub.core.refusal import Refusal
from hub.evidence.export import export_bundle
from hub.evidence.verify import verify_bundle
from hub.keyfile import load_or_create_signing_key, load_or_create_storage_key
from hub.settings import Settings
from hub.store.audit import sequence_and_checkpoint
from hub.store.case_keys import Keyring
from hub.store.database import create_pool, database_url


def cmd_evidence(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "verify":
        return _verify(Path(args.file))
    try:
        case_id = uuid.UUID(args.case_id)
    except ValueError:
        raise CliError("CASE must be a case id (a UUID)", exit_code=2) from None
    out = Path(args.out or f"evidence-{case_id}.zip")
    if out.exists():
        raise CliError(f"{out} already exists: refusing to overwrite evidence")

    async def run() -> bytes:
        async with operator_connection(settings) as conn:
            key = load_or_create_signing_key(settings.signing_key_file)
            dsn, _ = database_url(settings.database_url, settings.data_dir)
            pool = await create_pool(dsn, min_size=1, max_size=2)
            try:  # cover the case's latest entries by a fresh checkpoint before exporting
                await sequence_and_checkpoint(pool, key, settings.hub_id, utc_now())
            finally:
                await pool.close()
            try:
                keyring = Keyring(load_or_create_storage_key(settings.storage_key_path))
                return await export_bundle(
                    conn, case_id, hub_id=settings.hub_id, now=utc_now(), keyring=keyring
                )
            except Refusal as refusal:
                raise CliError(refusal.detail) from None

    data = asyncio.run(run())
    out.write_bytes(data)
    out.chmod(0o600)  # the bundle holds the referral: keep it as private as the case
    print(json.dumps({"bundle": str(out), "bytes": len(data)}))
    return 0


def _verify(path: Path) -> int:
    try:
        report = verify_bundle(path.read_bytes())
    except FileNotFoundError:
        raise CliError(f"no such file: {path}") from None
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise CliError(f"{path} is not an evidence bundle: {exc.__class__.__name__}") from None
    checked = ", ".join(f"{n} {what}" for what, n in sorted(report.checked.items()))
    if not report.ok:
        raise CliError(
            f"evidence does NOT verify: {report.faults[0]} ({len(report.faults)} fault(s); checked {checked})"
        )
    print(f"evidence verifies: {checked}")
    return 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("evidence").add_subparsers(dest="action", required=True)
    export = group.add_parser("export", help="write one file with everything that proves a case")
    export.add_argument("case_id")
    export.add_argument("--out", help="the bundle file (default evidence-CASE.zip)")
    group.add_parser("verify", help="verify a bundle offline").add_argument("file")
