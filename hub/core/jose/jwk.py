"""OKP keys as JWKs (RFC 7517, RFC 8037): Ed25519 for signing, X25519 for sealing.

Participants publish their keys in the directory as public JWKs; the hub keeps its own signing key as a
private JWK file. Parsing is strict because a key is trust: a public JWK that carries ``d`` is refused
(someone is about to publish a private key), a private JWK whose ``x`` does not match ``d`` is refused,
and ``use``/``alg`` must agree with the curve. A key without a ``kid`` is named by its RFC 7638
thumbprint, which is stable across tools. Private key material never appears in ``repr`` or in errors.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import nacl.exceptions
import nacl.public
import nacl.signing

from hub.core.jose.base64url import b64url_decode, b64url_encode
from hub.core.jose.errors import BadSignatureError, InvalidJwkError, MalformedJwsError

ED25519 = "Ed25519"
X25519 = "X25519"
_USE = {ED25519: "sig", X25519: "enc"}
_KEY_LENGTH = 32
_SIGNATURE_LENGTH = 64


def _okp_thumbprint(crv: str, x: bytes) -> str:
    # RFC 7638 section 3.2: required members only, sorted, no whitespace.
    members = {"crv": crv, "kty": "OKP", "x": b64url_encode(x)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("ascii")
    return b64url_encode(hashlib.sha256(canonical).digest())


def _check_kid(kid: object) -> None:
    if not isinstance(kid, str) or not kid:
        raise InvalidJwkError("a key's kid must be a non-empty string")


def _check_raw_key(value: object, name: str) -> None:
    if not isinstance(value, bytes) or len(value) != _KEY_LENGTH:
        raise InvalidJwkError(f"the key's {name} must be exactly {_KEY_LENGTH} bytes")


def _as_mapping(data: object) -> Mapping[str, object]:
    if not isinstance(data, Mapping):
        raise InvalidJwkError("a JWK must be a JSON object")
    return data


def _read_curve(data: Mapping[str, object], allowed: tuple[str, ...]) -> str:
    kty = data.get("kty")
    if kty != "OKP":
        raise InvalidJwkError(f"unsupported JWK kty {_short(kty)}; only OKP keys are accepted")
    crv = data.get("crv")
    if not isinstance(crv, str) or crv not in allowed:
        raise InvalidJwkError(f"unsupported JWK crv {_short(crv)}; expected {' or '.join(allowed)}")
    use = data.get("use")
    if use is not None and use != _USE[crv]:
        raise InvalidJwkError(f"an {crv} key must have use {_USE[crv]!r}, not {_short(use)}")
    alg = data.get("alg")
    if crv == ED25519 and alg is not None and alg != "EdDSA":
        raise InvalidJwkError(f"an Ed25519 key must have alg 'EdDSA', not {_short(alg)}")
    return crv


def _read_bytes(data: Mapping[str, object], name: str) -> bytes:
    value = data.get(name)
    if not isinstance(value, str):
        raise InvalidJwkError(f"the JWK has no {name!r} string")
    try:
        raw = b64url_decode(value, what=f"the JWK's {name!r}")
    except MalformedJwsError as exc:
        raise InvalidJwkError(str(exc)) from None
    if len(raw) != _KEY_LENGTH:
        raise InvalidJwkError(f"the JWK's {name!r} must be {_KEY_LENGTH} bytes, not {len(raw)}")
    return raw


def _read_kid(data: Mapping[str, object], crv: str, x: bytes) -> str:
    kid = data.get("kid")
    if kid is None or kid == "":
        return _okp_thumbprint(crv, x)
    if not isinstance(kid, str):
        raise InvalidJwkError("the JWK's kid must be a string")
    return kid


def _check_private_x(data: Mapping[str, object], derived_x: bytes) -> None:
    if "x" in data and _read_bytes(data, "x") != derived_x:
        raise InvalidJwkError("the private JWK's 'x' does not match its 'd'")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class PublicJwk:
    """A public OKP key: Ed25519 (verifies signatures) or X25519 (receives sealed data)."""

    kid: str
    crv: str
    x: bytes

    def __post_init__(self) -> None:
        _check_kid(self.kid)
        if self.crv not in _USE:
            raise InvalidJwkError(f"unsupported crv {_short(self.crv)}; expected Ed25519 or X25519")
        _check_raw_key(self.x, "public key")

    @property
    def use(self) -> str:
        return _USE[self.crv]

    def to_dict(self) -> dict[str, str]:
        out = {"kty": "OKP", "crv": self.crv, "x": b64url_encode(self.x), "kid": self.kid, "use": self.use}
        if self.crv == ED25519:
            out["alg"] = "EdDSA"
        return out

    @classmethod
    def from_dict(cls, data: object) -> PublicJwk:
        jwk = _as_mapping(data)
        if "d" in jwk:
            raise InvalidJwkError("a public JWK was expected but this one carries private key material ('d')")
        crv = _read_curve(jwk, (ED25519, X25519))
        x = _read_bytes(jwk, "x")
        return cls(kid=_read_kid(jwk, crv, x), crv=crv, x=x)

    def thumbprint(self) -> str:
        """The RFC 7638 SHA-256 thumbprint, base64url."""
        return _okp_thumbprint(self.crv, self.x)


@dataclass(frozen=True)
class PrivateSigningJwk:
    """An Ed25519 private key; ``seed`` is the 32-byte RFC 8032 private key (JWK ``d``)."""

    kid: str
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_kid(self.kid)
        _check_raw_key(self.seed, "private key")

    @cached_property
    def _signing_key(self) -> nacl.signing.SigningKey:
        return nacl.signing.SigningKey(self.seed)

    @classmethod
    def generate(cls, kid: str | None = None) -> PrivateSigningJwk:
        seed = bytes(nacl.signing.SigningKey.generate())
        if kid is None:
            x = bytes(nacl.signing.SigningKey(seed).verify_key)
            kid = _okp_thumbprint(ED25519, x)
        return cls(kid=kid, seed=seed)

    @classmethod
    def from_dict(cls, data: object) -> PrivateSigningJwk:
        jwk = _as_mapping(data)
        _read_curve(jwk, (ED25519,))
        seed = _read_bytes(jwk, "d")
        x = bytes(nacl.signing.SigningKey(seed).verify_key)
        _check_private_x(jwk, x)
        return cls(kid=_read_kid(jwk, ED25519, x), seed=seed)

    def to_dict(self) -> dict[str, str]:
        return {**self.public().to_dict(), "d": b64url_encode(self.seed)}

    def public(self) -> PublicJwk:
        return PublicJwk(kid=self.kid, crv=ED25519, x=bytes(self._signing_key.verify_key))

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data``."""
        return bytes(self._signing_key.sign(data).signature)


