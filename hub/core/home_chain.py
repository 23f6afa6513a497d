"""Which keys of a federated participant a client may trust: those its home hub's own log proves it bound.

A participant of a peer hub is listed here under its global id (`<local>@<home hub>`), its keys mirrored
from its home hub's vouching feed (origin `feed`, docs/federation.md). This hub's operator could list any
key there, so a mirrored key is trusted only on its home hub's word, checked as a client of the home hub
would check it (issue 18):

1. the home proof is the home hub's log document for the participant (what `GET
   /v1/participants/{local}/log` answers on the home hub; the feed carries it and this hub keeps it with
   the mirrored entry): entries with inclusion proofs to a checkpoint the home hub signed for its own id,
   with a key of the home hub that this hub's directory holds for the peer (its registration, checked
   against this hub's log by the caller) (`hub.core.directory_proof.verify_history`);
2. the participant's keys are rebuilt from those proven entries in log order (added, bound later, reset)
   and `hub.core.key_chain` is run over them with the local id and the home hub's id, the hub its
   bindings name;
3. a listed key is trusted when that chain trusts a key of the same kid and key material, and it is not
   shown as active when the home log records its revocation.

Anything else is refused with the reason: a key the home hub's log does not hold (an operator of this hub
inserting one), a proof of another participant or hub, a proof that does not verify, or none at all (the
home hub's checkpoint did not cover the key yet when this hub last synced: the next sync brings it). A
rebuilt chain, not the mirrored listing, is what is checked, so a home key revoked since (a rotated root)
still anchors the keys it bound.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hub.core.directory_proof import ADDED, KeyHistory, NotYetLogged, verify_history
from hub.core.global_id import home_hub_of, local_on
from hub.core.jose import JoseError, PublicJwk
from hub.core.key_chain import Chain, chain_jwks, key_chain, listed_key
from hub.core.log_watch import LogAlarm

JWK_MEMBERS = ("kty", "crv", "x", "kid", "use")


def logged_keys(history: KeyHistory) -> list[dict[str, Any]]:
    """The participant's keys as its home hub's proven log entries record them, in log order, in the
    directory listing's shape (`origin`, `epoch`, `binding`), for `key_chain`."""
    keys: dict[str, dict[str, Any]] = {}
    for entry in history.entries:
        detail = entry.get("detail") or {}
        kid = str(detail.get("kid"))
        if entry.get("event") in ADDED:
            jwk = detail["jwk"]
            keys[kid] = {m: jwk[m] for m in JWK_MEMBERS if m in jwk} | {
                "origin": detail.get("origin", "legacy"),
                "epoch": detail.get("epoch", 0),
                "binding": detail.get("binding"),
            }
        elif entry.get("event") == "key.bound" and kid in keys and keys[kid]["origin"] == "legacy":
            keys[kid] |= {"origin": "binding", "binding": detail.get("binding")}
    return list(keys.values())


def home_chain(
    participant_id: str,
    listed: Sequence[Mapping[str, Any]],
    proof: Mapping[str, Any] | None,
    home_keys: Mapping[str, PublicJwk],
) -> Chain:
    """The trusted and refused keys among `listed` (this hub's listing of the mirrored participant
    `participant_id`, a global id), by its home hub's proof. The chain's epoch and root are the ones of
    the participant's identity on its home hub (what a client pins)."""
    kids = [str(k.get("kid")) for k in listed]
    home = home_hub_of(participant_id)
    local = None if home is None else local_on(participant_id, home)
    if home is None or local is None:
        return Chain(0, None, {}, dict.fromkeys(kids, f"{participant_id} is no participant of a peer hub"))
    if proof is None:
        why = f"its home hub {home} gave no proof of {local}'s keys from its log (sync the peer again)"
        return Chain(0, None, {}, dict.fromkeys(kids, why))
    try:
        history = verify_history(proof, home_keys, home, local)
    except NotYetLogged:
        why = f"its home hub {home} had not yet logged {local}'s keys under a checkpoint (sync it again)"
        return Chain(0, None, {}, dict.fromkeys(kids, why))
    except (LogAlarm, KeyError, TypeError, ValueError) as exc:
        why = f"the proof from its home hub {home}'s log does not verify ({exc})"
        return Chain(0, None, {}, dict.fromkeys(kids, why))
    chain = key_chain(local, home, logged_keys(history))
    trusted: dict[str, PublicJwk] = {}
    refused: dict[str, str] = {}
    for entry in listed:
        kid = str(entry.get("kid"))
        reason = _refusal(entry, kid, local, home, chain, history)
        if reason is None:
            trusted[kid] = chain.trusted[kid]
        else:
            refused[kid] = reason
    return Chain(chain.epoch, chain.root, trusted, refused)


