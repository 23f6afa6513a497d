"""`hub keys check-log --witness ID[=FINGERPRINT]`: accept the hub's log only as far as a witness saw it.

For each witness required, the largest checkpoint it cosigned (`GET /v1/directory/checkpoint
?cosigned_by=ID`, issue 18) must carry its cosignature under a key its own bindings vouch for, and the
latest checkpoint must extend that one (an RFC 9162 consistency proof): a hub that shows this client a
log the witness never saw can then do so only after the head the witness cosigned. The witness's
identity is pinned like a peer's (`hub.core.pins`): by the fingerprint given with `=FP`, or on first use
in the state file, so an operator who resets the witness to a key of its own is an alarm, not a witness.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from hub.cli.errors import CliError
from hub.client.log_check import extends
from hub.core.binding import matches_thumbprint
from hub.core.cosignature import CosignatureError, verify_cosignature
from hub.core.directory_proof import NotYetLogged
from hub.core.jose import PublicJwk
from hub.core.key_chain import listed_key, trusted_jwks
from hub.core.log_watch import LogAlarm, Seen, read_checkpoint
from hub.core.pins import Identity, apply_pin, identity_of

Get = Callable[[str], Awaitable[dict[str, Any]]]


def parse_witness(given: str) -> tuple[str, str | None]:
    """`ID` or `ID=FINGERPRINT`."""
    witness, _, fingerprint = given.partition("=")
    if not witness:
        raise CliError(
            f"--witness {given[:60]!r}: give the witness's participant id, optionally =FINGERPRINT"
        )
    return witness, fingerprint or None


async def witnessed(
    get: Get,
    required: list[str],
    hub_id: str,
    hub_keys: Mapping[str, PublicJwk],
    latest: Seen,
    pins: dict[str, Any],
) -> list[dict[str, Any]]:
    """For each required witness, the head it cosigned that the latest extends; `pins` (the state
    file's `witnesses`) gains the identity of each witness seen for the first time."""
    found = []
    for given in required:
        witness, fingerprint = parse_witness(given)
        try:
            answer = await get(f"/v1/directory/checkpoint?cosigned_by={quote(witness, safe='')}")
        except CliError:
            raise NotYetLogged(f"{witness!r} has cosigned no checkpoint yet: ask again shortly") from None
        seen = read_checkpoint(str(answer["checkpoint"]), hub_keys, hub_id)
        served = {c["witness_id"]: c["cosignature"] for c in answer.get("cosignatures", [])}
        keys = await _witness_keys(get, witness, hub_id, fingerprint, pins)
        try:
            verify_cosignature(served.get(witness, ""), keys, witness_id=witness, hub_id=hub_id, seen=seen)
        except CosignatureError as exc:
            raise LogAlarm(f"the cosignature the hub serves for {witness!r} does not verify: {exc}") from None
        await extends(get, seen, latest)
        found.append({"witness": witness, "tree_size": seen.tree_size})
    return found


async def _witness_keys(
    get: Get, witness: str, hub_id: str, fingerprint: str | None, pins: dict[str, Any]
) -> dict[str, PublicJwk]:
    entry = await get(f"/v1/participants/{quote(witness, safe='')}")
    jwks = trusted_jwks(witness, hub_id, entry.get("jwks", {}))
    shown = identity_of(jwks)
    if fingerprint is not None:
        if shown is None or not matches_thumbprint(fingerprint, shown.root):
            raise LogAlarm(f"{witness!r}'s root key in the directory is not the fingerprint you gave")
    else:
        pinned = Identity.from_json(pins[witness]) if witness in pins else None
        jwks = apply_pin(witness, jwks, pinned)
        if "alarm" in jwks:
            raise LogAlarm(str(jwks["alarm"]))
    if shown is not None:
        pins[witness] = shown.to_json()
    return {k["kid"]: listed_key(k) for k in jwks.get("keys", [])}
