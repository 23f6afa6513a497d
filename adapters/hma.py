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
records the bank content ids.

The hub keeps what was banked (`AdapterContext.bank_ledger`, the `bank_contents` table; identifiers
only), for two things HMA has no means for: a retry after a failure midway banks only the items not yet
banked (HMA has no idempotency key), and a **withdrawal** delivered to the platform removes every content
its case banked there, `DELETE <url>/c/bank/<bank>/content/<id>` (`bank_delete_content`; a 404, no such
bank any more, leaves nothing to remove), delivered as `removed N contents from HMA (content ids ...)`.

What a bank cannot take, it is told plainly rather than dropped: a takedown request without a hash of an
enabled type, and any other message (an escalation, a question) are **permanent** failures, dead-lettered
and visible to the operator and the sender: an HMA bank holds hashes, not messages. A platform that must
also read or answer referrals takes them through its own adapter (pull, webhook, e-mail, Coop). A bank
the HMA does not have (404) needs the operator (attention); 400 is permanent; 5xx, 429 and timeouts are
retried, the detail saying how far it got. The purge at the end of retention sends no message: the bank
sweep (`hub.services.bank_sweep`) removes a purged case's contents with `remove_case`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

import aiohttp

from adapters.base import (
    AdapterConfigError,
    AdapterContext,
    BankedContent,
    Destination,
    OutboundMessage,
    no_extra_keys,
)
from adapters.webhook import MAX_RESPONSE_BYTES, usable_url
from hub.core.delivery_outcome import DeliveryOutcome, Verdict, classify_http
from hub.core.jose import parse_jws
from hub.core.signals import MATCHER_TYPE_NAMES, SIGNAL_ALGS, content_hashes

USER_AGENT = "referral-hub/0.1 (+hma)"
BANK_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")  # HMA's own rule (storage/postgres/database.py, _bank_name_ok)
NOTE_MAX = 255  # HMA's `_validate_note`
OPTED_IN_NOTE = "referral-hub: opted-in hash signal"


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


def bank_requests(message: OutboundMessage, config: HmaConfig) -> list[tuple[int, dict[str, str]]]:
    """(item, body) for each content item with hashes of an enabled type, in HMA's shape, in order."""
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
        (item, {**signals, "note": f"referral-hub {message.message_id} item {item}"[:NOTE_MAX]})
        for item, signals in sorted(items.items())
    ]


def _classify(status: int, retry_after: str | None, now: datetime) -> tuple[Verdict, timedelta | None]:
    if status == 404:  # HMA has no such bank: the configuration, not this message
        return Verdict.ATTENTION, None
    return classify_http(status, retry_after, now)


def _progress(outcome: DeliveryOutcome, done: int, total: int, what: str) -> DeliveryOutcome:
    """A failure after some of the work: the same verdict, saying how far it got."""
    detail = outcome.detail + (f" after {what} {done} of {total} items" if done else "")
    return replace(outcome, detail=detail)


