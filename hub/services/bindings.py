"""Applying a directory binding: the one place the hub decides whether a participant's signed change
to its own entry is taken (`POST /v1/directory/bindings` and the operator's `--binding FILE` both come
here).

A binding is taken when it verifies (`hub.core.binding.verify_binding`) with a signing key the
participant holds now: one of its current epoch, not revoked, expired or not yet valid, that itself
entered the directory as its registration, reset or through a binding (never a 'legacy' key), and when
it is recent (`MAX_AGE`; a binding lives longer than a bearer token because it may travel to the
operator by hand). Then the store records the change with the binding beside it and in the audit log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.core.binding import (
    Binding,
    BindingError,
    bind_key,
    delivery_document,
    destination_document,
    read_binding,
    verify_binding,
)
from hub.core.jose import PrivateSigningJwk, PublicJwk, sha256_hex
from hub.store import destinations, directory
from hub.store.database import Conn
from hub.store.directory import DirectoryError

MAX_AGE = timedelta(days=7)
MAX_SKEW = timedelta(minutes=5)
TRUSTED_ORIGINS = ("registration", "reset", "binding")


class BindingRefused(Exception):
    """`code` is the problem type the API answers with."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Applied:
    participant_id: str
    operation: str
    subject: str  # the kid added or revoked, "delivery", or the destination's name

    def document(self) -> dict[str, Any]:
        return {"participant_id": self.participant_id, "operation": self.operation, "subject": self.subject}


async def apply_binding(
    conn: Conn, *, hub_id: str, text: str, now: datetime, caller: str | None = None
) -> Applied:
    """Verify and apply one binding in the caller's transaction. `caller`: the authenticated participant
    (None for the operator, who passes on a binding the participant handed over)."""
    try:
        binding = await _verified(conn, hub_id, text, now, caller)
    except BindingError as exc:
        raise BindingRefused("invalid-binding", str(exc)) from None
    try:
        return await _apply(conn, binding, now)
    except DirectoryError as exc:
        raise BindingRefused("directory-conflict", str(exc)) from None


async def _verified(conn: Conn, hub_id: str, text: str, now: datetime, caller: str | None) -> Binding:
    unverified = read_binding(text)
    participant_id = unverified.participant_id
    if caller is not None and caller != participant_id:
        raise BindingRefused(
            "binding-not-yours", f"you are '{caller}'; this binding is for '{participant_id}'"
        )
    participant = await directory.get_participant(conn, participant_id)
    # the hub's own keys rotate by a binding its operator applies (hub keys rotate); a peer's come
    # from its own feed (hub.services.vouching), never a binding taken here
    own_rotation = participant_id == hub_id and caller is None
    if participant is None or (participant.kind == "hub" and not own_rotation):
        raise BindingError(f"no participant '{participant_id}' to bind")
    signer = await directory.get_key(conn, unverified.signer_kid)
    if signer is None or signer.participant_id != participant_id:
        raise BindingError(f"'{participant_id}' has no key '{unverified.signer_kid}' to sign with")
    if signer.use != "sig":
        raise BindingError("a binding is signed with one of the participant's signing keys")
    if signer.origin not in TRUSTED_ORIGINS:
        raise BindingError(
            f"key '{signer.kid}' is itself unbound (added before bindings): bind it first with the "
            "registered key"
        )
    if signer.epoch != await directory.participant_epoch(conn, participant_id):
        raise BindingError(f"key '{signer.kid}' belongs to the identity before a reset")
    problem = signer.problem_at(now)
    if problem is not None:
        raise BindingError(f"key '{signer.kid}' is {problem}")
    binding = verify_binding(
        text, PublicJwk.from_dict(signer.jwk), participant_id=participant_id, hub_id=hub_id
    )
    issued = datetime.fromtimestamp(binding.issued_at, now.tzinfo)
    if issued > now + MAX_SKEW:
        raise BindingError("the binding is dated in the future: check the signer's clock")
    if issued < now - MAX_AGE:
        raise BindingError(f"the binding is older than {MAX_AGE.days} days: sign a new one")
    return binding


