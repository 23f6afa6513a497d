"""Coop: deliver a message into a platform's ROOST Coop review queue, as a report through Coop's API.

Coop (github.com/roostorg/coop) is the open-source review tool a platform's moderators work in. Its
report API (`docs/api/report.md`; the route and its JSON Schema in `server/routes/reporting/
ReportingRoutes.ts`) is `POST <coop>/api/v1/report`, authenticated by the organisation's API key in
`X-API-KEY` (`docs/development/api-auth.md`, checked by `server/utils/apiKeyMiddleware.ts`), and answered
`201 {"reportId": ...}`. Each message the hub delivers becomes one report, exactly in that shape:

    {"reporter": {"kind": "user", "typeId": <reporter_type_id>, "id": <reporter_id>},
     "reportedAt": <when the hub accepted the message>,
     "reportedForReason": {"policyId": <policy_id, when set>, "reason": "<type> from <sender> ...",
                           "csam": false},
     "reportedItem": {"id": <message id>, "typeId": <item_type_id>, "data": {...}}}

`reportedItem.data` is the item every channel gives a recipient (`hub.core.recipient_item`: `message` is
the exact signed form, `receipt` the hub's signed receipt, the ids, sender, type, version and time), plus
what a reviewer needs on the review page: `urls` and `platform_item_ids` of the reported content (a
recipient's own service: the request was addressed to it). The item type the platform creates in Coop
for referrals declares those fields (docs/hash-exchange.md, "ROOST Coop"). `csam` is always false: the hub
refuses possible child sexual abuse material on this path. No `images` member: Coop would fetch and hash
the reported images, and the hub hands on hashes and URLs, never asks for images to be fetched.

The report's item id is the message id: Coop's action callbacks name it (`item.id`), and the hub takes
them as the platform's answer (`hub.services.coop_callbacks`, `POST /v1/coop/{participant_id}/actions`),
checked with the organisation's public key registered here (`signature_key`), the Coop actions mapped to
answers by `actions`.

The API key is a secret: it is never stored in the directory. The configuration names a file
(`api_key_file`, a mounted secret) read at each delivery, so a rotated key is picked up, as the SMTP
password is (`HUB_SMTP_PASSWORD_FILE`); it is never logged or put in a detail, and neither is the URL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import aiohttp

from adapters.base import AdapterConfigError, AdapterContext, Destination, OutboundMessage, no_extra_keys
from adapters.webhook import MAX_RESPONSE_BYTES, usable_url
from hub.core.attested_answer import ANSWERS
from hub.core.clock import rfc3339
from hub.core.coop_signature import CoopKeyError, load_coop_key
from hub.core.delivery_outcome import DeliveryOutcome, Verdict, classify_http
from hub.core.jose import parse_jws
from hub.core.recipient_item import recipient_item

REPORT_PATH = "/api/v1/report"
USER_AGENT = "referral-hub/0.1 (+coop)"
MAX_API_KEY_BYTES = 4096
_KEYS = {
    "url",
    "api_key_file",
    "item_type_id",
    "reporter_type_id",
    "reporter_id",
    "policy_id",
    "signature_key",
    "actions",
    "timeout_seconds",
}


def _text(data: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise AdapterConfigError(f"'{key}' must be a non-empty string (Coop's id, up to 200 characters)")
    return value


def _actions(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()
    ):
        raise AdapterConfigError("'actions' maps Coop action ids to answers (strings)")
    unknown = sorted({v for v in value.values() if v not in ANSWERS})
    if unknown:
        raise AdapterConfigError(f"'actions' answers must be {', '.join(sorted(ANSWERS))}; not {unknown}")
    return tuple(sorted(value.items()))


@dataclass(frozen=True)
class CoopConfig:
    url: str  # Coop's base URL: reports go to <url>/api/v1/report
    api_key_file: str  # the file holding the organisation's API key (a mounted secret)
    item_type_id: str  # the Coop item type of referrals
    reporter_type_id: str  # the Coop user item type, and the id, the hub reports as
    reporter_id: str
    policy_id: str | None = None  # the Coop policy reports are for (e.g. the platform's NCII policy)
    signature_key: str | None = None  # Coop's "Webhook Signature Verification Key" (PEM): for callbacks
    actions: tuple[tuple[str, str], ...] = ()  # Coop action id -> answer (hub.core.attested_answer)
    timeout_seconds: float = 10.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], endpoint: str | None) -> CoopConfig:
        no_extra_keys(data, _KEYS)
        url = data.get("url", endpoint)
        if not isinstance(url, str) or not usable_url(url):
            raise AdapterConfigError("Coop needs its http(s) base URL with a host (and a valid port)")
        key_file = data.get("api_key_file")
        if not isinstance(key_file, str) or not Path(key_file).is_absolute():
            raise AdapterConfigError("'api_key_file' must be the absolute path of Coop's API key file")
        signature_key = data.get("signature_key")
        if signature_key is not None:
            if not isinstance(signature_key, str):
                raise AdapterConfigError("'signature_key' must be Coop's PEM public key")
            try:
                load_coop_key(signature_key)
            except CoopKeyError as exc:
                raise AdapterConfigError(str(exc)) from None
        timeout = data.get("timeout_seconds", 10.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0.1 <= timeout <= 120:
            raise AdapterConfigError("timeout_seconds must be a number from 0.1 to 120")
        return cls(
            url=url.rstrip("/"),
            api_key_file=key_file,
            item_type_id=str(_text(data, "item_type_id")),
            reporter_type_id=str(_text(data, "reporter_type_id")),
            reporter_id=str(_text(data, "reporter_id")),
            policy_id=_text(data, "policy_id", required=False),
            signature_key=signature_key,
            actions=_actions(data.get("actions")),
            timeout_seconds=float(timeout),
        )

    @property
    def answers(self) -> dict[str, str]:
        return dict(self.actions)


def _locators(signed_form: str) -> tuple[list[str], list[str]]:
    """The URLs and platform item ids of the message's content items (none for other templates)."""
    try:
        payload = json.loads(parse_jws(signed_form).payload)
    except (ValueError, TypeError):
        return [], []
    body = payload.get("body") if isinstance(payload, dict) else None
    content = body.get("content") if isinstance(body, dict) else None
    items = [c for c in content if isinstance(c, dict)] if isinstance(content, list) else []
    urls = [c["url"] for c in items if isinstance(c.get("url"), str)]
    ids = [c["platform_item_id"] for c in items if isinstance(c.get("platform_item_id"), str)]
    return urls, ids


