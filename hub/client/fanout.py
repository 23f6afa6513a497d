"""A referral of content on several platforms, sent as one signed message per platform under one case.

Each platform may see only the content locators on its own service, and each must be able to verify the
exact signed form it receives, so the client splits a multi-platform takedown request before signing
(docs/wire-contract.md, "A fan-out is one message per platform"): a locator goes to the platform whose
registered domains serve its URL (the hub's own rule, `hub.core.routing.platform_of`), or to the one the
sender assigned with a client-side `"for": "<platform id>"` member (removed before signing). Recipients
that are no platform (a regulator, a liaison) ride with the first part. The first part opens the case;
each further part names it in `case` (set by `send_referral` from the first receipt).

Ids are fixed before the first try, so that a retry is the same message, never a second case: a part
keeps the envelope's `id` when it is the only part, else each part's id is a UUIDv5 of the referral's
`base` (its `id`, or the SHA-256 of the file it came from) and its platform. A store of signed forms
(`SentParts`, the command line keeps one next to the file) makes the retry byte-identical, so the hub
answers it with the first receipt (its idempotent replay) even though sealing is randomised.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from hub.client.http import HubClient
from hub.core.clock import rfc3339, utc_now
from hub.core.refusal import Refusal
from hub.core.routing import RouteCandidate, platform_of

# The namespace of the ids the client derives for the parts of a referral (UUIDv5, RFC 9562).
PART_NAMESPACE = uuid.UUID("6f1c2b7e-3d4a-5e8f-9a0b-1c2d3e4f5a6b")
ASSIGNED = "for"  # a locator's client-side member naming the platform it goes to


class FanOutError(Exception):
    """The referral cannot be split: a locator on no recipient's service, or assigned to no recipient.
    `pointer` is the locator's JSON Pointer (`/body/content/2`), or `/to` with the `platforms` named there
    that have no locator."""

    def __init__(self, message: str, pointer: str, platforms: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.pointer = pointer
        self.platforms = tuple(platforms)


class SentParts(Protocol):
    """Where the signed form of each part is kept between tries (by part id)."""

    def signed(self, part_id: str) -> str | None: ...
    def keep(self, part_id: str, signed: str) -> None: ...


def part_id(base: str, platform: str) -> str:
    return str(uuid.uuid5(PART_NAMESPACE, f"{base}/{platform}"))


def split_referral(
    envelope: Mapping[str, Any], directory: Sequence[Mapping[str, Any]], base: str
) -> list[dict[str, Any]]:
    """The parts of `envelope`, one per platform, without `case` (the first opens it). `directory` is
    `GET /v1/participants`' list. A message that is not a takedown request to several platforms is one
    part, unchanged but for a fixed `id` and `created_at`. Raises FanOutError for a locator on none of
    the platforms, or a platform named in `to` with no locator of its own."""
    created_at = envelope.get("created_at") or rfc3339(utc_now())
    groups = _groups(envelope, directory)
    if len(groups) <= 1:
        only = {**envelope, "id": envelope.get("id") or str(uuid.uuid5(PART_NAMESPACE, base))}
        only["created_at"] = created_at
        return [_without_assignments(only)]
    base = str(envelope.get("id") or base)
    others = _non_platforms(envelope, directory)
    parts = []
    for index, (platform, locators) in enumerate(groups.items()):
        part = {**envelope, "id": part_id(base, platform), "created_at": created_at}
        part["body"] = {**envelope["body"], "content": locators}
        if "route" not in envelope:
            part["to"] = [platform, *(others if index == 0 else ())]
        parts.append(_without_assignments(part))
    return parts


async def send_referral(
    client: HubClient, parts: Sequence[Mapping[str, Any]], sent: SentParts | None = None
) -> list[dict[str, Any]]:
    """Seal, sign and submit each part in turn, the further ones naming the case the first opened; a
    part signed on an earlier try is resubmitted exactly. Returns one receipt per part."""
    receipts: list[dict[str, Any]] = []
    case_id: str | None = None
    for part in parts:
        signed = sent.signed(str(part["id"])) if sent is not None else None
        if signed is None:
            envelope = dict(part) if case_id is None else {**part, "case": case_id}
            signed = client.sign(await client.seal(envelope))
            if sent is not None:
                sent.keep(str(part["id"]), signed)
        receipt = await client.submit(signed)
        case_id = case_id or str(receipt["case_id"])
        receipts.append(receipt)
    return receipts


def _groups(envelope: Mapping[str, Any], directory: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """The locators by platform, in order; empty when there is nothing to split."""
    body = envelope.get("body")
    if envelope.get("type") != "takedown-request" or not isinstance(body, Mapping) or envelope.get("case"):
        return {}
    route = envelope.get("route")
    by_content = isinstance(route, Mapping) and route.get("by") == "content"
    named = {str(r) for r in envelope.get("to", ()) if isinstance(r, str)}
    platforms = [
        RouteCandidate(str(p["id"]), str(p["kind"]), str(p["country"]), tuple(p.get("domains", ())))
        for p in directory
        if p.get("kind") == "platform" and (by_content or p.get("id") in named)
    ]
    if not by_content and len(platforms) <= 1:
        return {}
    groups: dict[str, list[Any]] = {}
    for index, locator in enumerate(body.get("content", [])):
        owner = _owner_of(locator, platforms, f"/body/content/{index}")
        groups.setdefault(owner, []).append(locator)
    idle = [p.id for p in platforms if p.id not in groups]
    if not by_content and idle:  # it would be sent the others' locators, or nothing to act on
        raise FanOutError(
            f"/to: no locator of this request is on the service of {', '.join(idle)} (by the domains"
            f' it registered, or a "{ASSIGNED}" naming it): each platform is sent only its own locators,'
            " so take it out of `to` or give it its locators",
            "/to",
            idle,
        )
    return groups


def _owner_of(locator: Any, platforms: Sequence[RouteCandidate], pointer: str) -> str:
    ids = {p.id for p in platforms}
    assigned = locator.get(ASSIGNED) if isinstance(locator, Mapping) else None
    if assigned is not None:
        if assigned not in ids:
            raise FanOutError(
                f"{pointer}/{ASSIGNED}: '{assigned}' is not a platform this referral goes to", pointer
            )
        return str(assigned)
    url = locator.get("url") if isinstance(locator, Mapping) else None
    if url is None:
        raise FanOutError(
            f'{pointer}: a locator without a URL needs "{ASSIGNED}": the platform it goes to', pointer
        )
    try:
        return platform_of(str(url), platforms, f"{pointer}/url")
    except Refusal as refusal:
        raise FanOutError(
            f'{refusal.detail}; name its platform with "{ASSIGNED}" in the locator, or send it apart',
            pointer,
        ) from None


def _non_platforms(envelope: Mapping[str, Any], directory: Sequence[Mapping[str, Any]]) -> list[str]:
    platforms = {str(p["id"]) for p in directory if p.get("kind") == "platform"}
    return [str(r) for r in envelope.get("to", ()) if r not in platforms]


def _without_assignments(envelope: dict[str, Any]) -> dict[str, Any]:
    body = envelope.get("body")
    if isinstance(body, Mapping) and isinstance(body.get("content"), list):
        content = [
            {k: v for k, v in c.items() if k != ASSIGNED} if isinstance(c, Mapping) else c
            for c in body["content"]
        ]
        envelope["body"] = {**body, "content": content}
    return envelope
