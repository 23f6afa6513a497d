"""Which of a participant's listed keys a client may trust: only those its participant bound.

The directory lists each key with how it entered (`origin`), the participant's identity number
(`epoch`, one more after each reset) and, for a key added later, the participant's signed binding
(`hub.core.binding`). A key is trusted when it is the root of its epoch (its `registration`, whose
fingerprint the operator checked out of band, or the `reset` that started a new identity), or when
its binding verifies with a signing key trusted before it in the same epoch and binds exactly this
key. Anything else (a key the operator or an intruder with the database added, a key registered
before bindings existed and never bound since) is refused, with the reason. Keys are read in the
order the directory added them, which the hub gives; a reordering can only refuse more.

The hub applies the same rule when it takes a binding (`hub.services.bindings`); clients apply it
again to what the directory shows them, because they need not trust the hub's database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.core.binding import BindingError, read_binding, verify_binding
from hub.core.jose import JoseError, PublicJwk
from hub.core.wording import Phrase

ROOT_ORIGINS = ("registration", "reset")

# Why a key is refused: the English is the catalogue's key (hub.core.wording), said with its values.
UNUSABLE = "not a usable public key: {error}"
NO_EPOCH = "the directory gives it no identity number (epoch)"
SECOND_ROOT = "a second root of identity {epoch}: roots are registered signing keys"
NOT_BOUND = (
    "not bound by {participant}'s own signing key (added by the operator, or before bindings; its "
    "participant must sign a binding: hub keys bind)"
)
NO_BINDING = "listed as bound, but the directory shows no binding"
NO_ROOT = "bound in identity {epoch}, which has no registered root key"
UNTRUSTED_SIGNER = "its binding is signed by {signer}, which is not a trusted key of {participant}"
NOT_VERIFIED = "its binding does not verify: {error}"
OTHER_KEY = "its binding binds another key"
REASONS = (
    UNUSABLE,
    NO_EPOCH,
    SECOND_ROOT,
    NOT_BOUND,
    NO_BINDING,
    NO_ROOT,
    UNTRUSTED_SIGNER,
    NOT_VERIFIED,
    OTHER_KEY,
)


@dataclass(frozen=True)
class Chain:
    epoch: int
    root: str | None  # RFC 7638 thumbprint of the current identity's root key
    trusted: dict[str, PublicJwk] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # kid -> why it is not trusted
    reasons: dict[str, Phrase] = field(default_factory=dict)  # kid -> the same, to be said in a language


def listed_key(listed: Mapping[str, Any]) -> PublicJwk:
    """The public key of a directory listing's key entry (its other members are the hub's notes)."""
    return PublicJwk.from_dict({k: listed[k] for k in ("kty", "crv", "x", "kid") if k in listed})


def key_chain(participant_id: str, hub_id: str, listed: Sequence[Mapping[str, Any]]) -> Chain:
    """The trusted and refused keys among `listed` (a directory entry's `jwks.keys`, in order)."""
    epochs = [int(k.get("epoch", 0)) for k in listed if isinstance(k.get("epoch", 0), int)]
    current = max(epochs, default=0)
    trusted: dict[str, PublicJwk] = {}
    refused: dict[str, Phrase] = {}
    roots: dict[int, PublicJwk] = {}
    for entry in listed:
        kid = str(entry.get("kid"))
        try:
            key = listed_key(entry)
        except JoseError as exc:
            refused[kid] = Phrase(UNUSABLE, {"error": exc})
            continue
        epoch = entry.get("epoch", 0)
        origin = entry.get("origin")
        if not isinstance(epoch, int):
            refused[kid] = Phrase(NO_EPOCH)
        elif origin in ROOT_ORIGINS:
            if epoch in roots or key.use != "sig":
                refused[kid] = Phrase(SECOND_ROOT, {"epoch": epoch})
            else:
                roots[epoch] = key
                trusted[kid] = key
        elif origin == "binding":
            reason = _bound(participant_id, hub_id, entry, key, epoch, trusted, roots)
            if reason is None:
                trusted[kid] = key
            else:
                refused[kid] = reason
        else:
            refused[kid] = Phrase(NOT_BOUND, {"participant": participant_id})
    root = roots.get(current)
    said = {kid: str(reason) for kid, reason in refused.items()}
    return Chain(current, None if root is None else root.thumbprint(), trusted, said, refused)


def _bound(
    participant_id: str,
    hub_id: str,
    entry: Mapping[str, Any],
    key: PublicJwk,
    epoch: int,
    trusted: Mapping[str, PublicJwk],
    roots: Mapping[int, PublicJwk],
) -> Phrase | None:
    """None if the entry's binding makes `key` trusted, else why not."""
    text = entry.get("binding")
    if not isinstance(text, str):
        return Phrase(NO_BINDING)
    if epoch not in roots:
        return Phrase(NO_ROOT, {"epoch": epoch})
    try:
        signer_kid = read_binding(text).signer_kid
        signer = trusted.get(signer_kid)
        if signer is None:
            return Phrase(UNTRUSTED_SIGNER, {"signer": repr(signer_kid), "participant": participant_id})
        binding = verify_binding(text, signer, participant_id=participant_id, hub_id=hub_id)
    except BindingError as exc:
        return Phrase(NOT_VERIFIED, {"error": exc})
    if binding.operation != "add-key" or binding.key != key:
        return Phrase(OTHER_KEY)
    return None


def trusted_jwks(participant_id: str, hub_id: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """A JWK Set of only the trusted keys, with `refused` naming the others and why (what
    `hub.client.verify` and `hub.client.sealing` read)."""
    listed = [k for k in jwks.get("keys", []) if isinstance(k, Mapping)]
    return chain_jwks(listed, key_chain(participant_id, hub_id, listed))


def chain_jwks(listed: Sequence[Mapping[str, Any]], chain: Chain) -> dict[str, Any]:
    """The listing cut down to the keys `chain` trusts, in the shape clients read (`trusted_jwks`)."""
    kept = [dict(k) for k in listed if str(k.get("kid")) in chain.trusted]
    refused = dict(chain.refused)
    refused_x25519 = [
        str(k.get("kid"))
        for k in listed
        if str(k.get("kid")) in refused and k.get("crv") == "X25519" and k.get("status", "active") == "active"
    ]
    return {
        "keys": kept,
        "refused": refused,
        "refused_encryption_keys": refused_x25519,
        "epoch": chain.epoch,
        "root": chain.root,
    }
