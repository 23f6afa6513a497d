"""Monitoring one's own directory entry (issue 18): what is wrong with it, by the participant's rule.

`hub keys monitor --as ID` (a cron job, exit 1) and the console's "Your directory entry" page ask the
same question of `GET /v1/directory/self`: is every key listed one the participant bound, is the
delivery address the one it signed, and, against what was seen last time (`seen_state`), did its
identity reset or gain a key or a new address since?
"""

from __future__ import annotations

from typing import Any

from hub.core.binding import BindingError, read_binding, verify_binding
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
            binding = read_binding(signed)
            signer = chain.trusted.get(binding.signer_kid)
            if signer is None:
                raise BindingError(f"signed by {binding.signer_kid!r}, not one of your keys")
            verified = verify_binding(signed, signer, participant_id=participant_id, hub_id=hub_id)
            if verified.operation != "set-delivery" or verified.delivery != delivery:
                problems.append("the delivery address in use is not the one you signed")
        except BindingError as exc:
            problems.append(f"the delivery address's binding does not verify: {exc}")
    if state:
        if state.get("epoch") != chain.epoch:
            problems.append(f"your identity was reset (epoch {state.get('epoch')} -> {chain.epoch})")
        added = sorted(set(chain.trusted) - set(state.get("kids", [])))
        if added:
            problems.append(f"keys added since the last check: {', '.join(added)} (were they yours?)")
        if state.get("delivery") != delivery:
            problems.append("the delivery address changed since the last check")
    return problems


def seen_state(participant_id: str, hub_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    """What to remember of the entry for the next check: its identity, its trusted keys, its address."""
    chain = key_chain(participant_id, hub_id, entry.get("jwks", {}).get("keys", []))
    return {"epoch": chain.epoch, "kids": sorted(chain.trusted), "delivery": entry.get("delivery", {})}