def coop_report(message: OutboundMessage, config: CoopConfig) -> dict[str, Any]:
    """The report, in the shape of Coop's `ReportItemInput` (`server/routes/reporting/ReportingRoutes.ts`)."""
    data = recipient_item(
        message_id=message.message_id,
        case_id=message.case_id,
        sender=message.sender,
        message_type=message.message_type,
        version=message.version,
        accepted_at=message.accepted_at,
        signed_form=message.signed_form,
        receipt=message.receipt,
    )
    data["urls"], data["platform_item_ids"] = _locators(message.signed_form)
    reason: dict[str, Any] = {
        "reason": f"{message.message_type} from {message.sender} (referral hub case {message.case_id})",
        "csam": False,
    }
    if config.policy_id is not None:
        reason = {"policyId": config.policy_id, **reason}
    return {
        "reporter": {"kind": "user", "typeId": config.reporter_type_id, "id": config.reporter_id},
        "reportedAt": rfc3339(message.accepted_at),
        "reportedForReason": reason,
        "reportedItem": {"id": str(message.message_id), "typeId": config.item_type_id, "data": data},
    }


def read_api_key(config: CoopConfig) -> str | None:
    """The API key, read from its file now (so a rotated key is picked up); None if it cannot be."""
    try:
        raw = Path(config.api_key_file).read_bytes()[: MAX_API_KEY_BYTES + 1]
    except OSError:
        return None
    key = raw.decode("utf-8", "replace").strip()
    if not key or len(raw) > MAX_API_KEY_BYTES or any(c in key for c in "\r\n"):
        return None
    return key


def _report_id(content: bytes) -> str:
    """Coop's `reportId` from its answer (for the operator to find the report in Coop), or '?'."""
    try:
        report_id = json.loads(content).get("reportId")
    except (ValueError, AttributeError):
        return "?"
    ok = isinstance(report_id, str) and 0 < len(report_id) <= 100 and report_id.isprintable()
    return report_id if ok else "?"


class CoopAdapter:
    name: ClassVar[str] = "coop"
    config_type: ClassVar[type[CoopConfig]] = CoopConfig
    pushes: ClassVar[bool] = True

    def __init__(self, context: AdapterContext) -> None:
        self._context = context

    async def deliver(self, message: OutboundMessage, destination: Destination) -> DeliveryOutcome:
        try:
            config = CoopConfig.from_mapping(destination.config, destination.endpoint)
        except AdapterConfigError as exc:
            return DeliveryOutcome(Verdict.ATTENTION, f"configuration: {exc}")
        api_key = read_api_key(config)
        if api_key is None:
            return DeliveryOutcome(Verdict.ATTENTION, "configuration: Coop's API key file cannot be read")
        headers = {"Content-Type": "application/json", "X-API-KEY": api_key, "User-Agent": USER_AGENT}
        body = json.dumps(coop_report(message, config), separators=(",", ":")).encode()
        try:
            return await self._post(config, headers, body)
        except TimeoutError:
            return DeliveryOutcome(Verdict.RETRY, "timed out")
        except aiohttp.ClientError as exc:
            return DeliveryOutcome(Verdict.RETRY, f"connection failed: {exc.__class__.__name__}")

    async def _post(self, config: CoopConfig, headers: dict[str, str], body: bytes) -> DeliveryOutcome:
        timeout = aiohttp.ClientTimeout(total=config.timeout_seconds)
        async with self._context.session.post(
            config.url + REPORT_PATH, data=body, headers=headers, timeout=timeout, allow_redirects=False
        ) as response:
            content = await response.content.read(MAX_RESPONSE_BYTES)
            verdict, retry_after = classify_http(
                response.status, response.headers.get("Retry-After"), self._context.clock()
            )
            detail = f"HTTP {response.status}"
            if verdict is Verdict.DELIVERED:
                detail = f"reported to Coop as report {_report_id(content)} (HTTP {response.status})"
            return DeliveryOutcome(
                verdict,
                detail,
                http_status=response.status,
                retry_after=retry_after,
                response_body=content,
                response_type=response.content_type,
            )
