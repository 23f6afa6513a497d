"""Verifying an evidence bundle offline: the trust roots, read at the edge, and the ZIP.

The hub's keys never come from the bundle alone. The caller names one root:
- `trust_from_fingerprints`: RFC 7638 thumbprints of the hub's signing keys, as its operator
  published them (read aloud, printed in a letter, on a web page); only a bundled key that has one is used;
- `trust_from_jwks`: the hub's JWK Set, from a file (kept from earlier) or fetched from its URL
  (`https://<hub>/.well-known/jwks.json`) with `read_jwks_source`;
- `trust_from_log_state`: the hub keys a log monitor pinned (`hub keys check-log --state FILE`), the
  checkpoints it checked having been signed with them;
- `trust_from_audit_log`: the hub's own audit log and the key in its key file (for the operator, or a
  court expert with access to the hub): the log must verify, and the bundle's checkpoint and audit
  entries must be the log's own.
The checks themselves are pure: `hub/core/bundle_verify.py`.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from hub.core import inputs
from hub.core.audit_verify import verify_log
from hub.core.bundle_verify import BundleReport, TrustRoot, public_keys, signed_claims, verify_files
from hub.core.jose import JoseError, PublicJwk
from hub.evidence.files import unpack
from hub.store import audit
from hub.store.database import Conn

MAX_JWKS_BYTES = 1024 * 1024
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
_FINGERPRINT = re.compile(r"^[A-Za-z0-9_-]{43}$")


class TrustRootError(ValueError):
    """The trust root named cannot be used (one line, for the command line)."""


def verify_bundle(data: bytes, root: TrustRoot) -> BundleReport:
    """Check a bundle's bytes against a trust root (BundleFormatError if it is no bundle at all)."""
    return verify_files(unpack(data), root)


def trust_from_fingerprints(fingerprints: Sequence[str]) -> TrustRoot:
    cleaned = [f.strip().removeprefix("sha256:").removeprefix("SHA256:") for f in fingerprints]
    for fingerprint in cleaned:
        if not _FINGERPRINT.match(fingerprint):
            raise TrustRootError(
                f"{fingerprint[:60]!r} is not a key fingerprint (an RFC 7638 SHA-256 thumbprint, base64url)"
            )
    return TrustRoot(source=f"pinned fingerprint {', '.join(cleaned)}", fingerprints=frozenset(cleaned))


def trust_from_log_state(document: bytes, where: str) -> TrustRoot:
    """The hub keys a log monitor pinned (`hub keys check-log --state FILE`: the thumbprints of the keys
    that signed the checkpoints it checked, kept from its first run) as the root."""
    try:
        state = inputs.loads(document, what="the log state")
        pinned = [str(t) for t in state["hub_keys"]]
    except (ValueError, KeyError, TypeError):
        raise TrustRootError(f"{where} is not a state file of hub keys check-log") from None
    if not pinned:
        raise TrustRootError(f"{where} pins no hub key")
    root = trust_from_fingerprints(pinned)
    hub_id = str(state.get("hub_id", "?"))[:60]
    return TrustRoot(
        source=f"the keys of hub {hub_id} your log monitor pinned ({where})", fingerprints=root.fingerprints
    )


def trust_from_keys(keys: Sequence[PublicJwk], source: str) -> TrustRoot:
    return TrustRoot(source=source, keys={k.kid: k for k in keys})


def trust_from_jwks(document: bytes, where: str) -> TrustRoot:
    try:
        keys = public_keys(inputs.loads(document, what="the JWK Set"))
    except (ValueError, JoseError) as exc:
        raise TrustRootError(f"{where} is not the hub's JWK Set: {exc}") from None
    if not keys:
        raise TrustRootError(f"{where} holds no Ed25519 signing key")
    return trust_from_keys(list(keys.values()), f"JWK Set {where}")


def read_jwks_source(source: str, timeout: float = 10.0) -> bytes:
    """A JWK Set from a file, or from an https URL (plain http only to this machine), at most 1 MiB: a
    key set fetched over plain http from elsewhere is whatever the network path wants it to be."""
    if source.startswith("http://") and urllib.parse.urlsplit(source).hostname not in LOCAL_HOSTS:
        raise TrustRootError(
            f"fetch the hub's keys over https, not {source[:80]}: plain http is open to the network path"
        )
    if source.startswith(("https://", "http://")):
        try:
            with urllib.request.urlopen(source, timeout=timeout) as answer:  # noqa: S310 (http(s) only)
                body: bytes = answer.read(MAX_JWKS_BYTES + 1)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise TrustRootError(f"cannot fetch {source}: {getattr(exc, 'reason', exc)}") from None
        if len(body) > MAX_JWKS_BYTES:
            raise TrustRootError(f"{source} answered more than a JWK Set")
        return body
    try:
        return Path(source).read_bytes()[: MAX_JWKS_BYTES + 1]
    except OSError as exc:
        raise TrustRootError(f"cannot read {source}: {exc.strerror or exc.__class__.__name__}") from None


async def trust_from_audit_log(conn: Conn, key: PublicJwk, where: str) -> TrustRoot:
    """The hub's own log as the root: it must verify with the key of its key file (not a key in the
    database), and a bundle must then carry one of its checkpoints and entries equal to its leaves."""
    keys = {key.kid: key}
    entries, checkpoints, pending = await audit.load_log(conn)

    def read(signed: str) -> dict[str, object] | None:
        try:
            return signed_claims(signed.encode(), keys, "the checkpoint")
        except (JoseError, ValueError):
            return None

    report = verify_log(
        [dict(e.items()) for e in entries], [dict(c.items()) for c in checkpoints], read, pending
    )
    if report.fault is not None:
        raise TrustRootError(
            f"the hub's own audit log does not verify ({report.fault.kind}): run 'hub audit verify'"
        )
    return TrustRoot(
        source=f"the hub's audit log ({where}; key {key.kid})",
        keys=keys,
        log_leaves={int(e["leaf_index"]): bytes(e["leaf_hash"]) for e in entries},
        log_checkpoints=frozenset(str(c["checkpoint"]) for c in checkpoints),
    )
