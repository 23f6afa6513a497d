r"""Hash signals: the hashes of a referral's content, shared with the platforms' own matchers (pure).

A takedown request's content items carry hashes (`hashes`: PDQ for images, MD5 and SHA-256 of the exact
file, image or video), computed on the hotline's side (`hub hash`, the console), never from images on the
hub. Each distinct hash of an item becomes one **signal** of the case, and the signal gets one **copy**
per platform that may match on it:

- every recipient of the request that is a platform (`recipient`);
- when the request says the person consents (`hash_sharing_consent`), every other platform of the
  directory that opted in to hash signals (`opted-in`). Such a platform learns the hash, never the
  request: no URL, no case it could read.

A copy's status moves one way only:

    active -> withdrawn -> deleted
       \_____________________/

- a withdrawal from a recipient withdraws that recipient's copies; once every recipient of the request a
  signal came from is withdrawn, the signal is withdrawn everywhere (its opted-in copies too);
- the case's purge (end of retention, `hub.core.retention`) deletes every copy, and the hub forgets the
  hash itself: platforms delete by the signal's id.

Every change of a copy is a row of an append-only change log, which the platforms' feed reads in commit
order (`hub/store/signals.py`, docs/wire-contract.md, "Hash signals").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from hashlib import sha1
from typing import Any
from uuid import UUID, uuid5

from hub.core.envelope import Envelope

# The namespace of signal ids: uuid5(this, "<message id>/<item>/<alg>/<value>"), so that the same
# request always yields the same signals.
SIGNAL_NAMESPACE = UUID("5d0c7d2e-8f51-4c4e-9a57-3c2b1f9e6a10")
SIGNAL_ALGS = ("pdq", "md5", "sha256")
# The names python-threatexchange gives the same hashes (its SignalTypes' get_name(), which HMA's banks and
# APIs use): the library has MD5 and SHA-256 of the exact file for video only, and an image's file hash
# matches there by value. tests/test_threatexchange_exchange.py checks these against the library.
MATCHER_TYPE_NAMES: dict[str, str] = {"pdq": "pdq", "md5": "video_md5", "sha256": "video_sha256"}


class SignalStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    DELETED = "deleted"


_RANK = {SignalStatus.ACTIVE: 0, SignalStatus.WITHDRAWN: 1, SignalStatus.DELETED: 2}


class Audience(StrEnum):
    RECIPIENT = "recipient"  # the request was addressed to this platform
    OPTED_IN = "opted-in"  # the person consented, and this platform opted in to hash signals


def next_status(current: SignalStatus, target: SignalStatus) -> SignalStatus | None:
    """The copy's new status, or None if the change is no change (already there, or past it)."""
    return target if _RANK[target] > _RANK[current] else None


@dataclass(frozen=True)
class NewSignal:
    id: UUID
    item: int  # the content item's index in the request's `content`
    alg: str
    value: str


@dataclass(frozen=True)
class SignalCopy:
    signal_id: UUID
    platform: str
    audience: Audience


@dataclass(frozen=True)
class SignalPlan:
    """The signals a request makes, and who gets a copy of each."""

    signals: tuple[NewSignal, ...]
    copies: tuple[SignalCopy, ...]


def consents_to_sharing(body: Mapping[str, Any]) -> bool:
    return body.get("hash_sharing_consent") is True


def content_hashes(body: Mapping[str, Any]) -> list[tuple[int, str, str]]:
    """(item index, alg, value) of each distinct hash of each content item, in the request's order."""
    found: list[tuple[int, str, str]] = []
    content = body.get("content")
    for item, locator in enumerate(content if isinstance(content, list) else ()):
        hashes = locator.get("hashes") if isinstance(locator, dict) else None
        seen: set[tuple[str, str]] = set()
        for entry in hashes if isinstance(hashes, list) else ():
            alg, value = entry.get("alg"), entry.get("value")
            if alg in SIGNAL_ALGS and isinstance(value, str) and (alg, value) not in seen:
                seen.add((alg, value))
                found.append((item, alg, value))
    return found


def signal_id(message_id: UUID, item: int, alg: str, value: str) -> UUID:
    return uuid5(SIGNAL_NAMESPACE, f"{message_id}/{item}/{alg}/{value}")


_NAMESPACE_BYTES = SIGNAL_NAMESPACE.bytes


def _signal_ids(message_id: UUID, hashes: Iterable[tuple[int, str, str]]) -> list[UUID]:
    """`signal_id` of each hash of one message: the same uuid5 (SHA-1 of the namespace and the name,
    RFC 4122 4.3), with the message id written out once rather than once per hash."""
    prefix = _NAMESPACE_BYTES + f"{message_id}/".encode()
    digests = (sha1(prefix + f"{i}/{a}/{v}".encode(), usedforsecurity=False).digest() for i, a, v in hashes)
    return [UUID(bytes=digest[:16], version=5) for digest in digests]


def plan_signals(
    envelope: Envelope, recipient_kinds: Mapping[str, str], opted_in: Iterable[str]
) -> SignalPlan | None:
    """The signals of a takedown request (None for any other message, or one without hashes).
    `recipient_kinds` names each recipient's directory kind; `opted_in`, the platforms that opted in
    (asked only when the request consents to sharing)."""
    if envelope.type != "takedown-request":
        return None
    hashes = content_hashes(envelope.body)
    if not hashes:
        return None
    ids = _signal_ids(envelope.id, hashes)
    signals = tuple(NewSignal(sid, i, a, v) for sid, (i, a, v) in zip(ids, hashes, strict=True))
    audience = {r: Audience.RECIPIENT for r in envelope.to if recipient_kinds.get(r) == "platform"}
    if consents_to_sharing(envelope.body):
        for platform in opted_in:
            if platform != envelope.sender:
                audience.setdefault(platform, Audience.OPTED_IN)
    if not audience:
        return None
    ordered = sorted(audience.items())
    copies = tuple(SignalCopy(s.id, platform, kind) for s in signals for platform, kind in ordered)
    return SignalPlan(signals, copies)


@dataclass(frozen=True)
class CopyState:
    """A copy as stored, with what decides its withdrawal: the recipients of the request it came from."""

    signal_id: UUID
    platform: str
    audience: Audience
    status: SignalStatus
    request_recipients: frozenset[str]


def withdrawn_copies(copies: Sequence[CopyState], withdrawn: frozenset[str]) -> list[CopyState]:
    """The copies a withdrawal turns `withdrawn`, given every recipient of the case now withdrawn: a
    recipient's own copies, and every copy of a signal whose request has no recipient left."""
    moved = []
    for copy in copies:
        if next_status(copy.status, SignalStatus.WITHDRAWN) is None:
            continue
        own = copy.audience is Audience.RECIPIENT and copy.platform in withdrawn
        if own or copy.request_recipients <= withdrawn:
            moved.append(copy)
    return moved


def deleted_copies(copies: Sequence[CopyState]) -> list[CopyState]:
    """The copies a purge turns `deleted`: every one not deleted yet."""
    return [c for c in copies if next_status(c.status, SignalStatus.DELETED) is not None]
