"""Hub: forward a message to the recipient's home hub, a peer (docs/federation.md, section 4).

A participant of a peer hub (global id `<local>@<peer>`, mirrored from the peer's vouching feed) is
reached through that peer: `POST <peer endpoint>/v1/federation/messages` with a bearer token this hub
signs (`iss` this hub, `aud` the peer), `Idempotency-Key` the message id, and the body
`{"message": <the exact signed form>, "receipt": <this hub's receipt>}`. The sender's signature travels
untouched; the peer checks it against the keys it mirrored from this hub's feed.

Only a receipt of the peer that verifies (signed by a key of the peer in this hub's directory, `iss` the
peer, naming the message's id and payload digest: `hub.core.receipt.verify_receipt`) makes the
forwarding delivered; the receipt goes back with the outcome (`hop_receipt`) and onto the case as
`message.forwarded`. A 2xx whose receipt does not verify is no delivery: the destination's attention
path (retried, then parked for an operator). Other statuses are classified as a webhook's
(`hub.core.delivery_outcome.classify_http`), so retries back off by `hub.core.retry` per destination.
The endpoint is never logged or put in a detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp

from adapters.base import AdapterConfigError, AdapterContext, Destination, OutboundMessage, no_extra_keys
from adapters.webhook import MAX_RESPONSE_BYTES, usable_url
from hub.core import inputs
from hub.core.delivery_outcome import DeliveryOutcome, Verdict, classify_http
from hub.core.global_id import home_hub_of
from hub.core.jose import issue_token
from hub.core.receipt import ReceiptError, verify_receipt

PATH = "/v1/federation/messages"
USER_AGENT = "referral-hub/0.1 (+federation)"


@dataclass(frozen=True)
class HubConfig:
    url: str  # the peer's base URL: its directory entry's endpoint
    timeout_seconds: float = 10.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], endpoint: str | None) -> HubConfig:
        no_extra_keys(data, {"timeout_seconds"})
        if not isinstance(endpoint, str) or not usable_url(endpoint):
            raise AdapterConfigError(
                "a peer hub needs an http(s) endpoint URL with a host (and a valid port)"
            )
        timeout = data.get("timeout_seconds", 10.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0.1 <= timeout <= 120:
            raise AdapterConfigError("timeout_seconds must be a number from 0.1 to 120")
        return cls(url=endpoint.rstrip("/"), timeout_seconds=float(timeout))


class HubAdapter:
    name: ClassVar[str] = "hub"
    config_type: ClassVar[type[HubConfig]] = HubConfig
    pushes: ClassVar[bool] = True

    def __init__(self, context: AdapterContext) -> None:
        self._context = context

    async def deliver(self, message: OutboundMessage, destination: Destination) -> DeliveryOutcome:
        peer = home_hub_of(destination.participant_id)
        if peer is None:
            return DeliveryOutcome(Verdict.ATTENTION, "configuration: the recipient is no peer's participant")
        try:
            config = HubConfig.from_mapping(destination.config, destination.endpoint)
        except AdapterConfigError as exc:
            return DeliveryOutcome(Verdict.ATTENTION, f"configuration: {exc}")
        token = issue_token(
            self._context.hub.key,
            issuer=self._context.hub.hub_id,
            audience=peer,
            now=int(self._context.clock().timestamp()),
            lifetime=300,
        )
        headers = {
            "Idempotency-Key": str(message.message_id),
            "Authorization": f"Bearer {token}",
            "User-Agent": USER_AGENT,
        }
        body = {"message": message.signed_form, "receipt": message.receipt}
        try:
            return await self._post(config, headers, body, message, peer)
        except TimeoutError:
            return DeliveryOutcome(Verdict.RETRY, "timed out")
        except aiohttp.ClientError as exc:
            return DeliveryOutcome(Verdict.RETRY, f"connection failed: {exc.__class__.__name__}")

    async def _post(
        self,
        config: HubConfig,
        headers: dict[str, str],
        body: dict[str, str],
        message: OutboundMessage,
        peer: str,
    ) -> DeliveryOutcome:
        timeout = aiohttp.ClientTimeout(total=config.timeout_seconds)
        async with self._context.session.post(
            config.url + PATH, json=body, headers=headers, timeout=timeout, allow_redirects=False
        ) as response:
            content = await response.content.read(MAX_RESPONSE_BYTES)
            verdict, retry_after = classify_http(
                response.status, response.headers.get("Retry-After"), self._context.clock()
            )
            detail = f"HTTP {response.status}"
            if verdict is not Verdict.DELIVERED:
                return DeliveryOutcome(verdict, detail, http_status=response.status, retry_after=retry_after)
            try:
                receipt = await self._verified_receipt(content, message, peer)
            except ReceiptError as exc:
                return DeliveryOutcome(
                    Verdict.ATTENTION,
                    f"{detail}, but the peer's receipt is no proof: {exc}",
                    http_status=response.status,
                )
            return DeliveryOutcome(verdict, detail, http_status=response.status, hop_receipt=receipt)

    async def _verified_receipt(self, content: bytes, message: OutboundMessage, peer: str) -> str:
        try:
            answer = inputs.loads(content, what="the peer's answer")
        except inputs.JsonFault as fault:
            raise ReceiptError(str(fault)) from None
        receipt = answer.get("receipt") if isinstance(answer, dict) else None
        if not isinstance(receipt, str):
            raise ReceiptError("the answer carries no receipt")
        keys = await self._context.peer_keys(peer) if self._context.peer_keys is not None else ()
        verify_receipt(
            receipt,
            issuer=peer,
            keys=keys,
            message_id=message.message_id,
            payload_sha256=message.payload_sha256,
        )
        return receipt
