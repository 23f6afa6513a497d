"""The hub as a party to its own records: its id, its signing key, and the name it has on timelines.

One small object, made once when the hub starts (`hub.api.app`, from `HUB_ID` and the key file) and
handed explicitly to whatever signs or acts for the hub: intake (receipts), the issuer (escalations and
hub-attested answers), the delivery worker and the inbox (delivery evidence), mail-in (the tags of
reply addresses), the clock worker (timeline events). Nothing reads the hub's key off another object.

`actor` is the name timeline events the hub records on its own account carry (a deadline started or
breached, a delivery dead-lettered); messages the hub issues carry its id in `from`, like any sender's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.core.jose import PrivateSigningJwk, sign_compact

TIMELINE_ACTOR = "hub"


@dataclass(frozen=True)
class HubIdentity:
    hub_id: str
    key: PrivateSigningJwk

    @property
    def kid(self) -> str:
        return self.key.kid

    @property
    def actor(self) -> str:
        """The actor of the timeline events the hub records on its own account."""
        return TIMELINE_ACTOR

    def public_jwk(self) -> dict[str, Any]:
        return self.key.public().to_dict()

    def sign(self, payload: bytes) -> str:
        """A compact JWS over exact payload bytes, its protected header naming the hub's key."""
        return sign_compact(payload, self.key)