def _refusal(
    entry: Mapping[str, Any], kid: str, local: str, home: str, chain: Chain, history: KeyHistory
) -> str | None:
    try:
        shown = listed_key(entry)
    except JoseError as exc:
        return f"not a usable public key: {exc}"
    if kid not in history.added:
        if history.pending:
            return f"not yet under its home hub {home}'s checkpoint when this hub last synced (sync again)"
        return f"its home hub {home}'s log records no such key for {local} (not vouched for by {home})"
    if kid not in chain.trusted:
        return f"not bound by {local} on its home hub {home}: {chain.refused.get(kid, 'no chain')}"
    if chain.trusted[kid].thumbprint() != shown.thumbprint():
        return f"listed with other key material than its home hub {home}'s log records"
    if kid in history.revoked and entry.get("status", "active") == "active":
        return f"listed as active, but its home hub {home}'s log records its revocation"
    return None


def home_jwks(
    participant_id: str,
    jwks: Mapping[str, Any],
    proof: Mapping[str, Any] | None,
    home_keys: Mapping[str, PublicJwk],
) -> dict[str, Any]:
    """`hub.core.key_chain.trusted_jwks`'s answer for a mirrored participant: a JWK Set of the keys
    its home hub's proof backs, with `refused` naming the others and why, and the proof itself
    (`home_hub`, `home_proof`: what `hub.core.bundle_keys` checks a bundled set by)."""
    listed = [k for k in jwks.get("keys", []) if isinstance(k, Mapping)]
    found = chain_jwks(listed, home_chain(participant_id, listed, proof, home_keys))
    # kept with the keys, so that a bundle made from this set (the console's) proves them offline
    return found | {"home_hub": home_hub_of(participant_id), "home_proof": proof}


def feed_key_fault(
    participant_id: str,
    keys: Sequence[Mapping[str, Any]],
    proof: Mapping[str, Any] | None,
    home_keys: Mapping[str, PublicJwk],
) -> str | None:
    """Why a peer's feed entry is not taken (None: it is): the peer's own log proof (`proof`, the
    entry's `log`) contradicts the keys it lists (`keys`, the feed's `{"jwk": ...}` items), so the peer
    shows this hub other keys than its log records (a split view). Nothing to check without a proof or
    before the peer's checkpoint covers the participant; a key newer than that checkpoint is taken, its
    proof comes with a later feed, and clients refuse it until then."""
    local = None if (home := home_hub_of(participant_id)) is None else local_on(participant_id, home)
    if proof is None or home is None or local is None:
        return None
    try:
        history = verify_history(proof, home_keys, home, local)
    except NotYetLogged:
        return None
    except (LogAlarm, KeyError, TypeError, ValueError) as exc:
        return f"its log proof of {local} does not verify ({exc})"
    for key in keys:
        try:
            shown = listed_key(key["jwk"])
        except (JoseError, KeyError, TypeError):
            return f"it lists a key of {local} that is not a usable public key"
        logged = history.added.get(shown.kid)
        if logged is None and not history.pending:
            return f"it lists key {shown.kid!r} of {local}, which its own log does not record"
        if logged is not None and logged != shown.thumbprint():
            return f"it lists key {shown.kid!r} of {local} with other key material than its log records"
        if shown.kid in history.revoked:
            return f"it lists key {shown.kid!r} of {local}, which its own log records as revoked"
    return None


def signing_keys(jwks: Mapping[str, Any]) -> dict[str, PublicJwk]:
    """The active Ed25519 keys of a cut-down key set (`trusted_jwks`'s answer for a peer hub's entry):
    what a home proof's checkpoint may be signed with."""
    return {
        str(k["kid"]): listed_key(k)
        for k in jwks.get("keys", [])
        if isinstance(k, Mapping) and k.get("crv") == "Ed25519" and k.get("status", "active") == "active"
    }
