"""Verifying an evidence bundle (format `referral-hub-evidence/1`), from its files and a trust root.

The hub's keys come from a `TrustRoot` the verifier brings, never from the bundle: an impostor can
write any key into `keys/hub.jwks.json` under the real hub's id. A root is the hub's published key set
(a file or its URL, read by the caller), pinned key fingerprints (RFC 7638 thumbprints; the bundle's
copy of the keys is then used only for a key with a pinned thumbprint), or the hub's own audit log (the
key in its key file, and the leaves and checkpoints of its log, which the bundle's proofs must match).

Checks: every file against the manifest's SHA-256; every receipt with the hub's key, naming the
message, its sender, its type and the case the manifest lists; every message's signature
(`message_signer`, the one place a bundle's message signature is checked) and its payload against its
receipt's digest, and that the key that signed it is its sender's own by the sender's binding chain and
by the hub's log (`hub.core.bundle_keys`); every delivery evidence with the hub's key, naming a
received payload; every audit entry's leaf recomputed and its inclusion proof against the hub-signed
checkpoint. A purged case has receipts but no messages: the receipts, evidences and audit still verify,
and the report says so.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.core import inputs
from hub.core.attestation import AttestationError, provenance, signed_by_hub
from hub.core.bundle import FORMAT, HUB_KEYS, MANIFEST, leaf_data
from hub.core.bundle_keys import PartyKeys, hub_party_keys, party_keys, signing_key_fault
from hub.core.clock import parse_rfc3339
from hub.core.global_id import home_hub_of
from hub.core.jose import JoseError, ParsedJws, PublicJwk, parse_jws, sha256_hex, verify_signature
from hub.core.merkle import leaf_hash, verify_inclusion


class BundleFormatError(ValueError):
    """The files are not an evidence bundle of this format at all."""


def public_keys(document: Any) -> dict[str, PublicJwk]:
    """The Ed25519 keys of a JWK Set document, by kid (other members of each JWK are ignored)."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK Set (no 'keys' list)")
    found = {}
    for jwk in document["keys"]:
        if isinstance(jwk, Mapping) and jwk.get("crv") == "Ed25519":
            key = PublicJwk.from_dict({k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "kid")})
            found[key.kid] = key
    return found


@dataclass(frozen=True)
class TrustRoot:
    """Where the hub's keys come from, and what the report says about it (`source`)."""

    source: str
    keys: Mapping[str, PublicJwk] = field(default_factory=dict)
    fingerprints: frozenset[str] = frozenset()
    log_leaves: Mapping[int, bytes] | None = None  # the hub's own log: leaf hash by position
    log_checkpoints: frozenset[str] | None = None  # and every checkpoint it signed

    def hub_keys(self, bundled: Mapping[str, PublicJwk]) -> dict[str, PublicJwk]:
        keys = dict(self.keys)
        keys.update({kid: k for kid, k in bundled.items() if k.thumbprint() in self.fingerprints})
        return keys


@dataclass
class BundleReport:
    trust: str
    case_id: str = ""
    made_by: str = ""
    purged_at: str | None = None
    checked: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.faults

    def count(self, what: str) -> None:
        self.checked[what] = self.checked.get(what, 0) + 1


def message_signer(
    jws: ParsedJws,
    sender: str,
    sender_keys: Mapping[str, PublicJwk],
    hub_id: str,
    hub_keys: Mapping[str, PublicJwk],
) -> str:
    """Check a message's signature; return who signed it: `sender`, or `hub` for the hub's own messages
    and for answers the hub attests for a participant (an `attestation` member by the hub, e.g. a reply
    by e-mail). Raises JoseError when it does not verify with a key that may sign for that sender."""
    kid = jws.signatures[0].kid
    if kid in hub_keys:
        payload = inputs.loads(jws.payload)
        try:  # the one rule (`hub.core.attestation`): the hub's key speaks for itself, or where it attests
            by_hub = (
                isinstance(payload, dict) and payload.get("from") == sender and signed_by_hub(payload, hub_id)
            )
        except AttestationError as exc:
            raise JoseError(str(exc)) from None
        if not by_hub:
            raise JoseError(f"signed with the hub's key {kid}, but neither from the hub nor attested by it")
        verify_signature(jws, jws.signatures[0], hub_keys[kid])
        return "hub"
    key = sender_keys.get(kid)
    if key is None:
        raise JoseError(f"key {kid} is not one of {sender}'s keys in the bundle")
    verify_signature(jws, jws.signatures[0], key)
    return "sender"


