"""Everything the console asks of the hub, through the client library (`hub.client.HubClient`) only.

- The directory (participants and their keys) and the hub's keys are cached for a minute: a page needs
  them many times, and a key change reaches the console within that minute.
- `pull_inbox` reads the inbox, verifies each message as its recipient (the sender's signature with the
  directory's key, or the hub's key for an answer the hub attests, the hub's receipt with the hub's key,
  the receipt naming this recipient), keeps what
  verified in the archive and only then marks it retrieved; a message that does not verify is neither
  kept nor marked, so it stays in the hub's inbox for a second look and is shown with the reason. It is
  called only for a POST (the inbox's "Fetch new messages"): it changes the hub's inbox, so no GET page
  may trigger it; GET pages show what the last fetch left (`unverified`, `fetched_at`).
- `copy_case` keeps the case's messages addressed to this participant that the hub delivered some other
  way (by webhook or e-mail, or taken from the inbox by another tool), checked exactly as a fetched
  one: a platform that receives by push sees its referrals in its console too. The case page copies its
  case; "Fetch new messages" copies the newest cases of a participant the directory says receives by
  push (`copy_recent_cases`). It reads only: nothing at the hub changes.
- `submit` sends a signed message at most once per form: the signed bytes are remembered by the
  message id the form carries, so posting the same form again (a double click, a retry after the hub
  could not be reached) sends the very same bytes and gets the same receipt, never a second signature
  over the same content. Changed content under the same id is signed anew (the hub stored nothing of a
  refused message). The same form with the same content, sent again with a fresh form token (the
  browser's Back fetches the form anew and puts back what was typed), is that message too
  (`sent_from_form`): the console shows its case instead of opening a second one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from hub.client import HubClient
from hub.client.verify import VerificationError, verify_inbox_item
from hub.console.archive import Archive, Kept
from hub.core.clock import rfc3339, utc_now

log = structlog.get_logger("hub.console")
CACHE_SECONDS = 60.0
MAX_PAGES = 10
MAX_REMEMBERED = 500
RECENT_CASES = 50  # the cases a push recipient's "Fetch new messages" copies messages of


@dataclass(frozen=True)
class Fetched:
    kept: int
    unverified: list[Unverified]


@dataclass(frozen=True)
class Unverified:
    message_id: str
    case_id: str
    sender: str
    message_type: str
    accepted_at: str
    reason: str


class HubGateway:
    def __init__(self, client: HubClient, archive: Archive) -> None:
        self.client = client
        self.archive = archive
        self._cache: dict[str, tuple[float, Any]] = {}
        self._signed: dict[str, tuple[str, str]] = {}  # message id -> (form fingerprint, signed form)
        self._forms_sent: dict[tuple[str, str], str] = {}  # (form address, content print) -> message id
        self._pull_lock = asyncio.Lock()
        self.unverified: list[Unverified] = []  # what the last fetch could not verify
        self.fetched_at: str | None = None

    @property
    def me(self) -> str:
        return self.client.participant_id

    async def _cached(self, key: str, fetch: Callable[[], Any]) -> Any:
        hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1]
        value = await fetch()
        self._cache[key] = (time.monotonic(), value)
        return value

    async def participants(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._cached("participants", self.client.participants)
        return found

    async def participant(self, participant_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._cached(
            f"participant:{participant_id}", lambda: self.client.participant(participant_id)
        )
        return found

    async def hub_jwks(self) -> dict[str, Any]:
        found: dict[str, Any] = await self._cached("hub-jwks", self.client.hub_jwks)
        return found

    async def verify(self, kept: Kept) -> str | None:
        """Check a kept message again against the directory today: None if it verifies, else why not."""
        item = {
            "message": kept.message,
            "receipt": kept.receipt,
            "from": kept.sender,
            "message_id": kept.message_id,
            "type": kept.message_type,
            "case_id": kept.case_id,
        }
        try:
            sender = await self.participant(kept.sender)
            recipient = self.me if kept.direction == "received" else None
            verify_inbox_item(item, sender.get("jwks", {}), await self.hub_jwks(), recipient=recipient)
        except VerificationError as exc:
            return str(exc)
        return None

    async def pull_inbox(self) -> Fetched:
        async with self._pull_lock:
            unverified: list[Unverified] = []
            kept = 0
            cursor: str | None = None
            for _ in range(MAX_PAGES):
                page = await self.client.inbox(cursor=cursor, limit=50)
                messages = page.get("messages", [])
                if not messages:
                    break
                trusted = []
                for item in messages:
                    problem = await self._keep_received(item)
                    if problem is None:
                        trusted.append(item["message_id"])
                    else:
                        unverified.append(problem)
                if trusted:
                    await self.client.ack(trusted)
                    kept += len(trusted)
                log.info("console.inbox_pulled", kept=len(trusted), unverified=len(messages) - len(trusted))
                cursor = page.get("cursor")
            self.unverified, self.fetched_at = unverified, rfc3339(utc_now())
            return Fetched(kept, unverified)

    async def copy_case(self, case_id: str) -> Fetched:
        """Keep the case's messages addressed to this participant that the console does not hold yet."""
        held = {k.message_id for k in await asyncio.to_thread(self.archive.of_case, case_id)}
        kept, unverified = 0, []
        for item in await self.client.case_messages(case_id):
            if item.get("message_id") in held:
                continue
            problem = await self._keep_received(item)
            if problem is None:
                kept += 1
            else:
                unverified.append(problem)
        return Fetched(kept, unverified)

    async def copy_recent_cases(self) -> Fetched:
        """`copy_case` over this participant's newest cases (one page of its case list)."""
        kept, unverified = 0, []
        for case in (await self.client.cases(limit=RECENT_CASES)).get("cases", []):
            copied = await self.copy_case(str(case["case_id"]))
            kept += copied.kept
            unverified += copied.unverified
        return Fetched(kept, unverified)

    async def _keep_received(self, item: dict[str, Any]) -> Unverified | None:
        try:
            sender = await self.participant(str(item["from"]))
            verified = verify_inbox_item(
                item, sender.get("jwks", {}), await self.hub_jwks(), recipient=self.me
            )
        except VerificationError as exc:
            log.warning("console.message_unverified", message_id=item.get("message_id"))
            return Unverified(
                str(item.get("message_id")),
                str(item.get("case_id")),
                str(item.get("from")),
                str(item.get("type")),
                str(item.get("accepted_at")),
                str(exc),
            )
        kept = Kept(
            direction="received",
            message_id=str(item["message_id"]),
            case_id=str(item["case_id"]),
            message_type=str(item["type"]),
            sender=str(item["from"]),
            accepted_at=str(item["accepted_at"]),
            message=str(item["message"]),
            receipt=str(item["receipt"]),
            verified=True,
            provenance=verified.provenance,
        )
        await asyncio.to_thread(self.archive.keep, kept)
        return None

    def signed_before(self, message_id: str, fingerprint: str) -> str | None:
        remembered = self._signed.get(message_id)
        return remembered[1] if remembered and remembered[0] == fingerprint else None

    def remember(self, message_id: str, fingerprint: str, signed: str) -> None:
        if len(self._signed) >= MAX_REMEMBERED:
            self._signed.pop(next(iter(self._signed)))
        self._signed[message_id] = (fingerprint, signed)

    def sent_form(self, form: str, content: str, message_id: str) -> None:
        """Note that a form with this content was sent as this message."""
        if len(self._forms_sent) >= MAX_REMEMBERED:
            self._forms_sent.pop(next(iter(self._forms_sent)))
        self._forms_sent[(form, content)] = message_id

    def sent_from_form(self, form: str, content: str) -> str | None:
        """The message a form with exactly this content was already sent as (Back and send again)."""
        return self._forms_sent.get((form, content))

    async def submit(self, envelope: dict[str, Any], signed: str) -> dict[str, Any]:
        """Submit signed bytes; keep them with the receipt. Raises HubError on a refusal."""
        receipt = await self.client.submit(signed)
        kept = Kept(
            direction="sent",
            message_id=str(receipt["message_id"]),
            case_id=str(receipt["case_id"]),
            message_type=str(envelope["type"]),
            sender=self.me,
            accepted_at=str(receipt["accepted_at"]),
            message=signed,
            receipt=str(receipt["receipt"]),
            verified=True,
            provenance=f"signed by {self.me}",
        )
        await asyncio.to_thread(self.archive.keep, kept)
        log.info(
            "console.message_sent",
            message_id=kept.message_id,
            case_id=kept.case_id,
            message_type=kept.message_type,
        )
        return receipt
