"""`hub keys fingerprint`, `bind` and `monitor`: the participant's side of a directory it can check.

`fingerprint` prints a key's fingerprint to read aloud to the operator, who types it into
`hub participants add --fingerprint` (or `reset`). `bind` signs, with the participant's registered (or an
already bound) signing key, a binding for a new key, a revocation or a delivery address
(`hub.core.binding`), and prints it; with `--hub URL` it publishes it at once
(`POST /v1/directory/bindings`), else the participant hands the file to the operator
(`hub participants add-key ID --binding FILE`). `monitor` reads the participant's own entry
(`GET /v1/directory/self`) and exits 1 on a key it did not bind, a delivery address it did not sign, a
reset, or, with `--state FILE`, any change since the last run (a cron job).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from hub.cli.errors import CliError
from hub.cli.jwk_files import public_of
from hub.cli.key_trust import add_trust_command, cmd_trust
from hub.cli.witness_check import witnessed
from hub.client.log_check import check_entry, extends
from hub.core.binding import (
    BindingError,
    bind_delivery,
    bind_destination,
    bind_destination_removal,
    bind_key,
    bind_revocation,
    delivery_document,
    destination_document,
    fingerprint,
)
from hub.core.cosignature import cosign
from hub.core.directory_proof import NotYetLogged
from hub.core.jose import PrivateSigningJwk, PublicJwk
from hub.core.log_watch import LogAlarm, Seen, read_checkpoint
from hub.core.own_entry import entry_problems, seen_state
from hub.keyfile import KeyFileError, read_signing_key


def cmd_keys(args: argparse.Namespace) -> int:
    if args.action == "fingerprint":
        return cmd_fingerprint(args)
    if args.action == "bind":
        return cmd_bind(args)
    if args.action == "monitor":
        return cmd_monitor(args)
    if args.action == "check-log":
        return cmd_check_log(args)
    if args.action == "trust":
        return cmd_trust(args)
    from hub.cli.operator import cmd_keys_generate
    from hub.settings import Settings

    if args.action == "rotate":
        from hub.cli.hub_key import cmd_rotate

        return cmd_rotate(args, Settings.from_env())
    return cmd_keys_generate(args, Settings.from_env())


def cmd_fingerprint(args: argparse.Namespace) -> int:
    key = public_of(args.path)
    print(
        json.dumps(
            {"kid": key.kid, "use": key.use, "fingerprint": fingerprint(key), "thumbprint": key.thumbprint()},
            indent=2,
        )
    )
    return 0


def cmd_bind(args: argparse.Namespace) -> int:
    try:
        signer = read_signing_key(Path(args.key))
    except KeyFileError as exc:
        raise CliError(str(exc)) from None
    chosen = [
        args.add_key is not None,
        args.revoke is not None,
        args.delivery_adapter is not None and args.add_destination is None,
        args.add_destination is not None,
        args.remove_destination is not None,
    ]
    if sum(chosen) != 1 or (args.add_destination is not None and args.delivery_adapter is None):
        raise CliError(
            "bind one change: --add-key FILE, --revoke KID, --adapter NAME, "
            "--add-destination NAME --adapter NAME or --remove-destination NAME",
            exit_code=2,
        )
    if args.hub is None and args.hub_id is None:
        raise CliError(
            "name the hub: --hub URL (publishes the binding) or --hub-id ID (prints it)", exit_code=2
        )

    async def run() -> dict[str, Any]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            hub_id = args.hub_id or await _hub_id(session, args.hub)
            text = _binding(args, signer, hub_id)
            if args.hub is None:
                return {"binding": text}
            from hub.client import HubClient

            client = HubClient(session, args.hub, args.as_, signer, hub_id=hub_id)
            return {"binding": text, "published": await client.publish_binding(text)}

    from hub.client import HubError

    try:
        result = asyncio.run(run())
    except BindingError as exc:
        raise CliError(str(exc)) from None
    except HubError as exc:
        raise CliError(f"the hub refused: {exc}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise CliError(f"cannot reach the hub at {args.hub}: {exc.__class__.__name__}") from None
    if args.out:
        Path(args.out).write_text(result["binding"] + "\n", "utf-8")
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


async def _hub_id(session: aiohttp.ClientSession, base: str) -> str:
    async with session.get(base.rstrip("/") + "/healthz") as response:
        body = await response.json(content_type=None)
    return str(body["hub_id"])


def _binding(args: argparse.Namespace, signer: PrivateSigningJwk, hub_id: str) -> str:
    now = int(time.time())
    common: dict[str, Any] = {"participant_id": args.as_, "hub_id": hub_id, "issued_at": now}
    if args.add_key is not None:
        key = public_of(args.add_key)
        new_signing_key = None
        if key.use == "sig":
            if args.new_key is None:
                raise CliError(
                    "a new signing key is bound with its private key: --new-key FILE (proof of possession)"
                )
            try:
                new_signing_key = read_signing_key(Path(args.new_key))
            except KeyFileError as exc:
                raise CliError(str(exc)) from None
        return bind_key(signer, key=key, new_signing_key=new_signing_key, **common)
    if args.revoke is not None:
        return bind_revocation(signer, kid=args.revoke, reason=args.reason, **common)
    if args.remove_destination is not None:
        return bind_destination_removal(signer, name=args.remove_destination, **common)
    try:
        config = json.loads(args.adapter_config) if args.adapter_config else {}
    except json.JSONDecodeError:
        raise CliError("--adapter-config must be a JSON object") from None
    if not isinstance(config, dict):
        raise CliError("--adapter-config must be a JSON object")
    if args.add_destination is not None:
        document = destination_document(args.add_destination, args.endpoint, args.delivery_adapter, config)
        return bind_destination(signer, destination=document, **common)
    return bind_delivery(
        signer, delivery=delivery_document(args.endpoint, args.delivery_adapter, config), **common
    )


def add_key_commands(keys: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fp = keys.add_parser("fingerprint", help="a key's fingerprint, to read aloud to the operator")
    fp.add_argument("path", help="a private or public JWK file")
    bind = keys.add_parser("bind", help="sign a change to your own directory entry (a binding)")
    bind.add_argument("--as", dest="as_", required=True, metavar="ID", help="your participant id")
    bind.add_argument("--key", required=True, help="your registered (or bound) signing key, private JWK")
    bind.add_argument("--hub", help="the hub's URL: publish the binding now")
    bind.add_argument("--hub-id", help="the hub's id (HUB_ID), to sign a binding without reaching the hub")
    bind.add_argument("--add-key", metavar="FILE", help="bind this public (or private) JWK to you")
    bind.add_argument(
        "--new-key", metavar="FILE", help="the new signing key's private JWK: proof of possession"
    )
    bind.add_argument("--revoke", metavar="KID", help="revoke one of your keys")
    bind.add_argument("--reason", default="superseded", help="why the key is revoked")
    bind.add_argument("--adapter", dest="delivery_adapter", metavar="NAME", help="deliver with this adapter")
    bind.add_argument("--endpoint", help="the delivery URL (webhook adapters)")
    bind.add_argument("--adapter-config", help="the adapter's configuration as a JSON object")
    bind.add_argument(
        "--add-destination",
        metavar="NAME",
        help="deliver also to a further destination of this name, with --adapter (e.g. an HMA bank "
        "beside your webhook)",
    )
    bind.add_argument("--remove-destination", metavar="NAME", help="stop delivering to that destination")
    bind.add_argument("--out", metavar="FILE", help="also write the binding to FILE")
    add_trust_command(keys)
    monitor = keys.add_parser(
        "monitor", help="check that the directory lists exactly what you signed (exit 1 if not: for cron)"
    )
    monitor.add_argument("--as", dest="as_", required=True, metavar="ID", help="your participant id")
    monitor.add_argument("--key", required=True, help="one of your signing keys, private JWK")
    monitor.add_argument("--hub", required=True, help="the hub's URL")
    monitor.add_argument("--state", metavar="FILE", help="remember what was seen; report any change since")
    monitor.add_argument("--accept", action="store_true", help="take what is listed now as the new state")
    check = keys.add_parser(
        "check-log", help="check that the hub's audit log extends the one seen last time (exit 1 if not)"
    )
    check.add_argument("--hub", required=True, help="the hub's URL")
    check.add_argument("--state", required=True, metavar="FILE", help="the checkpoint seen last time")
    check.add_argument(
        "--hub-fingerprint", action="append", metavar="FP", help="pin the hub's key (RFC 7638 thumbprint)"
    )
    check.add_argument(
        "--participant",
        action="append",
        default=[],
        metavar="ID",
        help="also check that every key the directory lists for ID is the one the log recorded "
        "(inclusion proofs; exit 1 if not, 75 if a change is newer than the latest checkpoint)",
    )
    check.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="ID[=FP]",
        help="require that the latest checkpoint extends one ID cosigned, under ID's identity pinned by "
        "FP or on first use (exit 1 if it fails, 75 if ID cosigned none yet)",
    )
    check.add_argument("--cosign-as", metavar="ID", help="as a witness: cosign the checkpoint once checked")
    check.add_argument(
        "--key", metavar="FILE", help="with --cosign-as: one of your signing keys, private JWK"
    )


def cmd_monitor(args: argparse.Namespace) -> int:
    try:
        key = read_signing_key(Path(args.key))
    except KeyFileError as exc:
        raise CliError(str(exc)) from None
    state_path = Path(args.state) if args.state else None
    state: dict[str, Any] = {}
    if state_path is not None and state_path.exists():
        try:
            state = json.loads(state_path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise CliError(f"{args.state} is not a monitor state file: {exc.__class__.__name__}") from None

    async def run() -> tuple[str, dict[str, Any]]:
        from hub.client import HubClient

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            client = HubClient(session, args.hub, args.as_, key)
            return await client.hub_id(), await client.own_entry()

    from hub.client import HubError

    try:
        hub_id, entry = asyncio.run(run())
    except HubError as exc:
        raise CliError(f"the hub refused: {exc}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise CliError(f"cannot reach the hub at {args.hub}: {exc.__class__.__name__}") from None
    problems = entry_problems(args.as_, hub_id, entry, state)
    seen = seen_state(args.as_, hub_id, entry)
    if state_path is not None and (not problems or args.accept):
        state_path.write_text(json.dumps(seen, indent=2) + "\n", "utf-8")
    json.dump(
        {"participant": args.as_, "ok": not problems, "problems": problems, **seen}, sys.stdout, indent=2
    )
    sys.stdout.write("\n")
    return 0 if not problems else 1


# -- watching the log -------------------------------------------------------------------------------------
async def _watch_log(args: argparse.Namespace, kept: dict[str, Any]) -> dict[str, Any]:
    """The hub's latest head, checked against the one kept and, for each --participant, its keys."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        base = args.hub.rstrip("/")

        async def get(path: str) -> dict[str, Any]:
            async with session.get(base + path) as response:
                body: dict[str, Any] = await response.json(content_type=None)
                if response.status >= 400:
                    raise CliError(f"the hub refused {path}: {body.get('detail', response.status)}")
                return body

        hub_id = str((await get("/healthz"))["hub_id"])
        jwks = await get("/.well-known/jwks.json")
        keys = {k["kid"]: PublicJwk.from_dict(k) for k in jwks.get("keys", [])}
        pinned = set(kept.get("hub_keys", [])) or set(args.hub_fingerprint or [])
        trusted = {kid: k for kid, k in keys.items() if not pinned or k.thumbprint() in pinned}
        latest_answer = await get("/v1/directory/checkpoint")
        latest = read_checkpoint(str(latest_answer["checkpoint"]), trusted, hub_id)
        if kept.get("checkpoint"):
            before = Seen.from_json(kept["checkpoint"])
            await extends(get, before, latest)
            if latest.tree_size < before.tree_size:
                latest = before  # keep the larger head
        for participant_id in args.participant:
            listed = (await get(f"/v1/participants/{quote(participant_id, safe='')}"))["jwks"]["keys"]
            # the proofs' checkpoint must be of the same log as the latest
            await check_entry(get, trusted, hub_id, participant_id, listed, latest)
        pins = dict(kept.get("witnesses", {}))
        witnessed_by = await witnessed(get, args.witness, hub_id, trusted, latest, pins)
        if args.cosign_as:
            await _cosign(session, args, hub_id, latest)
        return {
            "hub_id": hub_id,
            "hub_keys": sorted(pinned or {k.thumbprint() for k in trusted.values()}),
            "checkpoint": latest.to_json(),
            "witnessed_by": witnessed_by,
            "witnesses": pins,
        }


