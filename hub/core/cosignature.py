"""A witness's cosignature of one of the hub's checkpoints (issue 18).

A witness is a participant that watches the hub's log (`hub keys check-log`) and, once it has checked
that a checkpoint extends every one it saw before, signs that checkpoint's tree size and head: a compact
JWS with protected header `{"alg": "EdDSA", "kid", "typ": "hub-checkpoint-cosignature+jwt"}` over
`{"iss": <witness>, "aud": <hub id>, "iat", "tree_size", "root_hash"}` (the idea of C2SP's
tlog-cosignature, in the JOSE the hub already speaks). The hub serves the cosignatures beside the
checkpoint; a client that requires a witness's cosignature accepts only a head the witness saw too, so an
operator cannot show it a log (a split view) that the witness was not shown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from hub.core.jose import JoseError, PrivateSigningJwk, PublicJwk, parse_jws, sign_compact, verify_signature
from hub.core.log_watch import Seen

COSIGNATURE_TYPE = "hub-checkpoint-cosignature+jwt"
MAX_COSIGNATURE_BYTES = 2048


class CosignatureError(ValueError):
    """Not a valid cosignature of this checkpoint by this witness: the message says why."""


@dataclass(frozen=True)
class Cosigned:
    witness_id: str
    kid: str
    tree_size: int
    root_hash: str
    issued_at: int


def cosign(key: PrivateSigningJwk, *, witness_id: str, hub_id: str, seen: Seen, now: int) -> str:
    claims = {
        "iss": witness_id,
        "aud": hub_id,
        "iat": now,
        "tree_size": seen.tree_size,
        "root_hash": seen.root_hash,
    }
    return sign_compact(json.dumps(claims, separators=(",", ":")).encode(), key, {"typ": COSIGNATURE_TYPE})


def read_cosignature(text: str) -> tuple[str, dict[str, object]]:
    """The signing kid and the claims, shape checked but not the signature."""
    if not isinstance(text, str) or len(text) > MAX_COSIGNATURE_BYTES:
        raise CosignatureError(f"a cosignature is a compact JWS of at most {MAX_COSIGNATURE_BYTES} bytes")
    try:
        jws = parse_jws(text)
        if jws.serialization != "compact" or len(jws.signatures) != 1:
            raise CosignatureError("a cosignature is a compact JWS with one signature")
        signature = jws.signatures[0]
        claims = json.loads(jws.payload)
    except (JoseError, ValueError) as exc:
        raise CosignatureError(f"not a cosignature: {exc}") from None
    if signature.protected.get("typ") != COSIGNATURE_TYPE:
        raise CosignatureError(f"a cosignature's protected header has typ {COSIGNATURE_TYPE!r}")
    if not isinstance(claims, dict):
        raise CosignatureError("a cosignature's payload is a JSON object")
    for name, kind in (("iss", str), ("aud", str), ("iat", int), ("tree_size", int), ("root_hash", str)):
        if not isinstance(claims.get(name), kind) or isinstance(claims.get(name), bool):
            raise CosignatureError(f"a cosignature names '{name}' ({kind.__name__})")
    return signature.kid, claims


def verify_cosignature(
    text: str, keys: Mapping[str, PublicJwk], *, witness_id: str, hub_id: str, seen: Seen
) -> Cosigned:
    """The cosignature, if one of the witness's `keys` signed exactly this checkpoint of this hub."""
    kid, claims = read_cosignature(text)
    if claims["iss"] != witness_id or claims["aud"] != hub_id:
        raise CosignatureError(f"the cosignature is not by {witness_id!r} for hub {hub_id!r}")
    if claims["tree_size"] != seen.tree_size or claims["root_hash"] != seen.root_hash:
        raise CosignatureError("the cosignature is of another checkpoint")
    key = keys.get(kid)
    if key is None:
        raise CosignatureError(f"the cosignature's key {kid!r} is not a trusted key of {witness_id!r}")
    try:
        jws = parse_jws(text)
        verify_signature(jws, jws.signatures[0], key)
    except JoseError:
        raise CosignatureError("the cosignature's signature does not verify") from None
    return Cosigned(witness_id, kid, seen.tree_size, seen.root_hash, int(str(claims["iat"])))
