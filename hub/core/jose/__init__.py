"""The pure JOSE core of the hub: strict base64url, OKP JWKs, EdDSA JWS and bearer JWTs.

No I/O happens here: callers fetch keys from the directory and clocks from the world, and pass them in.
Everything the hub accepts from participants passes through these parsers, so they are narrow on
purpose (see ``jws``), and every refusal is a ``JoseError`` with a specific, shareable reason.
"""

from __future__ import annotations

from hub.core.jose.base64url import b64url_decode, b64url_encode
from hub.core.jose.errors import (
    BadSignatureError,
    InvalidJwkError,
    InvalidTokenError,
    JoseError,
    MalformedJwsError,
)
from hub.core.jose.jwk import (
    PrivateEncryptionJwk,
    PrivateSigningJwk,
    PublicJwk,
    load_private_jwk,
    verify_ed25519,
)
from hub.core.jose.jws import (
    JwsSignature,
    ParsedJws,
    check_all_signed,
    parse_jws,
    sha256_hex,
    sign_compact,
    verify_signature,
)
from hub.core.jose.jwt import MAX_TOKEN_LIFETIME, TokenClaims, check_claims, issue_token, read_token

__all__ = [
    "MAX_TOKEN_LIFETIME",
    "BadSignatureError",
    "InvalidJwkError",
    "InvalidTokenError",
    "JoseError",
    "JwsSignature",
    "MalformedJwsError",
    "ParsedJws",
    "PrivateEncryptionJwk",
    "PrivateSigningJwk",
    "PublicJwk",
    "TokenClaims",
    "b64url_decode",
    "b64url_encode",
    "check_all_signed",
    "check_claims",
    "issue_token",
    "load_private_jwk",
    "parse_jws",
    "read_token",
    "sha256_hex",
    "sign_compact",
    "verify_ed25519",
    "verify_signature",
]