async def _apply(conn: Conn, binding: Binding, now: datetime) -> Applied:
    participant_id, op = binding.participant_id, binding.operation
    if op == "add-key":
        key = binding.key
        existing = await directory.get_key(conn, key.kid)
        if existing is not None and existing.participant_id == participant_id and existing.origin == "legacy":
            if PublicJwk.from_dict(existing.jwk) != key:
                raise DirectoryError(f"key '{key.kid}' in the directory is another key than the one bound")
            await directory.bind_existing_key(
                conn, participant_id=participant_id, kid=key.kid, binding=binding.text
            )
        else:
            await directory.add_key(
                conn, participant_id=participant_id, jwk=key.to_dict(), binding=binding.text
            )
        return Applied(participant_id, op, key.kid)
    if op == "revoke-key":
        kid = str(binding.claims["kid"])
        await directory.revoke_key(
            conn,
            participant_id=participant_id,
            kid=kid,
            reason=str(binding.claims["reason"]),
            binding=binding.text,
        )
        return Applied(participant_id, op, kid)
    if op in ("add-destination", "remove-destination"):
        return await _apply_destination(conn, binding, now)
    delivery = _checked_delivery(binding.delivery)
    further = await destinations.destinations_of(conn, participant_id)
    if delivery["adapter"] in {d.adapter for d in further}:
        raise DirectoryError(
            f"'{participant_id}' has a further destination with adapter '{delivery['adapter']}': "
            "remove it first (one destination per adapter)"
        )
    await directory.set_delivery(
        conn,
        participant_id=participant_id,
        delivery=delivery,
        delivery_sha256=delivery_sha256(delivery),
        binding=binding.text,
    )
    return Applied(participant_id, op, "delivery")


def _checked_delivery(delivery: dict[str, Any], what: str = "delivery") -> dict[str, Any]:
    from adapters.base import AdapterConfigError
    from adapters.registry import validate_config

    endpoint, adapter, config = delivery["endpoint"], delivery["adapter"], delivery["adapter_config"]
    if endpoint is not None and not isinstance(endpoint, str):
        raise BindingError("the delivery endpoint is a URL or null")
    if not isinstance(adapter, str) or not isinstance(config, dict):
        raise BindingError("the delivery names an adapter and its configuration (an object)")
    try:
        directory.check_endpoint(endpoint)
        validate_config(adapter, config, endpoint)
    except (AdapterConfigError, DirectoryError, KeyError) as exc:
        raise BindingError(f"{what}: {exc}") from None
    return delivery_document(endpoint, adapter, config)


async def _apply_destination(conn: Conn, binding: Binding, now: datetime) -> Applied:
    participant_id, name = binding.participant_id, binding.destination_name
    bound_at = datetime.fromtimestamp(binding.issued_at, UTC)
    if binding.operation == "remove-destination":
        await destinations.remove_destination(
            conn, participant_id=participant_id, name=name, at=now, binding=binding.text, bound_at=bound_at
        )
        return Applied(participant_id, binding.operation, name)
    document = _checked_delivery(binding.destination, what="destination")
    carries = await _further_destination_rule(conn, participant_id, name, document["adapter"])
    await destinations.add_destination(
        conn,
        participant_id=participant_id,
        document=destination_document(
            name, document["endpoint"], document["adapter"], document["adapter_config"]
        ),
        document_sha256=delivery_sha256(binding.destination),
        carries=carries,
        binding=binding.text,
        bound_at=bound_at,
        at=now,
    )
    return Applied(participant_id, binding.operation, name)


async def _further_destination_rule(
    conn: Conn, participant_id: str, name: str, adapter: str
) -> tuple[str, ...] | None:
    """A further destination is pushed to (an inbox is the participant's own destination or none) and
    uses an adapter none of the participant's other destinations uses: what a bank adapter keeps of
    what it banked is per participant (`bank_contents`). Returns the message types it carries."""
    from adapters.base import AdapterConfigError
    from adapters.registry import destination_traits

    try:
        pushes, carries = destination_traits(adapter)
    except AdapterConfigError as exc:
        raise BindingError(f"destination: {exc}") from None
    if not pushes or adapter == "hub":
        raise BindingError(f"destination: adapter '{adapter}' cannot be a further destination")
    participant = await directory.get_participant(conn, participant_id)
    others = [d for d in await destinations.destinations_of(conn, participant_id) if d.name != name]
    if participant is not None and adapter in (participant.adapter, *(d.adapter for d in others)):
        raise DirectoryError(f"'{participant_id}' already has a destination with adapter '{adapter}'")
    return carries


def delivery_sha256(delivery: dict[str, Any]) -> str:
    """The digest the audit log names a delivery address by (canonical JSON)."""
    return sha256_hex(json.dumps(delivery, sort_keys=True, separators=(",", ":")).encode())


async def bind_own_key(
    conn: Conn, *, hub_id: str, participant_id: str, signer: PrivateSigningJwk, key: PublicJwk, now: datetime
) -> Applied:
    """The participant's side and the hub's in one step, for code that plays the participant and holds
    its signing key (the demo, the benchmark, tests): sign the binding of `key` (an encryption key) and
    apply it."""
    text = bind_key(
        signer, participant_id=participant_id, hub_id=hub_id, key=key, issued_at=int(now.timestamp())
    )
    return await apply_binding(conn, hub_id=hub_id, text=text, now=now)
