"""The evidence bundle's one format, `referral-hub-evidence/1`: which files it holds and its manifest.

Both exporters (the operator's `hub evidence export`, from the hub's database; a participant's console,
from its own record) gather a `BundleContents` and call `assemble`; `hub/core/bundle_verify.py` checks
what it made. Files, by name:

- `messages/<n>-<type>-<id>.jws`: each message exactly as signed (absent for a purged case);
- `messages/<n>-<type>-<id>.receipt.jws`: the hub's signed receipt for it (kept after a purge);
- `deliveries/<message id>-<recipient>.evidence.jws`: the hub's signed delivery evidences (a further
  destination of the recipient's, such as its HMA bank, as `<recipient>+<name>`);
- `keys/<participant>.jwks.json`, `keys/hub.jwks.json`: public keys as the hub's directory lists them
  (the hub's own are a copy for convenience: a verifier takes the hub's key from outside the bundle);
- `keys/<participant>.log.json`: the key proof, the participant's directory entries with inclusion
  proofs to a hub-signed checkpoint, as `GET /v1/participants/{id}/log` gives them;
- `audit/entries.json`, `audit/checkpoint.jws`: the case's audit-log entries with inclusion proofs
  against a hub-signed tree head (a participant's bundle may lack them: the manifest then says why);
- `timeline.json`: the case as the hub showed it to whoever made the bundle;
- `README.txt`: how to check it by hand; `manifest.json`: all of the above, with every file's SHA-256.

Pure: the caller reads the database, the disk or the hub, and writes the ZIP (`hub/evidence/files.py`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from hub.core.audit import entry_bytes
from hub.core.bundle_readme import readme
from hub.core.clock import parse_rfc3339
from hub.core.jose import sha256_hex

FORMAT = "referral-hub-evidence/1"
HUB_KEYS = "keys/hub.jwks.json"
MANIFEST = "manifest.json"
AUDIT_ENTRIES = "audit/entries.json"
AUDIT_CHECKPOINT = "audit/checkpoint.jws"
TIMELINE = "timeline.json"


@dataclass(frozen=True)
class BundleMessage:
    """One message of the case: its signed form (None once the case is purged) and the hub's receipt."""

    message_id: str
    sender: str
    message_type: str
    accepted_at: str
    payload_sha256: str
    signed_form: bytes | None
    receipt: str


