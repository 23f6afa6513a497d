"""`hub evidence export CASE [--out FILE]` and `hub evidence verify FILE --hub-jwks FILE|URL`
(or `--hub-fingerprint FP`, or `--audit-log`): the verifier takes the hub's key from outside the
bundle, says which root it used, and refuses to run without one."""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from pathlib import Path

from hub.cli.errors import CliError
from hub.cli.operator import operator_connection
from hub.core.bundle_verify import BundleFormatError, BundleReport, TrustRoot
from hub.core.case_reference import CaseReferenceError, parse_case_reference
from hub.core.clock import utc_now
from hub.core.jose import PublicJwk
from hub.core.refusal import Refusal
from hub.evidence.export import export_bundle
from hub.evidence.verify import (
    TrustRootError,
    read_jwks_source,
    trust_from_audit_log,
    trust_from_fingerprints,
    trust_from_jwks,
    trust_from_log_state,
    verify_bundle,
)
from hub.keyfile import KeyFileError, load_or_create_signing_key, load_or_create_storage_key, read_signing_key
from hub.settings import Settings
from hub.store.audit import sequence_and_checkpoint
from hub.store.case_keys import Keyring
from hub.store.case_lookup import resolve_case
from hub.store.database import create_pool, database_url

NO_ROOT = (
    "name the hub's key from outside the bundle: --hub-jwks FILE|URL, --hub-fingerprint FP, "
    "--log-state FILE or --audit-log (a bundle can carry anyone's key under the hub's id, so its own copy "
    "proves nothing)"
)


def cmd_evidence(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "verify":
        return _verify(args, settings)
    try:
        parse_case_reference(args.case_id)
    except CaseReferenceError as exc:
        raise CliError(str(exc), exit_code=2) from None

    async def run() -> tuple[uuid.UUID, bytes, PublicJwk]:
        async with operator_connection(settings) as conn:
            key = load_or_create_signing_key(settings.signing_key_file)
            try:
                case_id = await resolve_case(conn, args.case_id)
            except CaseReferenceError as exc:
                raise CliError(str(exc)) from None
            if _out(args, case_id).exists():
                raise CliError(f"{_out(args, case_id)} already exists: refusing to overwrite evidence")
            dsn, _ = database_url(settings.database_url, settings.data_dir)
            pool = await create_pool(dsn, min_size=1, max_size=2)
            try:  # cover the case's latest entries by a fresh checkpoint before exporting
                await sequence_and_checkpoint(pool, key, settings.hub_id, utc_now())
            finally:
                await pool.close()
            try:
                keyring = Keyring(load_or_create_storage_key(settings.storage_key_path))
                bundle = await export_bundle(
                    conn, case_id, hub_id=settings.hub_id, now=utc_now(), keyring=keyring
                )
                return case_id, bundle, key.public()
            except Refusal as refusal:
                raise CliError(refusal.detail) from None

    case_id, data, public = asyncio.run(run())
    out = _out(args, case_id)
    out.write_bytes(data)
    out.chmod(0o600)  # the bundle holds the referral: keep it as private as the case
    print(json.dumps({"bundle": str(out), "bytes": len(data), "hub_key_fingerprint": public.thumbprint()}))
    return 0


def _out(args: argparse.Namespace, case_id: uuid.UUID) -> Path:
    return Path(args.out or f"evidence-{case_id}.zip")


def _root(args: argparse.Namespace, settings: Settings) -> TrustRoot:
    chosen = [
        bool(args.hub_fingerprint),
        args.hub_jwks is not None,
        args.audit_log,
        args.log_state is not None,
    ]
    if not any(chosen):
        raise CliError(NO_ROOT, exit_code=2)
    if sum(chosen) > 1:
        raise CliError(
            "name one trust root: --hub-jwks, --hub-fingerprint, --log-state or --audit-log", exit_code=2
        )
    try:
        if not args.audit_log:
            return _outside_root(args)
        key = read_signing_key(settings.signing_key_file).public()
    except TrustRootError as exc:
        raise CliError(str(exc)) from None
    except (OSError, KeyFileError) as exc:
        raise CliError(f"--audit-log needs the hub's key file ({settings.signing_key_file}): {exc}") from None

    async def run() -> TrustRoot:
        async with operator_connection(settings) as conn:
            try:
                return await trust_from_audit_log(conn, key, settings.hub_id)
            except TrustRootError as exc:
                raise CliError(str(exc)) from None

    return asyncio.run(run())


def _outside_root(args: argparse.Namespace) -> TrustRoot:
    """The root a verifier without the hub's database brings: a log monitor's pins, fingerprints, a JWKS."""
    if args.log_state is not None:
        try:
            state = Path(args.log_state).read_bytes()
        except OSError as exc:
            raise TrustRootError(f"cannot read {args.log_state}: {exc.strerror}") from None
        return trust_from_log_state(state, args.log_state)
    if args.hub_fingerprint:
        return trust_from_fingerprints(args.hub_fingerprint)
    return trust_from_jwks(read_jwks_source(args.hub_jwks), args.hub_jwks)


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError:
        raise CliError(f"cannot read {path}") from None
    root = _root(args, settings)
    try:
        report = verify_bundle(data, root)
    except BundleFormatError as exc:
        raise CliError(f"{path} is not an evidence bundle: {exc}") from None
    summary = _summary(report)
    if not report.ok:
        raise CliError(
            f"evidence does NOT verify: {report.faults[0]} ({len(report.faults)} fault(s); {summary})"
        )
    print(f"evidence verifies: {summary}")
    for note in report.notes:
        print(f"  note: {note}")
    return 0


def _summary(report: BundleReport) -> str:
    checked = ", ".join(f"{n} {what}" for what, n in sorted(report.checked.items())) or "nothing"
    purged = f", PURGED at {report.purged_at}" if report.purged_at else ""
    return (
        f"case {report.case_id or '?'}, made by {report.made_by or '?'}{purged}; trust root: {report.trust}; "
        f"checked {checked}"
    )


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("evidence").add_subparsers(dest="action", required=True)
    export = group.add_parser("export", help="write one file with everything that proves a case")
    export.add_argument("case_id", help="the case id, or an unambiguous start of it (6+ hex digits)")
    export.add_argument("--out", help="the bundle file (default evidence-CASE.zip)")
    verify = group.add_parser(
        "verify", help="verify a bundle offline, against the hub's key taken from outside the bundle"
    )
    verify.add_argument("file")
    verify.add_argument(
        "--hub-jwks", metavar="FILE|URL", help="the hub's published JWK Set (its /.well-known/jwks.json)"
    )
    verify.add_argument(
        "--hub-fingerprint",
        action="append",
        metavar="FP",
        help="a pinned RFC 7638 thumbprint of a hub signing key (repeat for earlier keys)",
    )
    verify.add_argument(
        "--log-state",
        metavar="FILE",
        help="the hub keys pinned in a state file of hub keys check-log (a log monitor you run)",
    )
    verify.add_argument(
        "--audit-log",
        action="store_true",
        help="the hub's own audit log and key file (HUB_DATABASE_URL / HUB_DATA_DIR): for its operator",
    )
