"""`hub audit verify` recomputes the whole audit log and reports the first fault (exit 1), or that it
verifies (exit 0). The hub's public key is taken from its key file, or from a JWK Set given with
`--jwks` (e.g. one published earlier), so the check does not trust keys stored in the database.
`hub audit checkpoint` sequences pending entries and signs a checkpoint now."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.cli.errors import CliError
from hub.cli.operator import operator_connection
from hub.core.audit_verify import verify_log
from hub.core.clock import utc_now
from hub.core.jose import JoseError, PublicJwk, parse_jws, verify_signature
from hub.keyfile import KeyFileError, load_or_create_signing_key, read_signing_key
from hub.settings import Settings
from hub.store import audit


def checkpoint_reader(keys: Mapping[str, PublicJwk]) -> Any:
    def read(signed: str) -> Mapping[str, Any] | None:
        try:
            jws = parse_jws(signed)
            key = keys.get(jws.signatures[0].kid)
            if key is None:
                return None
            verify_signature(jws, jws.signatures[0], key)
            claims: dict[str, Any] = json.loads(jws.payload)
            return claims
        except (JoseError, ValueError):
            return None

    return read


def _hub_keys(args: argparse.Namespace, settings: Settings) -> dict[str, PublicJwk]:
    try:
        if args.jwks:
            document = json.loads(Path(args.jwks).read_text("utf-8"))
            keys = [
                PublicJwk.from_dict({k: v for k, v in j.items() if k in ("kty", "crv", "x", "kid")})
                for j in document["keys"]
            ]
            return {k.kid: k for k in keys}
        key = read_signing_key(settings.signing_key_file).public()
    except (OSError, ValueError, KeyError, TypeError, KeyFileError, JoseError) as exc:
        raise CliError(f"cannot read the hub's public key: {exc}") from None
    return {key.kid: key}


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "checkpoint":
        return _checkpoint(settings)
    keys = _hub_keys(args, settings)

    async def run() -> Any:
        async with operator_connection(settings) as conn:
            entries, checkpoints, pending = await audit.load_log(conn)
            since = await audit.oldest_pending_at(conn)
        rows = [dict(e.items()) for e in entries]
        return verify_log(
            rows,
            [dict(c.items()) for c in checkpoints],
            checkpoint_reader(keys),
            pending,
            pending_age_seconds=None if since is None else (utc_now() - since).total_seconds(),
            sequencer_interval_seconds=settings.audit_interval,
        )

    report = asyncio.run(run())
    summary = (
        f"{report.entries} entries, {report.checkpoints} checkpoints, verified up to entry "
        f"{report.verified_tree_size}, {report.pending} pending"
    )
    if report.fault is not None:
        raise CliError(f"audit log FAULT ({report.fault.kind}): {report.fault.detail} [{summary}]")
    print(f"audit log verifies: {summary}")
    return 0


def _checkpoint(settings: Settings) -> int:
    async def run() -> Any:
        from hub.store.database import create_pool, database_url

        key = load_or_create_signing_key(settings.signing_key_file)
        dsn, _ = database_url(settings.database_url, settings.data_dir)
        async with operator_connection(settings):
            pass  # migrated
        pool = await create_pool(dsn, min_size=1, max_size=2)
        try:
            return await audit.sequence_and_checkpoint(pool, key, settings.hub_id, utc_now())
        finally:
            await pool.close()

    result = asyncio.run(run())
    if result is None:
        raise CliError("another hub process is sequencing the audit log right now: try again")
    print(
        json.dumps(
            {
                "sequenced": result.sequenced,
                "tree_size": result.tree_size,
                "checkpointed": result.checkpointed,
            }
        )
    )
    return 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("audit").add_subparsers(dest="action", required=True)
    verify = group.add_parser(
        "verify", help="recompute the log and its signed checkpoints; report the first fault"
    )
    verify.add_argument(
        "--jwks", help="the hub's public JWK Set to verify checkpoints with (default: its key file)"
    )
    group.add_parser("checkpoint", help="sequence pending entries and sign a checkpoint now")