def signed_claims(signed: bytes, keys: Mapping[str, PublicJwk], what: str) -> dict[str, Any]:
    jws = parse_jws(signed)
    key = keys.get(jws.signatures[0].kid)
    if key is None:
        raise JoseError(f"{what} is signed by key {jws.signatures[0].kid}, not by the hub you trust")
    verify_signature(jws, jws.signatures[0], key)
    claims = inputs.loads(jws.payload)
    if not isinstance(claims, dict):
        raise ValueError("its payload is not a JSON object")
    return claims


def _manifest(files: Mapping[str, bytes]) -> dict[str, Any]:
    try:
        manifest = inputs.loads(files[MANIFEST])
    except KeyError:
        raise BundleFormatError("it has no manifest.json") from None
    except ValueError:
        raise BundleFormatError("its manifest.json is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        older = isinstance(manifest, dict) and "format" not in manifest and "case_id" in manifest
        raise BundleFormatError(
            f"its manifest does not name the format {FORMAT}"
            + (" (a bundle made before it: export or download it again)" if older else "")
        )
    return manifest


def verify_files(files: Mapping[str, bytes], root: TrustRoot) -> BundleReport:
    manifest = _manifest(files)
    report = BundleReport(trust=root.source)
    try:
        _verify(files, manifest, root, report)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        report.faults.append(f"manifest.json: malformed ({exc.__class__.__name__}: {exc})")
    return report


def _verify(
    files: Mapping[str, bytes], manifest: dict[str, Any], root: TrustRoot, report: BundleReport
) -> None:
    report.case_id, report.made_by = str(manifest["case_id"]), str(manifest["made_by"])
    hub_id = str(manifest["hub"])
    for name, digest in manifest["files"].items():
        if name not in files or sha256_hex(files[name]) != digest:
            report.faults.append(f"{name}: missing or not the file the manifest lists")
    bundled: dict[str, PublicJwk] = {}
    if HUB_KEYS in files:
        try:
            bundled = public_keys(inputs.loads(files[HUB_KEYS]))
        except (ValueError, JoseError):
            report.faults.append(f"{HUB_KEYS}: not a JWK Set")
    hub_keys = root.hub_keys(bundled)
    if not hub_keys:
        report.faults.append(
            f"no key of the hub you trust is in this bundle: {root.source} matches none of its keys"
        )
        return
    if manifest.get("purged"):
        report.purged_at = str(manifest["purged"]["purged_at"])
    receipts = _check_messages(files, manifest, hub_id, hub_keys, report)
    for name in manifest["delivery_evidence"]:
        _check_evidence(name, files, receipts, hub_keys, report)
    _check_audit(files, manifest, hub_keys, root, report)


def _participant_keys(
    files: Mapping[str, bytes],
    manifest: dict[str, Any],
    hub_id: str,
    hub_keys: Mapping[str, PublicJwk],
    report: BundleReport,
) -> dict[str, tuple[dict[str, PublicJwk], PartyKeys]]:
    found: dict[str, tuple[dict[str, PublicJwk], PartyKeys]] = {}
    proofs = manifest.get("key_proofs") or {}
    read: dict[str, tuple[dict[str, Any], dict[str, PublicJwk], Mapping[str, Any] | None]] = {}
    for participant, name in manifest["keys"].items():
        if participant != hub_id and name in files:
            try:
                listing = inputs.loads(files[name])
                keys = public_keys(listing)
                proof_name = str(proofs.get(participant, ""))
                proof = inputs.loads(files[proof_name]) if proof_name in files else None
            except (ValueError, JoseError):
                report.faults.append(f"{name}: not a JWK Set")
                continue
            read[participant] = (listing, keys, proof)
    # this hub's own participants and its peer hubs first: a peer's participant is checked through them
    for participant in sorted(read, key=lambda p: home_hub_of(p) is not None):
        listing, keys, proof = read[participant]
        home = home_hub_of(participant)
        home_keys = None
        if home is not None and home in found:
            home_keys = hub_party_keys(home, *found[home])
        party = party_keys(participant, hub_id, listing, proof, hub_keys, home_keys)
        found[participant] = (keys, party)
        report.faults.extend(party.faults)
        if party.logged is not None:
            report.count("key proofs")
        if home is not None and party.refused is not None and not set(keys) & set(party.refused):
            report.count("home-hub key proofs")
    return found


def _check_messages(
    files: Mapping[str, bytes],
    manifest: dict[str, Any],
    hub_id: str,
    hub_keys: Mapping[str, PublicJwk],
    report: BundleReport,
) -> dict[str, dict[str, Any]]:
    """Each message's receipt, then its signature; the receipts that verify, by message id."""
    receipts: dict[str, dict[str, Any]] = {}
    participant_keys = _participant_keys(files, manifest, hub_id, hub_keys, report)
    for item in manifest["messages"]:
        try:
            receipt = signed_claims(files[item["receipt"]], hub_keys, "the receipt")
            report.count("receipts")
            expected = (item["message_id"], item["from"], item["type"], report.case_id)
            named = (receipt["message_id"], receipt["from"], receipt["message_type"], receipt["case_id"])
            if named != expected:
                report.faults.append(f"{item['receipt']}: the receipt names another message or case")
                continue
            receipts[item["message_id"]] = receipt
            _check_message(files, item, receipt, participant_keys, hub_id, hub_keys, report)
        except (JoseError, KeyError, ValueError) as exc:
            report.faults.append(f"{item['file'] or item['receipt']}: does not verify ({exc})")
    if report.purged_at is not None:
        report.notes.append(
            f"the case was purged at {report.purged_at}: its messages were deleted at the end of retention; "
            "what remains (receipts, delivery evidences, audit entries) is what was checked"
        )
    return receipts


def _check_message(
    files: Mapping[str, bytes],
    item: Mapping[str, Any],
    receipt: Mapping[str, Any],
    participant_keys: Mapping[str, tuple[dict[str, PublicJwk], PartyKeys]],
    hub_id: str,
    hub_keys: Mapping[str, PublicJwk],
    report: BundleReport,
) -> None:
    if item["file"] is None:
        if report.purged_at is None:
            report.faults.append(f"{item['receipt']}: its message is missing, yet the case is not purged")
        else:
            report.count("purged messages (receipt only)")
        return
    jws = parse_jws(files[item["file"]])
    keys, party = participant_keys.get(item["from"], ({}, PartyKeys()))
    signer = message_signer(jws, item["from"], keys, hub_id, hub_keys)
    report.count("message signatures")
    if signer == "sender":
        fault = signing_key_fault(item["from"], party, keys[jws.signatures[0].kid])
        if fault is not None:
            report.faults.append(f"{item['file']}: {fault}")
        for note in party.notes:
            if note not in report.notes:
                report.notes.append(note)
    if signer == "hub" and item["from"] != hub_id:
        report.count("hub-attested answers")
        payload = inputs.loads(jws.payload)
        report.notes.append(
            f"{item['file']}: {item['type']} from {item['from']}, {provenance(payload, hub_id)}"
        )
    if receipt["payload_sha256"] != sha256_hex(jws.payload):
        report.faults.append(f"{item['file']}: not the payload its receipt names")


def _check_evidence(
    name: str,
    files: Mapping[str, bytes],
    receipts: Mapping[str, Mapping[str, Any]],
    hub_keys: Mapping[str, PublicJwk],
    report: BundleReport,
) -> None:
    try:
        claims = signed_claims(files[name], hub_keys, "the evidence")
        report.count("delivery evidences")
        receipt = receipts.get(str(claims["message_id"]))
        if receipt is None or receipt["payload_sha256"] != claims["payload_sha256"]:
            report.faults.append(f"{name}: the evidence names a payload the hub's receipts do not")
    except (JoseError, KeyError, ValueError) as exc:
        report.faults.append(f"{name}: does not verify ({exc})")


def _check_audit(
    files: Mapping[str, bytes],
    manifest: dict[str, Any],
    hub_keys: Mapping[str, PublicJwk],
    root: TrustRoot,
    report: BundleReport,
) -> None:
    audit = manifest["audit"]
    if not audit:
        report.notes.append(f"no audit proofs: {manifest.get('audit_note') or 'none in the bundle'}")
        return
    try:
        signed = files[audit["checkpoint"]]
        checkpoint = signed_claims(signed, hub_keys, "the checkpoint")
        entries = inputs.loads(files[audit["entries"]])
    except (JoseError, KeyError, ValueError) as exc:
        report.faults.append(f"{audit['checkpoint']}: does not verify ({exc})")
        return
    if root.log_checkpoints is not None and signed.decode(errors="replace") not in root.log_checkpoints:
        report.faults.append(f"{audit['checkpoint']}: not a checkpoint of the hub's own audit log")
        return
    size, head = int(checkpoint["tree_size"]), bytes.fromhex(checkpoint["root_hash"])
    for entry in entries:
        index = int(entry["leaf_index"])
        try:
            leaf = leaf_hash(leaf_data(entry))
            parse_rfc3339(str(entry["recorded_at"]))
            proof = [base64.b64decode(p, validate=True) for p in entry["inclusion_proof"]]
        except (KeyError, ValueError, TypeError):
            report.faults.append(f"audit entry {index}: malformed")
            continue
        in_log = root.log_leaves is None or root.log_leaves.get(index) == leaf
        if (
            leaf.hex() != entry["leaf_hash"]
            or entry["case_id"] != report.case_id
            or not in_log
            or not verify_inclusion(leaf, index, size, proof, head)
        ):
            report.faults.append(f"audit entry {index}: not in the log the hub signed")
        else:
            report.count("audit entries")
