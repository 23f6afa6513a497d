"""Building a case's evidence bundle: a ZIP file that proves, with stock tools and without the hub,
what was sent, when, to whom, and what happened.

Contents: every signed message of the case in its exact bytes with the hub's receipt; the hub-signed
delivery evidences; the public keys of every party and of the hub (with validity and revocation); the
case's audit-log entries, each with its inclusion proof against a hub-signed checkpoint; the timeline;
a manifest with the SHA-256 of every file; and a README on verifying it by hand. Sealed fields stay
sealed: the bundle holds ciphertext only.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from datetime import datetime
from typing import Any
from uuid import UUID

from hub.core.clock import rfc3339
from hub.core.jose import sha256_hex
from hub.core.merkle import inclusion_proof
from hub.core.refusal import Refusal
from hub.services.cases import read_case_for_operator
from hub.store.case_keys import Keyring
from hub.store.database import Conn
from hub.store.queries import query

README = """Evidence bundle for case {case_id}, exported {exported_at} by hub {hub_id}.

Every file is listed in manifest.json with its SHA-256 (sha256sum FILE).

messages/*.jws          each message exactly as its sender signed it (JWS, EdDSA / Ed25519, RFC 7515/8037).
                        Verify it with the sender's key from keys/<sender>.jwks.json, e.g. with jwcrypto:
                          from jwcrypto import jwk, jws
                          t = jws.JWS(); t.deserialize(open(F).read())
                          t.verify(jwk.JWK(**KEY), alg="EdDSA"); payload = t.payload
                        Messages sent by the hub itself (escalations, hub-attested answers) verify with
                        keys/hub.jwks.json; a hub-attested message says so in its "attestation" member.
messages/*.receipt.jws  the hub's signed receipt: verify with keys/hub.jwks.json; its "payload_sha256" is the
                        SHA-256 of the message's payload bytes and "accepted_at" is when the hub took it.
deliveries/*.jws        the hub's signed delivery evidence: when and how each recipient was told.
audit/entries.json      the case's entries in the hub's tamper-evident log (RFC 9162 Merkle tree).
                        Each leaf is SHA-256(0x00 || canonical JSON of the entry, keys sorted, no
                        spaces); its "inclusion_proof" leads to the tree head in audit/checkpoint.jws,
                        which the hub signed.
timeline.json           the case as the hub shows it to its originator.

`hub evidence verify FILE` performs every check above, offline. Sealed fields are ciphertext: only the
recipient they were sealed to can read them.
"""


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))  # stable bytes for one content
            archive.writestr(info, files[name], zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


async def export_bundle(
    conn: Conn, case_id: UUID, *, hub_id: str, now: datetime, keyring: Keyring | None = None
) -> bytes:
    case = await read_case_for_operator(conn, case_id, now)
    files: dict[str, bytes] = {"timeline.json": json.dumps(case, indent=2).encode()}
    manifest: dict[str, Any] = {
        "case_id": str(case_id),
        "hub": hub_id,
        "exported_at": rfc3339(now),
        "messages": [],
        "delivery_evidence": [],
    }
    parties = {hub_id}
    for n, row in enumerate(await conn.fetch(query("evidence_messages"), case_id), start=1):
        base = f"messages/{n:03d}-{row['message_type']}-{row['id']}"
        if row["signed_form"] is None:
            raise Refusal(
                "case-purged", "this case was purged: its messages were deleted at the end of retention"
            )
        files[f"{base}.jws"] = (
            bytes(row["signed_form"])
            if keyring is None
            else keyring.open(row["wrapped_key"], row["signed_form"], row["form_encrypted"])
        )
        files[f"{base}.receipt.jws"] = row["receipt"].encode()
        parties.add(row["sender_id"])
        manifest["messages"].append(
            {
                "message_id": str(row["id"]),
                "from": row["sender_id"],
                "type": row["message_type"],
                "accepted_at": rfc3339(row["accepted_at"]),
                "payload_sha256": row["payload_sha256"],
                "file": f"{base}.jws",
                "receipt": f"{base}.receipt.jws",
                "hub_signed": row["sender_id"] == hub_id,
            }
        )
    for row in await conn.fetch(query("evidence_deliveries"), case_id):
        name = f"deliveries/{row['message_id']}-{row['recipient_id']}.evidence.jws"
        files[name] = row["evidence"].encode()
        manifest["delivery_evidence"].append(name)
    parties |= {r["participant_id"] for r in case["recipients"]} | {
        s["participant_id"] for s in case["shared_with"]
    }
    files.update(await _keys(conn, sorted(parties), hub_id))
    files.update(await _audit(conn, case_id))
    files["README.txt"] = README.format(case_id=case_id, exported_at=rfc3339(now), hub_id=hub_id).encode()
    manifest["files"] = {name: sha256_hex(body) for name, body in sorted(files.items())}
    files["manifest.json"] = json.dumps(manifest, indent=2).encode()
    return _zip(files)


async def _keys(conn: Conn, participants: list[str], hub_id: str) -> dict[str, bytes]:
    sets: dict[str, list[dict[str, Any]]] = {}
    for row in await conn.fetch(query("evidence_keys"), participants):
        jwk = dict(row["jwk"])
        jwk["not_before"] = rfc3339(row["not_before"])
        if row["not_after"] is not None:
            jwk["not_after"] = rfc3339(row["not_after"])
        if row["revoked_at"] is not None:
            jwk["revoked_at"] = rfc3339(row["revoked_at"])
        sets.setdefault(row["participant_id"], []).append(jwk)
    return {
        ("keys/hub.jwks.json" if pid == hub_id else f"keys/{pid}.jwks.json"): json.dumps(
            {"keys": keys}, indent=2
        ).encode()
        for pid, keys in sets.items()
    }


async def _audit(conn: Conn, case_id: UUID) -> dict[str, bytes]:
    entries = await conn.fetch(query("case_audit_entries"), case_id)
    if not entries:
        return {}
    covering = await conn.fetchrow(query("checkpoint_covering"), int(entries[-1]["leaf_index"]) + 1)
    if covering is None:
        return {}
    size = int(covering["tree_size"])
    leaves = [bytes(r["leaf_hash"]) for r in await conn.fetch(query("leaf_hashes_upto"), size)]
    out = []
    for row in entries:
        index = int(row["leaf_index"])
        out.append(
            {
                "leaf_index": index,
                "leaf_hash": bytes(row["leaf_hash"]).hex(),
                "recorded_at": rfc3339(row["recorded_at"]),
                "event": row["event"],
                "actor": row["actor"],
                "subject": row["subject"],
                "case_id": None if row["case_id"] is None else str(row["case_id"]),
                "message_id": None if row["message_id"] is None else str(row["message_id"]),
                "detail": row["detail"],
                "inclusion_proof": [base64.b64encode(p).decode() for p in inclusion_proof(leaves, index)],
            }
        )
    return {
        "audit/entries.json": json.dumps(out, indent=2).encode(),
        "audit/checkpoint.jws": covering["checkpoint"].encode(),
    }
