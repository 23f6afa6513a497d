"""Errors raised by the JOSE core.

Every error's message is a short, specific sentence that can be shown to the participant who sent the
input (it ends up in an RFC 9457 problem ``detail``), so it names what was wrong and never carries key
material. Callers catch ``JoseError`` to handle all of them, or a subclass to map it to a specific
problem type. ``fault``, when set, is the specific problem type of a refusal the hub reports on its
own (a JSON profile violation of ``hub.core.inputs``, an embedded key, unprotected content); when it is
``None`` the caller reports its own general type (a malformed JWS, an invalid token).
"""

from __future__ import annotations


class JoseError(Exception):
    """Base class for every error of the JOSE core and of sealing."""

    def __init__(self, message: str, *, fault: str | None = None) -> None:
        super().__init__(message)
        self.fault = fault


class MalformedJwsError(JoseError):
    """The JWS (or one of its base64url parts) is not in a form the hub accepts."""


class BadSignatureError(JoseError):
    """A signature does not verify with the key it was checked against."""


class InvalidJwkError(JoseError):
    """A JWK is not a valid OKP key of the kind expected (or carries what it must not)."""


class InvalidTokenError(JoseError):
    """A bearer token is malformed or its claims are not acceptable."""
