"""The operator's evidence bundle of a case, from the hub's database (`hub evidence export`).

It gathers every message of the case in its exact signed bytes with the hub's receipt, the hub-signed
delivery evidences, the public keys of every party and of the hub (with validity and revocation), the
case's audit-log entries each with its inclusion proof against a hub-signed checkpoint, each party's key
proof (and, for a participant of a peer hub, its home hub's log proof and the home hub's keys), and the
case as its originator sees it, and hands them to the one format (`hub/core/bundle.py`). A purged case still
exports: its messages are gone, but its receipts, evidences and audit entries remain, and the bundle
says it was purged. Sealed fields stay sealed: the bundle holds ciphertext only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from hub.core.bundle import BundleContents, BundleMessage, assemble
from hub.core.clock import rfc3339
from hub.core.global_id import home_hub_of
from hub.evidence.files import pack
from hub.services.cases import read_case_for_operator
from hub.services.directory_log import log_document
from hub.services.proofs import case_proofs
from hub.store import directory, evidence
from hub.store.case_keys import Keyring
from hub.store.database import Conn


async def export_bundle(
    conn: Conn, case_id: UUID, *, hub_id: str, now: datetime, keyring: Keyring | None = None
) -> bytes:
    case = await read_case_for_operator(conn, case_id, now)
    purged_at = case.get("purged_at")
    messages = []
    parties = {hub_id}
    for row in await evidence.case_messages(conn, case_id):
        signed: bytes | None = None
        if row["signed_form"] is not None:
            signed = (
                bytes(row["signed_form"])
                if keyring is None
                else keyring.open(row["wrapped_key"], row["signed_form"], row["form_encrypted"])
            )
        parties.add(row["sender_id"])
        messages.append(
            BundleMessage(
                message_id=str(row["id"]),
                sender=row["sender_id"],
                message_type=row["message_type"],
                accepted_at=rfc3339(row["accepted_at"]),
                payload_sha256=row["payload_sha256"],
                signed_form=signed,
                receipt=row["receipt"],
            )
        )
    evidences = await evidence.case_delivery_evidences(conn, case_id)
    parties |= {r["participant_id"] for r in case["recipients"]} | {
        s["participant_id"] for s in case["shared_with"]
    }
    proofs = await case_proofs(conn, case_id, lambda entry: True)
    # a participant of a peer hub: its home hub's log proof of its keys, and the home hub's own keys
    # (its registration here, with this hub's log proof), so its keys verify offline through the home hub
    home_proofs = await directory.home_proofs_of(conn, sorted(parties))
    parties |= {home for p in home_proofs if (home := home_hub_of(p)) is not None}
    keys = await _keys(conn, sorted(parties))
    for participant, home_proof in home_proofs.items():
        keys.setdefault(participant, {"keys": []}).update(
            home_hub=home_hub_of(participant), home_proof=home_proof
        )
    contents = BundleContents(
        case_id=str(case_id),
        hub_id=hub_id,
        made_by=hub_id,
        made_at=rfc3339(now),
        timeline=case,
        messages=messages,
        delivery_evidences=evidences,
        keys=keys,
        key_proofs={p: await log_document(conn, p) for p in sorted(parties - {hub_id})},
        audit_entries=proofs.entries,
        audit_checkpoint=proofs.checkpoint,
        audit_note=None if proofs.checkpoint else "the case's audit entries are not yet checkpointed",
        purged_at=None if purged_at is None else str(purged_at),
    )
    return pack(assemble(contents))


async def _keys(conn: Conn, participants: list[str]) -> dict[str, dict[str, Any]]:
    sets: dict[str, list[dict[str, Any]]] = {}
    for row in await evidence.participant_keys(conn, participants):
        jwk = dict(row["jwk"]) | {"origin": row["origin"], "epoch": row["epoch"], "binding": row["binding"]}
        jwk["not_before"] = rfc3339(row["not_before"])
        if row["not_after"] is not None:
            jwk["not_after"] = rfc3339(row["not_after"])
        if row["revoked_at"] is not None:
            jwk["revoked_at"] = rfc3339(row["revoked_at"])
        sets.setdefault(row["participant_id"], []).append(jwk)
    return {pid: {"keys": keys} for pid, keys in sets.items()}
