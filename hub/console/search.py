"""Finding a case by what a person has at hand: a sender's own reference or a content URL (issue 17).

A hotline analyst has the file number of its signature (`DE-2026-02001`, the takedown request's
`authorisation.reference`), a platform reviewer its ticket number (an acknowledgement's `reference`),
either of them the URL a victim reported. The console looks for them in its own record, the signed
messages it sent or received (`Archive`), in memory: a URL typed into the search is written nowhere, not
in an address (the search form posts), not in a log line, not in an index, and the hub is not asked (it
keeps the signed forms encrypted and holds no URL in clear to match against). A case found this way is
opened through the hub like any other, so the hub's rule still decides what the person sees of it.

References match whole, ignoring case and surrounding space; URLs match as `url_key` says: scheme and
host are case-insensitive and a fragment names no other content, the rest must be exact (a path or a
query may be case-sensitive on the platform). `hub/console/duplicates.py` compares URLs by the same key.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from hub.console.archive import Kept
from hub.core.jose import JoseError, parse_jws


@dataclass(frozen=True)
class Found:
    """A case the search found, with what matched (`reference` or `content URL`) in which message."""

    case_id: str
    matched: str
    message_type: str
    accepted_at: str


def looks_like_url(text: str) -> bool:
    return text.strip().lower().startswith(("http://", "https://"))


def url_key(url: str) -> str:
    """What two content URLs must share to name the same content."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, ""))


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
