"""`hub keys trust ID --fingerprint FP`: accept a peer's identity after a person has confirmed it.

A client pins each peer's identity on first use (`hub.core.pins`); after a reset, `hub send`, `hub
inbox` and the console refuse every key of the new identity and name its root key's fingerprint. Once
the fingerprint has been compared with the peer out of band (a call, a letter), this command pins the
new identity, and only if the fingerprint given is that of the root key the directory shows now.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any
from urllib.parse import quote

import aiohttp

from hub.cli.errors import CliError
from hub.client.trust_store import TrustStoreError, open_store
from hub.core.binding import matches_thumbprint
from hub.core.global_id import home_hub_of
from hub.core.home_chain import home_jwks, signing_keys
from hub.core.key_chain import trusted_jwks
from hub.core.pins import identity_of


def add_trust_command(keys: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    trust = keys.add_parser(
        "trust", help="pin a peer's identity (after a reset) once its fingerprint is confirmed out of band"
    )
    trust.add_argument("participant", help="the peer's participant id")
    trust.add_argument("--fingerprint", required=True, help="its root key's fingerprint, as the peer read it")
    trust.add_argument(
        "--hub",
        default=os.environ.get("HUB_URL", "http://127.0.0.1:8080"),
        help="the hub's URL (default: $HUB_URL, else http://127.0.0.1:8080)",
    )
    trust.add_argument(
        "--trust-store", metavar="FILE", help="default: $HUB_TRUST_STORE, else ~/.local/state/hub/trust.json"
    )


def cmd_trust(args: argparse.Namespace) -> int:
    try:
        store = open_store(args.trust_store)
    except TrustStoreError as exc:
        raise CliError(str(exc)) from None
    try:
        hub_id, jwks = asyncio.run(_entry(args.hub, args.participant))
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise CliError(f"cannot reach the hub at {args.hub}: {exc.__class__.__name__}") from None
    identity = identity_of(jwks)
    if identity is None:
        raise CliError(f"{args.participant} has no registered root key in the directory: nothing to trust")
    if not matches_thumbprint(args.fingerprint, identity.root):
        raise CliError(
            f"that is not the fingerprint of {args.participant}'s root key, which is {identity.fingerprint}: "
            "do not trust it until the two agree"
        )
    before = store.pinned(hub_id, args.participant)
    store.pin(hub_id, args.participant, identity)
    out = {
        "participant_id": args.participant,
        "epoch": identity.epoch,
        "fingerprint": identity.fingerprint,
        "replaced_epoch": None if before is None else before.epoch,
    }
    print(json.dumps(out, indent=2))
    return 0


async def _entry(hub: str, participant_id: str) -> tuple[str, dict[str, Any]]:
    base = hub.rstrip("/")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def get(path: str) -> dict[str, Any]:
            async with session.get(base + path) as response:
                body: dict[str, Any] = await response.json(content_type=None)
                if response.status >= 400:
                    raise CliError(f"the hub refused {path}: {body.get('detail', response.status)}")
                return body

        hub_id = str((await get("/healthz"))["hub_id"])
        entry = await get(f"/v1/participants/{quote(participant_id, safe='')}")
        home = home_hub_of(participant_id)
        if home is None:
            return hub_id, trusted_jwks(participant_id, hub_id, entry.get("jwks", {}))
        # a participant of a peer hub: its identity is the one its home hub's log proves (as clients see it)
        peer = await get(f"/v1/participants/{quote(home, safe='')}")
        keys = (
            signing_keys(trusted_jwks(home, hub_id, peer.get("jwks", {})))
            if peer.get("kind") == "hub"
            else {}
        )
        return hub_id, home_jwks(participant_id, entry.get("jwks", {}), entry.get("home_proof"), keys)
