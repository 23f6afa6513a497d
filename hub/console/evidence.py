"""A case's evidence bundle as this organisation holds it: one ZIP file to download from the case page.

It holds every signed message of the case this console sent or took from its inbox, byte for byte
(`messages/<id>.jws`), the hub's receipt for each (`receipts/<id>.jws`), the public keys of every sender
and of the hub as the directory publishes them now (`keys/`), the case as the hub showed it when the
bundle was made (`case.json`), a manifest of SHA-256 digests and a README on checking it with any stock
JOSE library. Sealed values stay sealed. The hub operator's own bundle (`hub evidence export`) adds
the audit log's inclusion proofs; this one is what a party can produce from its own records.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

from hub.console.archive import Kept

README = """\
Evidence bundle for case {case_id}, made by the console of {participant} at {made_at}.

messages/<message id>.jws   each signed message exactly as signed (compact JWS, EdDSA / Ed25519)
receipts/<message id>.jws   the hub's signed receipt for it; its payload_sha256 is the SHA-256 of the
                            message's payload (the bytes between the two dots, base64url-decoded)
keys/<participant>.jwks.json  the sender's public keys (JWK Set); keys/hub.jwks.json the hub's
case.json                   the case as the hub showed it to {participant} when this bundle was made
manifest.json               the SHA-256 of every other file here

To check a message by hand, e.g. with jwcrypto:
    from jwcrypto import jwk, jws
    token = jws.JWS(); token.deserialize(open("messages/ID.jws").read())
    key = next(k for k in json.load(open("keys/SENDER.jwks.json"))["keys"]
               if k["kid"] == token.jose_header["kid"])
    token.verify(jwk.JWK(**{{n: key[n] for n in ("kty", "crv", "x", "kid")}}), alg="EdDSA")
then the receipt likewise with keys/hub.jwks.json, and compare its payload_sha256 with
hashlib.sha256(token.objects["payload"]).hexdigest().
Sealed values are ciphertext: only their recipients can open them.
"""


def bundle(
    *,
    case_id: str,
    participant: str,
    made_at: str,
    case: Mapping[str, Any],
    kept: Sequence[Kept],
    sender_keys: Mapping[str, Mapping[str, Any]],
    hub_jwks: Mapping[str, Any],
) -> bytes:
    files: dict[str, bytes] = {}
    for message in kept:
        files[f"messages/{message.message_id}.jws"] = message.message.encode("utf-8")
        files[f"receipts/{message.message_id}.jws"] = message.receipt.encode("utf-8")
    for sender, jwks in sorted(sender_keys.items()):
        files[f"keys/{sender}.jwks.json"] = _json(jwks)
    files["keys/hub.jwks.json"] = _json(hub_jwks)
    files["case.json"] = _json(case)
    files["README.txt"] = README.format(case_id=case_id, participant=participant, made_at=made_at).encode()
    manifest = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}
    files["manifest.json"] = _json({"case_id": case_id, "made_at": made_at, "sha256": manifest})
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return output.getvalue()


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True).encode("utf-8")
