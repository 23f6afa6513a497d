"""A case's evidence bundle as this organisation holds it: one ZIP file to download from the case page.

The same format as the operator's (`hub/core/bundle.py`, verified by `hub evidence verify`): every signed
message of the case this console sent or took from its inbox, byte for byte, with the hub's receipt; the
hub's delivery evidences the case page shows for those messages; the senders' and the hub's public keys as
the directory publishes them now; the case as the hub showed it to this participant; and the audit-log
entries the hub lets this participant see whole, with their inclusion proofs (`GET
/v1/cases/{id}/proofs`: for a recipient, those that concern it and name no other recipient). Sealed
values stay sealed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from hub.console.archive import Kept
from hub.core.bundle import AuditEntry, BundleContents, BundleMessage, assemble
from hub.core.jose import JoseError, parse_jws, sha256_hex
from hub.evidence.files import pack

NO_PROOFS = "the hub did not give the audit log's inclusion proofs when this bundle was made"


def _message(kept: Kept) -> BundleMessage:
    signed = kept.message.encode("utf-8")
    try:
        digest = sha256_hex(parse_jws(signed).payload)
    except JoseError:
        digest = ""  # kept as received: the verifier reports it
    return BundleMessage(
        message_id=kept.message_id,
        sender=kept.sender,
        message_type=kept.message_type,
        accepted_at=kept.accepted_at,
        payload_sha256=digest,
        signed_form=signed,
        receipt=kept.receipt,
    )


def _proofs(proofs: Mapping[str, Any] | None) -> tuple[list[AuditEntry], str | None, str | None]:
    if proofs is None:
        return [], None, NO_PROOFS
    try:
        entries = [AuditEntry.from_document(e) for e in proofs["entries"]]
        checkpoint = proofs["checkpoint"]
    except (KeyError, TypeError, ValueError):
        return [], None, NO_PROOFS
    if not entries or not isinstance(checkpoint, str):
        return [], None, "no audit entry of the case this participant may see is checkpointed yet"
    return entries, checkpoint, None


def delivery_evidences(case: Mapping[str, Any], message_ids: set[str]) -> list[tuple[str, str, str]]:
    """The hub's signed delivery evidences on the case page's timeline, for messages this console holds."""
    found = []
    for event in case.get("timeline", []):
        evidence, message_id = event.get("evidence"), event.get("message_id")
        if not isinstance(evidence, str) or message_id not in message_ids:
            continue
        try:
            recipient = str(json.loads(parse_jws(evidence).payload)["recipient"])
        except (JoseError, ValueError, KeyError, TypeError):
            continue
        found.append((str(message_id), recipient, evidence))
    return found


def bundle(
    *,
    case_id: str,
    hub_id: str,
    participant: str,
    made_at: str,
    case: Mapping[str, Any],
    kept: Sequence[Kept],
    sender_keys: Mapping[str, Mapping[str, Any]],
    hub_jwks: Mapping[str, Any],
    proofs: Mapping[str, Any] | None,
    key_proofs: Mapping[str, Mapping[str, Any]] | None = None,
) -> bytes:
    """`proofs`: the hub's `/v1/cases/{id}/proofs` answer for this participant (None if unavailable);
    `key_proofs`: each sender's `/v1/participants/{id}/log` answer, the proof of its keys."""
    messages = [_message(k) for k in sorted(kept, key=lambda k: (k.accepted_at, k.message_id))]
    keys = {s: jwks for s, jwks in sender_keys.items() if s != hub_id} | {hub_id: hub_jwks}
    purged_at = case.get("purged_at")
    entries, checkpoint, note = _proofs(proofs)
    contents = BundleContents(
        case_id=case_id,
        hub_id=hub_id,
        made_by=participant,
        made_at=made_at,
        timeline=case,
        messages=messages,
        delivery_evidences=delivery_evidences(case, {m.message_id for m in messages}),
        keys=keys,
        audit_entries=entries,
        audit_checkpoint=checkpoint,
        audit_note=note,
        purged_at=None if purged_at is None else str(purged_at),
        key_proofs=dict(key_proofs or {}),
    )
    return pack(assemble(contents))
