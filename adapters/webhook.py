"""Webhook: POST the signed message and the hub's receipt to the recipient's HTTPS endpoint.

The body is the same JSON object a pull inbox returns for a message, made by the same function
(`hub.core.recipient_item`: `message` is the exact signed form, `receipt` the hub's signed receipt), so
one integration reads both. `Idempotency-Key` is the message id:
a recipient that gets a message twice (after a retry or a worker crash) drops the repeat. The hub
authenticates itself with a bearer token it signs for this recipient (`aud` = the recipient's id),
verifiable with the key at `/.well-known/jwks.json`.

2xx is delivered; a 2xx whose body is a JWS (`application/jose`) is also the recipient's signed answer,
which the worker hands on to be taken as if the recipient had posted it. Other statuses are classified by
`hub.core.delivery_outcome.classify_http`. The endpoint URL is never logged or put in a detail.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp
import yarl

from adapters.base import AdapterConfigError, AdapterContext, Destination, OutboundMessage, no_extra_keys
from hub.core.delivery_outcome import DeliveryOutcome, Verdict, classify_http
from hub.core.jose import issue_token
from hub.core.recipient_item import recipient_item

MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "referral-hub/0.1 (+webhook)"


def usable_url(url: str) -> bool:
    try:
        parsed = yarl.URL(url)
        return parsed.scheme in ("http", "https") and bool(parsed.host) and parsed.port is not None
    except (ValueError, TypeError):
        return False


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    timeout_seconds: float = 10.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], endpoint: str | None) -> WebhookConfig:
        no_extra_keys(data, {"url", "timeout_seconds"})
        url = data.get("url", endpoint)
        if not isinstance(url, str) or not usable_url(url):
            raise AdapterConfigError("a webhook needs an http(s) endpoint URL with a host (and a valid port)")
        timeout = data.get("timeout_seconds", 10.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0.1 <= timeout <= 120:
            raise AdapterConfigError("timeout_seconds must be a number from 0.1 to 120")
        return cls(url=url, timeout_seconds=float(timeout))

    @classmethod
    def from_destination(cls, destination: Destination) -> WebhookConfig:
        return cls.from_mapping(destination.config, destination.endpoint)


def webhook_body(message: OutboundMessage) -> bytes:
    """The body: the item a pull inbox lists for the same message (`hub.core.recipient_item`)."""
    item = recipient_item(
        message_id=message.message_id,
        case_id=message.case_id,
        sender=message.sender,
        message_type=message.message_type,
        version=message.version,
        accepted_at=message.accepted_at,
        signed_form=message.signed_form,
        receipt=message.receipt,
    )
    return json.dumps(item, separators=(",", ":")).encode()


class WebhookAdapter:
    name: ClassVar[str] = "webhook"
    config_type: ClassVar[type[WebhookConfig]] = WebhookConfig
    pushes: ClassVar[bool] = True

    def __init__(self, context: AdapterContext) -> None:
        self._context = context

    async def deliver(self, message: OutboundMessage, destination: Destination) -> DeliveryOutcome:
        try:
            config = WebhookConfig.from_destination(destination)
        except AdapterConfigError as exc:
            return DeliveryOutcome(Verdict.ATTENTION, f"configuration: {exc}")
        token = issue_token(
            self._context.hub.key,
            issuer=self._context.hub.hub_id,
            audience=destination.participant_id,
            now=int(time.time()),
            lifetime=300,
        )
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": str(message.message_id),
            "Authorization": f"Bearer {token}",
            "User-Agent": USER_AGENT,
        }
        try:
            return await self._post(config, headers, webhook_body(message))
        except TimeoutError:
            return DeliveryOutcome(Verdict.RETRY, "timed out")
        except aiohttp.ClientError as exc:
            return DeliveryOutcome(Verdict.RETRY, f"connection failed: {exc.__class__.__name__}")

    async def _post(self, config: WebhookConfig, headers: dict[str, str], body: bytes) -> DeliveryOutcome:
        timeout = aiohttp.ClientTimeout(total=config.timeout_seconds)
        async with self._context.session.post(
            config.url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        ) as response:
            content = await response.content.read(MAX_RESPONSE_BYTES)
            verdict, retry_after = classify_http(
                response.status, response.headers.get("Retry-After"), self._context.clock()
            )
            return DeliveryOutcome(
                verdict,
                f"HTTP {response.status}",
                http_status=response.status,
                retry_after=retry_after,
                response_body=content,
                response_type=response.content_type,
            )
