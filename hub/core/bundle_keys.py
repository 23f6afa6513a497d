"""Whether the key that signed a bundled message is its sender's own, by the hub's log (issue 18).

A bundle carries each party's keys as the directory listed them (`keys/<id>.jwks.json`) and, since
issue 18, its key proof (`keys/<id>.log.json`: the party's directory entries with inclusion proofs to a
checkpoint signed by the hub, exactly as `GET /v1/participants/{id}/log` answers). A signature that
verifies with a bundled key proves little if whoever made the bundle chose the key. So the verifier also
asks, for the key that signed: does the party's own binding chain trust it (`hub.core.key_chain`), and
did the hub's signed log record exactly that key for that party (`hub.core.directory_proof`)? The
checkpoint is checked with the hub's keys from the verifier's trust root, never the bundle's. A bundle
made before key proofs (or a listing without `origin`) is reported as such, not failed. A participant of
a peer hub (issue 20) has no binding of this hub's: its listing carries its home hub's log proof
(`home_proof`), checked with the home hub's keys as the bundle shows them registered here, under this
hub's log (`hub.core.home_chain`); without a home proof each of its keys is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.core.directory_proof import NotYetLogged, verify_history
from hub.core.global_id import home_hub_of
from hub.core.home_chain import home_chain
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
    home_keys: Mapping[str, PublicJwk] | None = None,
) -> PartyKeys:
    """What the bundle proves of one party's keys. A party of a peer hub (its listing names a
    `home_hub`) has its chain checked through its home hub: `home_keys` are the home hub's keys the
    bundle shows to be its own here (`hub_party_keys`), and its listing's `home_proof` the home hub's
    log proof of its bindings (`hub.core.home_chain`)."""
    found = PartyKeys()
    listed = [k for k in listing.get("keys", []) if isinstance(k, Mapping)]
    if listing.get("home_hub") is not None or home_hub_of(participant_id) is not None:
        proven = home_chain(participant_id, listed, _mapping(listing.get("home_proof")), home_keys or {})
        found.refused = proven.refused
    elif listed and all("origin" in k for k in listed):
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


def hub_party_keys(hub: str, keys: Mapping[str, PublicJwk], party: PartyKeys) -> dict[str, PublicJwk]:
    """The keys of the peer hub `hub` (a party of the bundle) that its chain here and this hub's log
    both show to be its own: what its participants' home proofs must be signed with."""
    if party.refused is None:
        return {}
    return {kid: key for kid, key in keys.items() if signing_key_fault(hub, party, key) is None}


def _mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None
