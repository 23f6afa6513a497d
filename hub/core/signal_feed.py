"""The hash-signal feed's contract: its opaque cursor and the record it gives for each change (pure).

A platform follows its feed (`GET /v1/signals`) from an opaque cursor: each page lists the changes of its
signal copies after the cursor, oldest first, one item per change, each item the copy's **full current
record** (as StopNCII's FetchHashes returns the current record of a hash), with its whole status
history; the page's cursor resumes after its last change. A consumer merges items by `signal_id`, the
last one winning, and never needs timestamps to resume. The feed's positions are given after commit, in
commit order (`hub/store/signal_feed.py`), so a page never skips a change that commits later below it,
and a change is listed once.

What a record says depends on why the platform has the signal: a recipient of the request learns the
case, the request and the content item the hash belongs to; a platform that opted in learns the hash and
its status, nothing of the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from hub.core import inputs
from hub.core.clock import rfc3339
from hub.core.signals import Audience, SignalStatus

CURSOR_PREFIX = "sig1."
MAX_POSITION = 10**18 - 1  # a bigint position; 18 digits at most
RECORD_KEYS = ("signal_id", "signal_type", "value", "status", "status_changed_at", "history", "audience")
RECIPIENT_KEYS = ("case_id", "message_id", "content_item")


class CursorError(ValueError):
    """Not a cursor the hub hands out."""


def encode_cursor(position: int) -> str:
    return f"{CURSOR_PREFIX}{position}"


def decode_cursor(cursor: str | None) -> int:
    """The position after which a page starts: 0 (the beginning) for no cursor."""
    if cursor in (None, ""):
        return 0
    position = None
    if cursor.startswith(CURSOR_PREFIX):
        position = inputs.parse_decimal(cursor[len(CURSOR_PREFIX) :], 0, MAX_POSITION)
    if position is None:
        raise CursorError("cursor must be a value the hub returned")
    return position


@dataclass(frozen=True)
class FeedEntry:
    """One change of a platform's copy, with the copy's current state (what the store reads)."""

    position: int
    signal_id: UUID
    case_id: UUID
    message_id: UUID
    item: int
    alg: str
    value: str | None  # None once the case is purged
    audience: Audience
    status: SignalStatus
    status_changed_at: datetime
    history: Sequence[tuple[SignalStatus, datetime]]


def feed_record(entry: FeedEntry) -> dict[str, Any]:
    record: dict[str, Any] = {
        "signal_id": str(entry.signal_id),
        "signal_type": entry.alg,
        "value": entry.value if entry.status is not SignalStatus.DELETED else None,
        "status": str(entry.status),
        "status_changed_at": rfc3339(entry.status_changed_at),
        "history": [{"status": str(status), "at": rfc3339(at)} for status, at in entry.history],
        "audience": str(entry.audience),
    }
    if entry.audience is Audience.RECIPIENT:
        record.update(case_id=str(entry.case_id), message_id=str(entry.message_id), content_item=entry.item)
    return record


@dataclass(frozen=True)
class FeedPage:
    signals: list[dict[str, Any]]
    cursor: str
    more: bool  # the page is full: ask again at once with its cursor


def feed_page(entries: Sequence[FeedEntry], after: int, limit: int) -> FeedPage:
    position = entries[-1].position if entries else after
    return FeedPage([feed_record(e) for e in entries], encode_cursor(position), len(entries) >= limit)