async def _cosign(session: aiohttp.ClientSession, args: argparse.Namespace, hub_id: str, seen: Seen) -> None:
    if not args.key:
        raise CliError("--cosign-as needs --key FILE: one of the witness's signing keys")
    try:
        key = read_signing_key(Path(args.key))
    except KeyFileError as exc:
        raise CliError(str(exc)) from None
    signed = cosign(key, witness_id=args.cosign_as, hub_id=hub_id, seen=seen, now=int(time.time()))
    from hub.client import HubClient, HubError

    try:
        await HubClient(session, args.hub, args.cosign_as, key, hub_id=hub_id).publish_cosignature(signed)
    except HubError as exc:
        raise CliError(f"the hub refused the cosignature: {exc}") from None


def cmd_check_log(args: argparse.Namespace) -> int:
    """Check that the hub's log extends the one seen last time (`--state FILE`); exit 1 if it does not."""
    state_path = Path(args.state)
    kept: dict[str, Any] = {}
    if state_path.exists():
        try:
            kept = json.loads(state_path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise CliError(f"{args.state} is not a log state file: {exc.__class__.__name__}") from None

    try:
        seen = asyncio.run(_watch_log(args, kept))
    except LogAlarm as exc:
        json.dump({"ok": False, "alarm": str(exc)}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 1
    except NotYetLogged as exc:  # not an alarm: the change is newer than the latest checkpoint
        json.dump({"ok": False, "retry": str(exc)}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 75  # EX_TEMPFAIL: run again shortly
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise CliError(f"cannot reach the hub at {args.hub}: {exc.__class__.__name__}") from None
    state_path.write_text(json.dumps(seen, indent=2) + "\n", "utf-8")
    out = {
        "ok": True,
        "tree_size": seen["checkpoint"]["tree_size"],
        "root_hash": seen["checkpoint"]["root_hash"],
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