@dataclass(frozen=True)
class AuditEntry:
    """A case's audit-log entry as the bundle carries it, with its RFC 9162 inclusion proof."""

    leaf_index: int
    leaf_hash: bytes
    recorded_at: str
    event: str
    actor: str
    subject: str | None
    case_id: str | None
    message_id: str | None
    detail: Mapping[str, Any]
    proof: Sequence[bytes]

    def document(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "leaf_hash": self.leaf_hash.hex(),
            "recorded_at": self.recorded_at,
            "event": self.event,
            "actor": self.actor,
            "subject": self.subject,
            "case_id": self.case_id,
            "message_id": self.message_id,
            "detail": dict(self.detail),
            "inclusion_proof": [base64.b64encode(p).decode() for p in self.proof],
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> AuditEntry:
        """An entry as `document` wrote it (e.g. the hub's `/v1/cases/{id}/proofs` answer)."""
        return cls(
            leaf_index=int(document["leaf_index"]),
            leaf_hash=bytes.fromhex(str(document["leaf_hash"])),
            recorded_at=str(document["recorded_at"]),
            event=str(document["event"]),
            actor=str(document["actor"]),
            subject=document["subject"],
            case_id=document["case_id"],
            message_id=document["message_id"],
            detail=document["detail"] or {},
            proof=[base64.b64decode(p, validate=True) for p in document["inclusion_proof"]],
        )


def leaf_data(entry: Mapping[str, Any]) -> bytes:
    """The bytes an audit entry's leaf hashes, from the entry as `audit/entries.json` holds it."""

    def uuid_or_none(value: Any) -> UUID | None:
        return None if value is None else UUID(str(value))

    return entry_bytes(
        int(entry["leaf_index"]),
        parse_rfc3339(str(entry["recorded_at"])),
        str(entry["event"]),
        str(entry["actor"]),
        entry["subject"],
        uuid_or_none(entry["case_id"]),
        uuid_or_none(entry["message_id"]),
        entry["detail"] or {},
    )


@dataclass(frozen=True)
class BundleContents:
    """Everything an exporter gathered for one case."""

    case_id: str
    hub_id: str
    made_by: str  # the hub's id (operator export) or the participant whose console made it
    made_at: str
    timeline: Mapping[str, Any]
    messages: Sequence[BundleMessage]
    delivery_evidences: Sequence[tuple[str, str, str]]  # (message id, recipient, signed evidence)
    keys: Mapping[str, Mapping[str, Any]]  # participant id (the hub under its id) -> JWK Set
    audit_entries: Sequence[AuditEntry] = ()
    audit_checkpoint: str | None = None
    audit_note: str | None = None  # why there are no audit proofs, when there are none
    purged_at: str | None = None
    # participant id -> its directory entries proven to a checkpoint (GET /v1/participants/{id}/log)
    key_proofs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8")


def _message_base(n: int, message: BundleMessage) -> str:
    return f"messages/{n:03d}-{message.message_type}-{message.message_id}"


def assemble(contents: BundleContents) -> dict[str, bytes]:
    """The bundle's files, name -> bytes, the manifest last (it lists the SHA-256 of all the others)."""
    files: dict[str, bytes] = {TIMELINE: _json(contents.timeline)}
    listed: list[dict[str, Any]] = []
    for n, message in enumerate(contents.messages, start=1):
        base = _message_base(n, message)
        item: dict[str, Any] = {
            "message_id": message.message_id,
            "from": message.sender,
            "type": message.message_type,
            "accepted_at": message.accepted_at,
            "payload_sha256": message.payload_sha256,
            "file": None,
            "receipt": f"{base}.receipt.jws",
        }
        if message.signed_form is not None:
            item["file"] = f"{base}.jws"
            files[f"{base}.jws"] = message.signed_form
        else:
            item["purged"] = True
        files[item["receipt"]] = message.receipt.encode()
        listed.append(item)
    evidences = []
    for message_id, recipient, evidence in contents.delivery_evidences:
        name = f"deliveries/{message_id}-{recipient}.evidence.jws"
        if name not in files:
            files[name] = evidence.encode()
            evidences.append(name)
    keys = {}
    for participant, jwks in sorted(contents.keys.items()):
        name = HUB_KEYS if participant == contents.hub_id else f"keys/{participant}.jwks.json"
        files[name] = _json(jwks)
        keys[participant] = name
    key_proofs = {}
    for participant, document in sorted(contents.key_proofs.items()):
        name = f"keys/{participant}.log.json"
        files[name] = _json(document)
        key_proofs[participant] = name
    audit: dict[str, Any] | None = None
    if contents.audit_entries and contents.audit_checkpoint is not None:
        files[AUDIT_ENTRIES] = _json([e.document() for e in contents.audit_entries])
        files[AUDIT_CHECKPOINT] = contents.audit_checkpoint.encode()
        audit = {"entries": AUDIT_ENTRIES, "checkpoint": AUDIT_CHECKPOINT}
    files["README.txt"] = readme(
        case_id=contents.case_id,
        hub_id=contents.hub_id,
        made_by=contents.made_by,
        made_at=contents.made_at,
        purged_at=contents.purged_at,
        audit_note=None if audit else (contents.audit_note or "no audit entry of the case is checkpointed"),
        messages_kept=any(m.signed_form is not None for m in contents.messages),
    ).encode()
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "case_id": contents.case_id,
        "hub": contents.hub_id,
        "made_by": contents.made_by,
        "exported_at": contents.made_at,
        "purged": None if contents.purged_at is None else {"purged_at": contents.purged_at},
        "messages": listed,
        "delivery_evidence": evidences,
        "keys": keys,
        "key_proofs": key_proofs,
        "audit": audit,
        "audit_note": None
        if audit
        else (contents.audit_note or "no audit entry of the case is checkpointed"),
        "timeline": TIMELINE,
        "files": {name: sha256_hex(body) for name, body in sorted(files.items())},
    }
    files[MANIFEST] = _json(manifest)
    return files