class HmaAdapter:
    name: ClassVar[str] = "hma"
    config_type: ClassVar[type[HmaConfig]] = HmaConfig
    pushes: ClassVar[bool] = True
    # What a bank holds: as a participant's further destination (beside its webhook, say), it is given
    # only these (migration 0030); as its only one, any other message fails permanently, visibly.
    carries: ClassVar[tuple[str, ...]] = ("takedown-request", "withdrawal")

    def __init__(self, context: AdapterContext) -> None:
        self._context = context

    async def deliver(self, message: OutboundMessage, destination: Destination) -> DeliveryOutcome:
        try:
            config = HmaConfig.from_destination(destination)
        except AdapterConfigError as exc:
            return DeliveryOutcome(Verdict.ATTENTION, f"configuration: {exc}")
        if message.message_type == "withdrawal" and self._context.bank_ledger is not None:
            return await self.remove_case(message.case_id, destination)
        requests = bank_requests(message, config)
        if not requests:
            what = "a takedown request without a hash of an enabled type"
            if message.message_type != "takedown-request":
                what = f"a {message.message_type}"
            detail = f"an HMA bank takes hashes only: {what} cannot be banked"
            return DeliveryOutcome(Verdict.PERMANENT, detail)
        return await self._bank(message, destination.participant_id, config, requests)

    async def _bank(
        self,
        message: OutboundMessage,
        recipient: str,
        config: HmaConfig,
        requests: list[tuple[int, dict[str, str]]],
    ) -> DeliveryOutcome:
        ledger = self._context.bank_ledger
        earlier = await ledger.banked(recipient, message.case_id) if ledger is not None else []
        done = {c.item: c.content_id for c in earlier if c.message_id == message.message_id}
        banked: list[str] = []
        for item, body in requests:
            if item in done:  # banked by an attempt that failed later: not again
                banked.append(done[item])
                continue
            outcome, answer = await self._call("POST", config.signal_url, body, config)
            if outcome.verdict is not Verdict.DELIVERED:
                return _progress(outcome, len(banked), len(requests), "banking")
            content_id = _content_id(answer)
            banked.append(content_id or "?")
            if ledger is not None and content_id is not None:
                content = BankedContent(message.case_id, message.message_id, item, config.bank, content_id)
                await ledger.record(recipient, content, self._context.clock())
        ids = ", ".join(banked)
        return DeliveryOutcome(Verdict.DELIVERED, f"banked {len(banked)} items in HMA (content ids {ids})")

    async def bank_opted_in(
        self, content: BankedContent, hashes: Sequence[tuple[str, str]], destination: Destination
    ) -> DeliveryOutcome:
        """Bank one content item's hashes of a request not addressed to the platform, which it opted in
        to (the person consented): hashes only, the note naming no request (`hub.services.bank_sweep`).
        `content.content_id` is ignored: HMA gives it."""
        ledger = self._context.bank_ledger
        try:
            config = HmaConfig.from_destination(destination)
        except AdapterConfigError as exc:
            return DeliveryOutcome(Verdict.ATTENTION, f"configuration: {exc}")
        body = {MATCHER_TYPE_NAMES[alg]: value for alg, value in hashes if alg in config.signal_types}
        if not body:
            return DeliveryOutcome(Verdict.PERMANENT, "no hash of a type this HMA has enabled")
        outcome, answer = await self._call("POST", config.signal_url, {**body, "note": OPTED_IN_NOTE}, config)
        content_id = _content_id(answer)
        if outcome.verdict is not Verdict.DELIVERED or content_id is None:
            return outcome
        if ledger is not None:
            banked = replace(content, bank=config.bank, content_id=content_id)
            await ledger.record(destination.participant_id, banked, self._context.clock())
        return DeliveryOutcome(Verdict.DELIVERED, f"banked 1 item in HMA (content id {content_id})")

    async def remove_case(self, case_id: UUID, destination: Destination) -> DeliveryOutcome:
        """Remove what the case banked for this platform, `DELETE /c/bank/<bank>/content/<id>` each: for
        a withdrawal delivered to it, and for the case's purge (`hub.services.bank_sweep`)."""
        ledger = self._context.bank_ledger
        if ledger is None:
            return DeliveryOutcome(Verdict.PERMANENT, "this hub keeps no ledger of what it banked")
        try:
            config = HmaConfig.from_destination(destination)
        except AdapterConfigError as exc:
            return DeliveryOutcome(Verdict.ATTENTION, f"configuration: {exc}")
        recipient = destination.participant_id
        contents = await ledger.banked(recipient, case_id)
        removed: list[str] = []
        for content in contents:
            url = f"{config.url}/c/bank/{content.bank}/content/{content.content_id}"
            outcome, _ = await self._call("DELETE", url, None, config)
            # 404: HMA has no such bank any more, so nothing of it is left to remove
            if outcome.verdict is not Verdict.DELIVERED and outcome.http_status != 404:
                return _progress(outcome, len(removed), len(contents), "removing")
            await ledger.removed(recipient, content, self._context.clock())
            removed.append(content.content_id)
        if not removed:
            return DeliveryOutcome(Verdict.DELIVERED, "nothing of this case is banked in HMA")
        ids = ", ".join(removed)
        return DeliveryOutcome(
            Verdict.DELIVERED, f"removed {len(removed)} contents from HMA (content ids {ids})"
        )

    async def _call(
        self, method: str, url: str, body: dict[str, str] | None, config: HmaConfig
    ) -> tuple[DeliveryOutcome, bytes]:
        try:
            return await self._request(method, url, body, config)
        except TimeoutError:
            return DeliveryOutcome(Verdict.RETRY, "timed out"), b""
        except aiohttp.ClientError as exc:
            return DeliveryOutcome(Verdict.RETRY, f"connection failed: {exc.__class__.__name__}"), b""

    async def _request(
        self, method: str, url: str, body: dict[str, str] | None, config: HmaConfig
    ) -> tuple[DeliveryOutcome, bytes]:
        timeout = aiohttp.ClientTimeout(total=config.timeout_seconds)
        headers = {"User-Agent": USER_AGENT}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, separators=(",", ":")).encode()
        async with self._context.session.request(
            method, url, data=data, headers=headers, timeout=timeout, allow_redirects=False
        ) as response:
            content = await response.content.read(MAX_RESPONSE_BYTES)
            verdict, retry_after = _classify(
                response.status, response.headers.get("Retry-After"), self._context.clock()
            )
            outcome = DeliveryOutcome(
                verdict,
                f"HTTP {response.status}",
                http_status=response.status,
                retry_after=retry_after,
                response_body=content,
                response_type=response.content_type,
            )
            return outcome, content


def _content_id(answer: bytes) -> str | None:
    """The bank content's id in HMA's answer (`{"id": <int>, ...}`), or None."""
    try:
        value = json.loads(answer)["id"]
    except (ValueError, TypeError, KeyError):
        return None
    return str(value) if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
