"""Finding a case by what a person has at hand: a sender's own reference or a content URL (issue 17).

A hotline analyst has the file number of its signature (`DE-2026-02001`, the takedown request's
`authorisation.reference`), a platform reviewer its ticket number (an acknowledgement's `reference`),
either of them the URL a victim reported. The console looks for them in its own record, the signed
messages it sent or received (`Archive`), in memory, and asks the hub for a URL too: the hub keeps no
URL in clear but a keyed digest of each takedown request's URLs, and matches the same digest of the URL
asked for (`POST /v1/search/cases`), among the messages this participant sent or got. A URL typed into
the search is written nowhere: not in an address (the search form posts, and so does the client), not
in a log line. A case found either way is opened through the hub like any other, so the hub's rule
still decides what the person sees of it.

References match whole, ignoring case and surrounding space; URLs match by their normal form, the one
rule of `hub.core.content_url` (scheme and host case-insensitive, no default port, no fragment; the rest
exact), by which the hub also matches the digests it keeps (`HubClient.cases_by_content_url`);
`hub/console/duplicates.py` compares URLs by the same form.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from hub.console.archive import Kept
from hub.core.content_url import looks_like_url, normalised
from hub.core.jose import JoseError, parse_jws


@dataclass(frozen=True)
class Found:
    """A case the search found, with what matched (`reference` or `content URL`) in which message."""

    case_id: str
    matched: str
    message_type: str
    accepted_at: str


def url_key(url: str) -> str:
    """What two content URLs must share to name the same content (`hub.core.content_url`)."""
    return normalised(url)


def content_urls(envelope: dict[str, Any]) -> set[str]:
    """The keys (`url_key`) of the content URLs a message names."""
    body = envelope.get("body")
    items = body.get("content") if isinstance(body, dict) else None
    return {
        url_key(str(i["url"])) for i in items or () if isinstance(i, dict) and isinstance(i.get("url"), str)
    }


def references(value: Any) -> Iterator[str]:
    """Every `reference` a message body gives (a sender's or recipient's own file or ticket number)."""
    if isinstance(value, dict):
        for name, inner in value.items():
            if name == "reference" and isinstance(inner, str):
                yield inner
            else:
                yield from references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from references(inner)


def find_in_messages(kept: Iterable[Kept], wanted: str) -> list[Found]:
    """The cases whose messages name this reference, or this content URL: one per case, newest first."""
    by_url = looks_like_url(wanted)
    key = url_key(wanted) if by_url else wanted.strip().casefold()
    found: dict[str, Found] = {}
    for k in sorted(kept, key=lambda k: k.accepted_at, reverse=True):
        if k.case_id in found:
            continue
        envelope: dict[str, Any] = {}
        with contextlib.suppress(JoseError, ValueError):
            envelope = json.loads(parse_jws(k.message).payload)
        if not isinstance(envelope, dict):
            continue
        if by_url:
            hit = key in content_urls(envelope)
        else:
            hit = any(r.strip().casefold() == key for r in references(envelope.get("body")))
        if hit:
            matched = "content URL" if by_url else "reference"
            found[k.case_id] = Found(k.case_id, matched, k.message_type, k.accepted_at)
    return list(found.values())
