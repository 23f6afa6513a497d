"""Whether the key that signed a bundled message is its sender's own, by the hub's log (issue 18).

A bundle carries each party's keys as the directory listed them (`keys/<id>.jwks.json`) and, since
issue 18, its key proof (`keys/<id>.log.json`: the party's directory entries with inclusion proofs to a
checkpoint signed by the hub, exactly as `GET /v1/participants/{id}/log` answers). A signature that
verifies with a bundled key proves little if whoever made the bundle chose the key. So the verifier also
asks, for the key that signed: does the party's own binding chain trust it (`hub.core.key_chain`), and
did the hub's signed log record exactly that key for that party (`hub.core.directory_proof`)? The
checkpoint is checked with the hub's keys from the verifier's trust root, never the bundle's. A bundle
made before key proofs (or a listing without `origin`) is reported as such, not failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.core.directory_proof import NotYetLogged, verify_history
from hub.core.jose import PublicJwk
from hub.core.key_chain import key_chain
from hub.core.log_watch import LogAlarm


@dataclass
class PartyKeys:
    """What the bundle shows of one party's keys, and what its own chain and the hub's log say."""

    refused: dict[str, str] | None = None  # kid -> why its chain refuses it; None: listing without origin
    logged: dict[str, str] | None = None  # kid -> thumbprint the log recorded; None: no usable key proof
    notes: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)


def party_keys(
    participant_id: str,
    hub_id: str,
    listing: Mapping[str, Any],
    proof: Mapping[str, Any] | None,
    hub_keys: Mapping[str, PublicJwk],
) -> PartyKeys:
    found = PartyKeys()
    listed = [k for k in listing.get("keys", []) if isinstance(k, Mapping)]
    if listed and all("origin" in k for k in listed):
        found.refused = key_chain(participant_id, hub_id, listed).refused
    else:
        found.notes.append(f"the keys of {participant_id} are listed without how they entered (older bundle)")
    if proof is None:
        found.notes.append(f"the keys of {participant_id} carry no proof from the hub's audit log")
        return found
    try:
        history = verify_history(proof, hub_keys, hub_id, participant_id)
    except NotYetLogged:
        found.notes.append(f"the key proof of {participant_id} was made before a checkpoint covered it")
        return found
    except (LogAlarm, KeyError, TypeError, ValueError) as exc:
        found.faults.append(f"keys/{participant_id}.log.json: the key proof does not verify ({exc})")
        return found
    found.logged = dict(history.added)
    return found


def signing_key_fault(participant_id: str, party: PartyKeys, key: PublicJwk) -> str | None:
    """Why the key that verified a message of the party is not shown to be its own (None: it is, or
    the bundle cannot tell, which its notes say)."""
    if party.refused is not None and key.kid in party.refused:
        return f"key {key.kid} is not {participant_id}'s own: {party.refused[key.kid]}"
    if party.logged is not None and party.logged.get(key.kid) != key.thumbprint():
        return f"key {key.kid} of {participant_id} is not the key the hub's audit log recorded for it"
    return None
