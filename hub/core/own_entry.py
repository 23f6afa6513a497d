"""Monitoring one's own directory entry (issue 18): what is wrong with it, by the participant's rule.

`hub keys monitor --as ID` (a cron job, exit 1) and the console's "Your directory entry" page ask the
same question of `GET /v1/directory/self`: is every key listed one the participant bound, is the
delivery address the one it signed, is every further destination (issue 19) one it added with its own
`add-destination` binding, and, against what was seen last time (`seen_state`), did its identity reset or
gain a key, a new address or a destination since?
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.core.binding import Binding, BindingError, read_binding, verify_binding
from hub.core.jose import PublicJwk
from hub.core.key_chain import key_chain
from hub.core.wording import Phrase

# Each problem: the English is the catalogue's key (hub.core.wording), said with its values; the
# command line prints the English (`str`), the console says it in the viewer's language.
KEY_NOT_BOUND = "key {kid} is listed but you did not bind it: {why}"
DELIVERY_NOT_SIGNED = "the delivery address in use is not the one you signed"
DELIVERY_NOT_VERIFIED = "the delivery address's binding does not verify: {error}"
RESET = "your identity was reset (epoch {before} -> {after})"
KEYS_ADDED = "keys added since the last check: {kids} (were they yours?)"
DELIVERY_CHANGED = "the delivery address changed since the last check"
DESTINATION_NOT_SIGNED = "destination {name} is not the one you signed"
DESTINATION_NOT_VERIFIED = "destination {name} is listed but you did not sign it: {error}"
DESTINATION_CHANGED = "destination {name} changed since the last check"
PROBLEMS = (
    KEY_NOT_BOUND,
    DELIVERY_NOT_SIGNED,
    DELIVERY_NOT_VERIFIED,
    RESET,
    KEYS_ADDED,
    DELIVERY_CHANGED,
    DESTINATION_NOT_SIGNED,
    DESTINATION_NOT_VERIFIED,
    DESTINATION_CHANGED,
)


def entry_problems(
    participant_id: str, hub_id: str, entry: dict[str, Any], state: dict[str, Any]
) -> list[str]:
    """What is wrong with this participant's own directory entry, in English (`entry_findings`)."""
    return [str(found) for found in entry_findings(participant_id, hub_id, entry, state)]


def entry_findings(
    participant_id: str, hub_id: str, entry: dict[str, Any], state: dict[str, Any]
) -> list[Phrase]:
    """What is wrong with this participant's own directory entry: a key it did not bind, a delivery
    address it did not sign, a reset, or (against `state`, what the last run saw) a change since."""
    listed = [k for k in entry.get("jwks", {}).get("keys", []) if isinstance(k, dict)]
    chain = key_chain(participant_id, hub_id, listed)
    problems = [Phrase(KEY_NOT_BOUND, {"kid": kid, "why": why}) for kid, why in chain.reasons.items()]
    delivery = entry.get("delivery", {})
    signed = entry.get("delivery_binding")
    if signed is not None:
        try:
            verified = _verified(signed, chain.trusted, participant_id, hub_id)
            if verified.operation != "set-delivery" or verified.delivery != delivery:
                problems.append(Phrase(DELIVERY_NOT_SIGNED))
        except BindingError as exc:
            problems.append(Phrase(DELIVERY_NOT_VERIFIED, {"error": exc}))
    further = _destinations(entry)
    problems += _destination_problems(further, chain.trusted, participant_id, hub_id)
    if state:
        if state.get("epoch") != chain.epoch:
            problems.append(Phrase(RESET, {"before": state.get("epoch"), "after": chain.epoch}))
        added = sorted(set(chain.trusted) - set(state.get("kids", [])))
        if added:
            problems.append(Phrase(KEYS_ADDED, {"kids": ", ".join(added)}))
        if state.get("delivery") != delivery:
            problems.append(Phrase(DELIVERY_CHANGED))
        problems += _destinations_changed(state.get("destinations", {}), further)
    return problems


def _destination_problems(
    further: dict[str, dict[str, Any]], trusted: Mapping[str, PublicJwk], participant_id: str, hub_id: str
) -> list[Phrase]:
    """Each further destination listed must be the one its own add-destination binding names."""
    problems = []
    for name, listed in sorted(further.items()):
        try:
            verified = _verified(listed.get("binding"), trusted, participant_id, hub_id)
            if verified.operation != "add-destination" or verified.destination != _document(listed):
                problems.append(Phrase(DESTINATION_NOT_SIGNED, {"name": name}))
        except BindingError as exc:
            problems.append(Phrase(DESTINATION_NOT_VERIFIED, {"name": name, "error": exc}))
    return problems


def _destinations_changed(seen: dict[str, Any], further: dict[str, dict[str, Any]]) -> list[Phrase]:
    return [
        Phrase(DESTINATION_CHANGED, {"name": name})
        for name in sorted(set(seen) | set(further))
        if seen.get(name) != (_document(further[name]) if name in further else None)
    ]


def _verified(signed: object, trusted: Mapping[str, PublicJwk], participant_id: str, hub_id: str) -> Binding:
    if not isinstance(signed, str):
        raise BindingError("no binding")
    binding = read_binding(signed)
    signer = trusted.get(binding.signer_kid)
    if signer is None:
        raise BindingError(f"signed by {binding.signer_kid!r}, not one of your keys")
    return verify_binding(signed, signer, participant_id=participant_id, hub_id=hub_id)


def _destinations(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    listed = entry.get("destinations") or []
    return {str(d.get("name")): d for d in listed if isinstance(d, dict)}


def _document(listed: dict[str, Any]) -> dict[str, Any]:
    """A listed destination as its binding names it (`hub.core.binding.destination_document`)."""
    return {k: listed.get(k) for k in ("name", "endpoint", "adapter", "adapter_config")}


def seen_state(participant_id: str, hub_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    """What to remember of the entry for the next check: its identity, its trusted keys, its address."""
    chain = key_chain(participant_id, hub_id, entry.get("jwks", {}).get("keys", []))
    return {
        "epoch": chain.epoch,
        "kids": sorted(chain.trusted),
        "delivery": entry.get("delivery", {}),
        "destinations": {name: _document(d) for name, d in sorted(_destinations(entry).items())},
    }
