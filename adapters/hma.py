"""HMA: bank a referral's hashes straight into a platform's Hasher-Matcher-Actioner.

For a platform that runs Meta's open-source HMA (facebook/ThreatExchange, `hasher-matcher-actioner`) but
does not let it pull the hub's feed (`adapters.threatexchange`): the hub pushes instead. HMA's curation
API (`hasher-matcher-actioner/src/OpenMediaMatch/blueprints/curation.py` at baefb4ed, under its `/c`
prefix) takes, for one piece of content, its signals directly:

    POST <url>/c/bank/<bank>/signal
    {"<signal type>": "<value>", ...,  "note": "<at most 255 characters>"}

answered `{"id": <the bank content's id>, "signals": {...}}` (Flask's 200); `400` for a signal type the
HMA does not have or an invalid value (`_bank_add_signals`), `404` for a bank it does not have. Errors
are `{"message": ...}` (`utils/flask_utils.py`). HMA has no authentication of its own: it is reached on
the platform's network.

Each content item of a takedown request that carries hashes (`hub.core.signals.content_hashes`) becomes
one bank content, its hashes named as python-threatexchange and HMA name them
(`hub.core.signals.MATCHER_TYPE_NAMES`: `pdq`, `video_md5`, `video_sha256`), limited to the types the
configuration lists (`signal_types`, the ones the platform's HMA has enabled), with the note
`referral-hub <message id> item <n>` (never a URL). Delivered when every item is banked; the detail
records the bank content ids, which is what removing them later takes (`DELETE /c/bank/<bank>/content/<id>`).

What a bank cannot take, it is told plainly rather than dropped: a takedown request without a hash of an
enabled type, and any other message (a withdrawal, an escalation, a question) are **permanent**
failures, dead-lettered and visible to the operator and the sender: an HMA bank holds hashes, not
messages. A platform that must also read, answer or withdraw referrals takes them through its own
adapter (pull, webhook, e-mail, Coop); docs/hash-exchange.md says what is left (withdrawals reaching the
bank). A bank the HMA does not have (404) needs the operator (attention); 400 is permanent; 5xx, 429,
timeouts are retried, and a retry banks again the items banked before the failure (HMA has no
idempotency key: at worst a content is banked twice, with the same hashes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import aiohttp

from adapters.base import AdapterConfigError, AdapterContext, Destination, OutboundMessage, no_extra_keys
from adapters.webhook import MAX_RESPONSE_BYTES, usable_url
from hub.core.delivery_outcome import DeliveryOutcome, Verdict, classify_http
from hub.core.jose import parse_jws
from hub.core.signals import MATCHER_TYPE_NAMES, SIGNAL_ALGS, content_hashes

USER_AGENT = "referral-hub/0.1 (+hma)"
BANK_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")  # HMA's own rule (storage/postgres/database.py, _bank_name_ok)
NOTE_MAX = 255  # HMA's `_validate_note`


@dataclass(frozen=True)
class HmaConfig:
    url: str  # HMA's base URL (its API root, where /c/... lives)
    bank: str
    signal_types: tuple[str, ...] = SIGNAL_ALGS  # the hub's types the platform's HMA has enabled
    timeout_seconds: float = 10.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], endpoint: str | None) -> HmaConfig:
        no_extra_keys(data, {"url", "bank", "signal_types", "timeout_seconds"})
        url = data.get("url", endpoint)
        if not isinstance(url, str) or not usable_url(url):
            raise AdapterConfigError("HMA needs its http(s) base URL with a host (and a valid port)")
        bank = data.get("bank")
        if not isinstance(bank, str) or not BANK_NAME.fullmatch(bank) or len(bank) > 200:
            raise AdapterConfigError("'bank' must be an HMA bank name: UPPER_WITH_UNDERSCORE")
        types = data.get("signal_types", list(SIGNAL_ALGS))
        if (
            not isinstance(types, list)
            or not types
            or not all(isinstance(t, str) and t in SIGNAL_ALGS for t in types)
        ):
            raise AdapterConfigError(f"'signal_types' must list some of {', '.join(SIGNAL_ALGS)}")
        timeout = data.get("timeout_seconds", 10.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0.1 <= timeout <= 120:
            raise AdapterConfigError("timeout_seconds must be a number from 0.1 to 120")
        return cls(url.rstrip("/"), bank, tuple(dict.fromkeys(types)), float(timeout))

    @classmethod
    def from_destination(cls, destination: Destination) -> HmaConfig:
        return cls.from_mapping(destination.config, destination.endpoint)

    @property
    def signal_url(self) -> str:
        return f"{self.url}/c/bank/{self.bank}/signal"  # a bank name needs no escaping: [A-Z0-9_]


def bank_requests(message: OutboundMessage, config: HmaConfig) -> list[dict[str, str]]:
    """One body per content item with hashes of an enabled type, in HMA's shape, in the request's order."""
    if message.message_type != "takedown-request":
        return []
    try:
        payload = json.loads(parse_jws(message.signed_form).payload)
    except (ValueError, TypeError):
        return []
    body = payload.get("body") if isinstance(payload, dict) else None
    items: dict[int, dict[str, str]] = {}
    for item, alg, value in content_hashes(body if isinstance(body, dict) else {}):
        if alg in config.signal_types:
            items.setdefault(item, {}).setdefault(MATCHER_TYPE_NAMES[alg], value)
    return [
        {**signals, "note": f"referral-hub {message.message_id} item {item}"[:NOTE_MAX]}
        for item, signals in sorted(items.items())
    ]


def _classify(status: int, retry_after: str | None, now: datetime) -> tuple[Verdict, timedelta | None]:
    if status == 404:  # HMA has no such bank: the configuration, not this message
        return Verdict.ATTENTION, None
    return classify_http(status, retry_after, now)


class HmaAdapter:
    name: ClassVar[str] = "hma"
    config_type: ClassVar[type[HmaConfig]] = HmaConfig
    pushes: ClassVar[bool] = True

    def __init__(self, context: AdapterContext) -> None:
        self._context = context

    async def deliver(self, message: OutboundMessage, destination: Destination) -> DeliveryOutcome:
        try:
            config = HmaConfig.from_destination(destination)
        except AdapterConfigError as exc:
            return DeliveryOutcome(Verdict.ATTENTION, f"configuration: {exc}")
        requests = bank_requests(message, config)
        if not requests:
            what = "a takedown request without a hash of an enabled type"
            if message.message_type != "takedown-request":
                what = f"a {message.message_type}"
            return DeliveryOutcome(
                Verdict.PERMANENT, f"an HMA bank takes hashes only: {what} cannot be banked"
            )
        banked: list[str] = []
        for body in requests:
            try:
                outcome, content_id = await self._post(config, body)
            except TimeoutError:
                outcome, content_id = DeliveryOutcome(Verdict.RETRY, "timed out"), None
            except aiohttp.ClientError as exc:
                failed = f"connection failed: {exc.__class__.__name__}"
                outcome, content_id = DeliveryOutcome(Verdict.RETRY, failed), None
            if outcome.verdict is not Verdict.DELIVERED:
                done = f" after banking {len(banked)} of {len(requests)} items" if banked else ""
                return DeliveryOutcome(
                    outcome.verdict,
                    outcome.detail + done,
                    http_status=outcome.http_status,
                    retry_after=outcome.retry_after,
                    response_body=outcome.response_body,
                    response_type=outcome.response_type,
                )
            banked.append(content_id or "?")
        return DeliveryOutcome(
            Verdict.DELIVERED, f"banked {len(banked)} items in HMA (content ids {', '.join(banked)})"
        )

    async def _post(self, config: HmaConfig, body: dict[str, str]) -> tuple[DeliveryOutcome, str | None]:
        timeout = aiohttp.ClientTimeout(total=config.timeout_seconds)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        async with self._context.session.post(
            config.signal_url,
            data=json.dumps(body, separators=(",", ":")).encode(),
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
        ) as response:
            content = await response.content.read(MAX_RESPONSE_BYTES)
            verdict, retry_after = _classify(
                response.status, response.headers.get("Retry-After"), self._context.clock()
            )
            content_id = None
            if verdict is Verdict.DELIVERED:
                try:
                    answer = json.loads(content)
                    content_id = str(int(answer["id"]))
                except (ValueError, TypeError, KeyError):
                    content_id = None
            outcome = DeliveryOutcome(
                verdict,
                f"HTTP {response.status}",
                http_status=response.status,
                retry_after=retry_after,
                response_body=content,
                response_type=response.content_type,
            )
            return outcome, content_id
