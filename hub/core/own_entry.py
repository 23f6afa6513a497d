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


def entry_problems(
    participant_id: str, hub_id: str, entry: dict[str, Any], state: dict[str, Any]
) -> list[str]:
    """What is wrong with this participant's own directory entry: a key it did not bind, a delivery
    address it did not sign, a reset, or (against `state`, what the last run saw) a change since."""
    listed = [k for k in entry.get("jwks", {}).get("keys", []) if isinstance(k, dict)]
    chain = key_chain(participant_id, hub_id, listed)
    problems = [f"key {kid} is listed but you did not bind it: {why}" for kid, why in chain.refused.items()]
    delivery = entry.get("delivery", {})
    signed = entry.get("delivery_binding")
    if signed is not None:
        try:
            verified = _verified(signed, chain.trusted, participant_id, hub_id)
            if verified.operation != "set-delivery" or verified.delivery != delivery:
                problems.append("the delivery address in use is not the one you signed")
        except BindingError as exc:
            problems.append(f"the delivery address's binding does not verify: {exc}")
    further = _destinations(entry)
    problems += _destination_problems(further, chain.trusted, participant_id, hub_id)
    if state:
        if state.get("epoch") != chain.epoch:
            problems.append(f"your identity was reset (epoch {state.get('epoch')} -> {chain.epoch})")
        added = sorted(set(chain.trusted) - set(state.get("kids", [])))
        if added:
            problems.append(f"keys added since the last check: {', '.join(added)} (were they yours?)")
        if state.get("delivery") != delivery:
            problems.append("the delivery address changed since the last check")
        problems += _destinations_changed(state.get("destinations", {}), further)
    return problems


def _destination_problems(
    further: dict[str, dict[str, Any]], trusted: Mapping[str, PublicJwk], participant_id: str, hub_id: str
) -> list[str]:
    """Each further destination listed must be the one its own add-destination binding names."""
    problems = []
    for name, listed in sorted(further.items()):
        try:
            verified = _verified(listed.get("binding"), trusted, participant_id, hub_id)
            if verified.operation != "add-destination" or verified.destination != _document(listed):
                problems.append(f"destination {name} is not the one you signed")
        except BindingError as exc:
            problems.append(f"destination {name} is listed but you did not sign it: {exc}")
    return problems


def _destinations_changed(seen: dict[str, Any], further: dict[str, dict[str, Any]]) -> list[str]:
    return [
        f"destination {name} changed since the last check"
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
