"""Verifying an evidence bundle offline, from the file alone.

Checks: every message's signature with the sender's key as published in the bundle; every receipt and
delivery evidence with the hub's key, and that each names the SHA-256 of the very payload it is about;
every audit entry's leaf hash recomputed from its fields, and its inclusion proof against the tree head
of the hub-signed checkpoint in the bundle. The first problem of each kind is reported.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from hub.core.audit import entry_leaf
from hub.core.jose import JoseError, PublicJwk, parse_jws, sha256_hex, verify_signature
from hub.core.merkle import verify_inclusion


@dataclass
class BundleReport:
    checked: dict[str, int] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.faults

    def count(self, what: str) -> None:
        self.checked[what] = self.checked.get(what, 0) + 1


def _keys(document: dict[str, Any]) -> dict[str, PublicJwk]:
    found = {}
    for jwk in document.get("keys", []):
        key = PublicJwk.from_dict({k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "kid")})
        found[key.kid] = key
    return found


def _verified_claims(signed: str, keys: dict[str, PublicJwk]) -> dict[str, Any]:
    jws = parse_jws(signed)
    key = keys.get(jws.signatures[0].kid)
    if key is None:
        raise JoseError(f"no key {jws.signatures[0].kid} in the bundle")
    verify_signature(jws, jws.signatures[0], key)
    claims: dict[str, Any] = json.loads(jws.payload)
    return claims


def verify_bundle(data: bytes) -> BundleReport:
    report = BundleReport()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(files["manifest.json"])
    for name, digest in manifest["files"].items():
        if sha256_hex(files.get(name, b"")) != digest:
            report.faults.append(f"{name}: missing or not the file the manifest lists")
    hub_keys = _keys(json.loads(files["keys/hub.jwks.json"]))
    participant_keys = {
        name.split("/")[1].removesuffix(".jwks.json"): _keys(json.loads(body))
        for name, body in files.items()
        if name.startswith("keys/") and name != "keys/hub.jwks.json"
    }
    for item in manifest["messages"]:
        _check_message(item, files, participant_keys, hub_keys, report)
    for name in manifest["delivery_evidence"]:
        _check_evidence(name, files, manifest, hub_keys, report)
    _check_audit(files, hub_keys, report)
    return report


def _check_message(
    item: dict[str, Any],
    files: dict[str, bytes],
    participant_keys: dict[str, dict[str, PublicJwk]],
    hub_keys: dict[str, PublicJwk],
    report: BundleReport,
) -> None:
    sender_keys = participant_keys.get(item["from"], {}) | (hub_keys if item.get("hub_signed") else {})
    try:
        jws = parse_jws(files[item["file"]])
        key = sender_keys.get(jws.signatures[0].kid)
        if key is None:
            raise JoseError("its key is not in the bundle")
        verify_signature(jws, jws.signatures[0], key)
        report.count("message signatures")
        receipt = _verified_claims(files[item["receipt"]].decode(), hub_keys)
        report.count("receipts")
        if (
            receipt["payload_sha256"] != sha256_hex(jws.payload)
            or receipt["message_id"] != item["message_id"]
        ):
            report.faults.append(f"{item['receipt']}: the receipt names another message")
    except (JoseError, KeyError, ValueError) as exc:
        report.faults.append(f"{item['file']}: does not verify ({exc})")


def _check_evidence(
    name: str,
    files: dict[str, bytes],
    manifest: dict[str, Any],
    hub_keys: dict[str, PublicJwk],
    report: BundleReport,
) -> None:
    digests = {m["message_id"]: m["payload_sha256"] for m in manifest["messages"]}
    try:
        claims = _verified_claims(files[name].decode(), hub_keys)
        report.count("delivery evidences")
        if digests.get(claims["message_id"]) != claims["payload_sha256"]:
            report.faults.append(f"{name}: the evidence names another payload")
    except (JoseError, KeyError, ValueError) as exc:
        report.faults.append(f"{name}: does not verify ({exc})")


def _check_audit(files: dict[str, bytes], hub_keys: dict[str, PublicJwk], report: BundleReport) -> None:
    if "audit/checkpoint.jws" not in files:
        report.faults.append("audit: no checkpoint in the bundle")
        return
    try:
        checkpoint = _verified_claims(files["audit/checkpoint.jws"].decode(), hub_keys)
    except (JoseError, ValueError) as exc:
        report.faults.append(f"audit/checkpoint.jws: does not verify ({exc})")
        return
    size, head = int(checkpoint["tree_size"]), bytes.fromhex(checkpoint["root_hash"])
    for entry in json.loads(files["audit/entries.json"]):
        index = int(entry["leaf_index"])
        row = {
            **entry,
            "recorded_at": _time(entry["recorded_at"]),
            "case_id": entry["case_id"],
            "message_id": entry["message_id"],
        }
        leaf = entry_leaf(index, row)
        proof = [base64.b64decode(p) for p in entry["inclusion_proof"]]
        if leaf.hex() != entry["leaf_hash"] or not verify_inclusion(leaf, index, size, proof, head):
            report.faults.append(f"audit entry {index}: not in the log the hub signed")
        else:
            report.count("audit entries")


def _time(text: str) -> Any:
    from hub.core.clock import parse_rfc3339

    return parse_rfc3339(text)