@dataclass(frozen=True)
class PrivateEncryptionJwk:
    """An X25519 private key (JWK ``d``), used to open sealed boxes."""

    kid: str
    d: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_kid(self.kid)
        _check_raw_key(self.d, "private key")

    @classmethod
    def generate(cls, kid: str | None = None) -> PrivateEncryptionJwk:
        d = bytes(nacl.public.PrivateKey.generate())
        if kid is None:
            kid = _okp_thumbprint(X25519, bytes(nacl.public.PrivateKey(d).public_key))
        return cls(kid=kid, d=d)

    @classmethod
    def from_dict(cls, data: object) -> PrivateEncryptionJwk:
        jwk = _as_mapping(data)
        _read_curve(jwk, (X25519,))
        d = _read_bytes(jwk, "d")
        x = bytes(nacl.public.PrivateKey(d).public_key)
        _check_private_x(jwk, x)
        return cls(kid=_read_kid(jwk, X25519, x), d=d)

    def to_dict(self) -> dict[str, str]:
        return {**self.public().to_dict(), "d": b64url_encode(self.d)}

    def public(self) -> PublicJwk:
        return PublicJwk(kid=self.kid, crv=X25519, x=bytes(nacl.public.PrivateKey(self.d).public_key))


def load_private_jwk(data: object) -> PrivateSigningJwk | PrivateEncryptionJwk:
    """Load a private OKP JWK, choosing the class by ``crv``."""
    jwk = _as_mapping(data)
    if "d" not in jwk:
        raise InvalidJwkError("a private JWK was expected but this one has no 'd'")
    crv = _read_curve(jwk, (ED25519, X25519))
    if crv == ED25519:
        return PrivateSigningJwk.from_dict(jwk)
    return PrivateEncryptionJwk.from_dict(jwk)


def verify_ed25519(public: PublicJwk, message: bytes, signature: bytes) -> None:
    """Raise ``BadSignatureError`` unless ``signature`` is ``public``'s Ed25519 signature of ``message``."""
    if public.crv != ED25519:
        raise BadSignatureError(f"key {_short(public.kid)} is an {public.crv} key; it cannot verify")
    if len(signature) != _SIGNATURE_LENGTH:
        raise BadSignatureError(f"an Ed25519 signature is {_SIGNATURE_LENGTH} bytes, not {len(signature)}")
    try:
        nacl.signing.VerifyKey(public.x).verify(message, signature)
    except nacl.exceptions.BadSignatureError:
        raise BadSignatureError(f"the signature does not verify with key {_short(public.kid)}") from None
