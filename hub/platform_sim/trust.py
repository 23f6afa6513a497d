"""What the simulated platform trusts, and how it checks a delivery before taking it.

Two things come from the hub, fetched over its public API and never configured by hand:

- the hub's signing key (`GET /.well-known/jwks.json`): it verifies the hub's bearer token on a webhook
  call (`iss` the hub, `aud` this platform, not expired, each `jti` used once) and the hub's receipt
  on every message;
- the sender's keys (`GET /v1/participants/{id}`): they verify the sender's signature on the message.

A delivery that fails a check is refused (`UnauthorisedError`: the caller is not the hub;
`VerificationError`: the message is not what it claims). A hub that cannot be asked right now is
`HubUnavailableError`: the delivery is neither taken nor refused, so the hub tries again later.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import aiohttp

from hub.client import HubClient, HubError
from hub.client.verify import VerificationError, verify_inbox_item
from hub.core.jose import JoseError, PublicJwk, check_claims, read_token, verify_signature
from hub.platform_sim.answers import Referral

T = TypeVar("T")
KEY_REFRESH_SECONDS = 60.0  # an unknown kid refetches the hub's keys at most this often
_PARTICIPANT_ID = re.compile(r"[a-z0-9][a-z0-9._-]{1,62}")
_ITEM_FIELDS = ("message_id", "case_id", "from", "type", "message", "receipt")

__all__ = ["HubTrust", "HubUnavailableError", "UnauthorisedError", "VerificationError"]


class UnauthorisedError(Exception):
    """The webhook call does not carry a valid bearer token from the hub for this platform."""


class HubUnavailableError(Exception):
    """The hub could not be asked for a key: try the delivery again later."""


class _NotFoundError(HubUnavailableError):
    """The hub answered 404: unavailable when asking for its own keys, unknown when asking for a sender."""


class HubTrust:
    def __init__(
        self, client: HubClient, platform_id: str, *, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._platform = platform_id
        self._now = wall_clock
        self._hub_jwks: dict[str, Any] | None = None
        self._fetched_at = float("-inf")
        self._spent: dict[str, int] = {}  # token id -> when it may be forgotten: good for one call

    async def check_bearer(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise UnauthorisedError("no bearer token")
        now = int(self._now())
        try:
            jws, claims = read_token(token.strip())
            key = await self._hub_key(jws.signatures[0].kid)
            verify_signature(jws, jws.signatures[0], key)
            accepted = check_claims(jws, claims, audience=self._platform, now=now)
        except JoseError as exc:
            raise UnauthorisedError(str(exc)) from None
        if accepted.issuer != await self._hub_id():
            raise UnauthorisedError("the token was not issued by the hub")
        self._spent = {jti: until for jti, until in self._spent.items() if until > now}
        if accepted.token_id in self._spent:
            raise UnauthorisedError("the token was used before")
        self._spent[accepted.token_id] = accepted.remember_until  # as long as check_claims accepts it

    async def verify(self, item: Mapping[str, Any]) -> Referral:
        """Check a delivered message (webhook body or inbox item) as its recipient must."""
        for name in _ITEM_FIELDS:
            if not isinstance(item.get(name), str):
                raise VerificationError(f"the delivery has no '{name}'")
        sender = str(item["from"])
        if not _PARTICIPANT_ID.fullmatch(sender):
            raise VerificationError("the sender is not a participant id")
        try:
            sender_jwks = (await _ask(self._client.participant(sender)))["jwks"]
        except _NotFoundError:
            raise VerificationError(f"the hub's directory has no participant '{sender}'") from None
        verified = verify_inbox_item(item, sender_jwks, await self._jwks(refresh=False))
        envelope, receipt = verified.envelope, verified.receipt
        if (
            envelope.get("id") != item["message_id"]
            or envelope.get("type") != item["type"]
            or receipt.get("case_id") != item["case_id"]
            or receipt.get("iss") != await self._hub_id()
        ):
            raise VerificationError("the delivery, its message and the hub's receipt disagree")
        if self._platform not in receipt.get("to", []):
            raise VerificationError("the message is not addressed to this platform")
        return Referral(str(item["message_id"]), str(item["case_id"]), sender, str(item["type"]))

    async def _hub_key(self, kid: str) -> PublicJwk:
        for refresh in (False, True):
            for candidate in (await self._jwks(refresh=refresh)).get("keys", []):
                if candidate.get("kid") == kid:
                    return PublicJwk.from_dict({k: candidate[k] for k in ("kty", "crv", "x", "kid")})
        raise UnauthorisedError("the token is not signed with a key of the hub")

    async def _jwks(self, *, refresh: bool) -> dict[str, Any]:
        """The hub's key set, fetched once and again on an unknown kid (not more than once a minute,
        so forged tokens cannot make the platform hammer the hub)."""
        stale = refresh and self._now() - self._fetched_at >= KEY_REFRESH_SECONDS
        if self._hub_jwks is None or stale:
            self._hub_jwks = await _ask(self._client.hub_jwks())
            self._fetched_at = self._now()
        return self._hub_jwks

    async def _hub_id(self) -> str:
        return await _ask(self._client.hub_id())


async def _ask(call: Awaitable[T]) -> T:
    """A call to the hub: what fails is unavailability, except a 404, which says the thing is not there."""
    try:
        return await call
    except HubError as exc:
        if exc.status == 404:
            raise _NotFoundError from None
        raise HubUnavailableError(f"the hub answered {exc.status}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise HubUnavailableError(f"cannot reach the hub: {exc.__class__.__name__}") from None
