"""The README.txt of an evidence bundle: what each file is, and a script that checks it by hand.

The script between the `check.py` marker lines is complete: copied into a file in the unzipped bundle,
`python3 check.py HUB_JWKS_FILE` runs with only jwcrypto installed (tests/test_evidence.py runs it).
It takes the hub's keys from a file the reader brings (the hub's published `/.well-known/jwks.json`), never
from the bundle: a bundle can carry any key, so its own copy proves nothing about who made it.
"""

from __future__ import annotations

SCRIPT_START = "----- check.py -----"
SCRIPT_END = "----- end of check.py -----"

CHECK_SCRIPT = """\
import base64, hashlib, json, sys
from jwcrypto import jwk, jws

def sha256(data):
    return hashlib.sha256(data).digest()

def load_keys(path):
    found = json.load(open(path))["keys"]
    return {k["kid"]: jwk.JWK(**{n: k[n] for n in ("kty", "crv", "x", "kid")}) for k in found}

def verified(path, keys):
    token = jws.JWS()
    token.deserialize(open(path).read())
    kid = token.jose_header["kid"]
    if kid not in keys:
        sys.exit(f"{path}: signed by key {kid}, which is not one you trust for it")
    token.verify(keys[kid], alg="EdDSA")
    return token

def root_from_proof(leaf, index, size, proof):  # RFC 9162, 2.1.3.2
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            r = sha256(b"\\x01" + p + r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = sha256(b"\\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None

hub = load_keys(sys.argv[1])  # the hub's keys, from OUTSIDE this bundle
manifest = json.load(open("manifest.json"))
for name, digest in manifest["files"].items():
    assert hashlib.sha256(open(name, "rb").read()).hexdigest() == digest, f"{name} was changed"
receipts = {}
for m in manifest["messages"]:
    receipt = json.loads(verified(m["receipt"], hub).payload)
    assert receipt["message_id"] == m["message_id"] and receipt["case_id"] == manifest["case_id"]
    receipts[m["message_id"]] = receipt
    if m["file"] is None:
        print(f"{m['message_id']}: purged; the hub's receipt verifies (accepted {receipt['accepted_at']})")
        continue
    sender = load_keys(manifest["keys"][m["from"]]) if m["from"] in manifest["keys"] else {}
    token = verified(m["file"], {**sender, **hub})
    signer = "the hub" if token.jose_header["kid"] in hub else m["from"]
    assert receipt["payload_sha256"] == hashlib.sha256(token.objects["payload"]).hexdigest()
    print(f"{m['message_id']}: signed by {signer}; the hub's receipt verifies")
for name in manifest["delivery_evidence"]:
    evidence = json.loads(verified(name, hub).payload)
    assert evidence["payload_sha256"] == receipts[evidence["message_id"]]["payload_sha256"]
    print(f"{name}: delivered {evidence['delivered_at']} by {evidence['channel']}")
if manifest["audit"]:
    head = json.loads(verified(manifest["audit"]["checkpoint"], hub).payload)
    for e in json.load(open(manifest["audit"]["entries"])):
        fields = {k: v for k, v in e.items() if k not in ("leaf_hash", "inclusion_proof")}
        data = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        proof = [base64.b64decode(p) for p in e["inclusion_proof"]]
        root = root_from_proof(sha256(b"\\x00" + data), e["leaf_index"], head["tree_size"], proof)
        assert root is not None and root.hex() == head["root_hash"], f"audit entry {e['leaf_index']}"
    print(f"audit: the case's entries are in the log the hub signed at {head['tree_size']} entries")
print("the bundle verifies")
"""


def readme(
    *,
    case_id: str,
    hub_id: str,
    made_by: str,
    made_at: str,
    purged_at: str | None,
    audit_note: str | None,
    messages_kept: bool = False,
) -> str:
    maker = "the hub's operator" if made_by == hub_id else f"the console of {made_by}"
    lines = [
        f"Evidence bundle for case {case_id} (hub {hub_id}), made by {maker} at {made_at}.",
        "Format referral-hub-evidence/1; manifest.json lists every file with its SHA-256 (sha256sum FILE).",
        "",
    ]
    if purged_at is not None and messages_kept:
        lines += [
            "PURGED at the hub: the hub deleted this case's personal data at the end of retention",
            f"({purged_at}). The messages here are the copies {made_by} kept; the hub's receipts (each",
            "names its message's SHA-256), the delivery evidences and the audit entries still prove them.",
            "",
        ]
    elif purged_at is not None:
        lines += [
            f"PURGED: this case's personal data was deleted at the end of retention ({purged_at}). The",
            "messages themselves are gone; what proves what happened remains and verifies: the hub's",
            "receipts (each names its message's SHA-256), the delivery evidences and the audit entries.",
            "",
        ]
    lines += [
        "messages/*.jws           each message exactly as its sender signed it (JWS, EdDSA / Ed25519,",
        "                         RFC 7515 / 8037), checked with the sender's key in",
        "                         keys/<sender>.jwks.json.",
        "                         Messages of the hub itself (escalations, and answers it attests for a",
        '                         platform that replied by e-mail: their "attestation" member says so)',
        "                         are signed with the hub's key.",
        "messages/*.receipt.jws   the hub's signed receipt: its payload_sha256 is the SHA-256 of the",
        "                         message's payload bytes, accepted_at is when the hub took it.",
        "deliveries/*.jws         the hub's signed delivery evidence: when and how each recipient was told.",
        "audit/entries.json       the case's entries in the hub's tamper-evident log (RFC 9162 Merkle tree):",
        "                         each leaf is SHA-256(0x00 || the entry as canonical JSON, keys sorted, no",
        "                         spaces, without leaf_hash and inclusion_proof); the proof leads to the",
        "                         tree head in audit/checkpoint.jws, which the hub signed.",
        "timeline.json            the case as the hub showed it to whoever made this bundle.",
        "keys/                    public keys as the hub's directory lists them; keys/<id>.log.json",
        "                         proves them: the party's directory entries (each key as it was added)",
        "                         with inclusion proofs to a checkpoint the hub signed.",
        "",
    ]
    if audit_note is not None:
        lines += [f"No audit proofs in this bundle: {audit_note}.", ""]
    lines += [
        "Whose key proves it: keys/hub.jwks.json is only a copy. Anyone can make a bundle with a key of",
        f"their own under the name {hub_id}; take the hub's keys from outside the bundle: its published",
        "key set (https://<hub>/.well-known/jwks.json, fetched or handed over earlier), or its key",
        "fingerprint (RFC 7638 thumbprint) as the operator published it. Then:",
        "",
        "  hub evidence verify BUNDLE.zip --hub-jwks FILE_OR_URL        (or --hub-fingerprint FP)",
        "",
        "or by hand: unzip the bundle, save the script below as check.py in that folder, and run",
        "  python3 check.py HUB_JWKS_FILE            (needs only: pip install jwcrypto)",
        "",
        SCRIPT_START,
        CHECK_SCRIPT.rstrip("\n"),
        SCRIPT_END,
        "",
        "Sealed fields are ciphertext: only the recipient they were sealed to can read them.",
        "",
    ]
    return "\n".join(lines)
