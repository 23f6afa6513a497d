"""Routing selectors: recipients the hub finds in its directory instead of the sender naming them.

- `{"kind": K, "country": CC}`: the one participant of that kind in that country (the hotline of Germany,
  the regulator of Ireland). None is `unroutable`; several is `ambiguous-route`: the sender must name one.
- `{"by": "content"}`: for each content locator of a takedown request, the platform that serves its
  URL's domain, from the domains registered in the directory; the most specific registered domain wins
  (`cdn.example.com` over `example.com`). A locator no platform serves, or one claimed by two platforms,
  is refused. A request whose content is on several platforms resolves to all of them, and admission
  refuses it as it refuses one naming them in `to` (`split-per-recipient`, `hub.core.admission`): each
  platform gets a request of its own, with only its own locators.

Errors point at the locator (`/body/content/2/url`), never quote the URL: it is reported content.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from hub.core.refusal import Refusal


@dataclass(frozen=True)
class RouteCandidate:
    id: str
    kind: str
    country: str
    domains: tuple[str, ...]


def host_suffixes(url: str) -> list[str]:
    """`https://a.b.example.com/x` -> ["a.b.example.com", "b.example.com", "example.com", "com"]."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    parts = host.split(".") if host else []
    return [".".join(parts[i:]) for i in range(len(parts))]


def content_hosts(body: Mapping[str, Any]) -> list[str]:
    """Every suffix of every content URL's host: what to look up in the directory."""
    found: list[str] = []
    for locator in body.get("content", []):
        for suffix in host_suffixes(str(locator.get("url", ""))):
            if suffix not in found:
                found.append(suffix)
    return found


def resolve_route(
    route: Mapping[str, Any], body: Mapping[str, Any], candidates: Sequence[RouteCandidate], sender: str
) -> tuple[str, ...]:
    others = [c for c in candidates if c.id != sender]
    if route.get("by") == "content":
        return _by_content(body, [c for c in others if c.kind == "platform"])
    kind, country = str(route.get("kind")), str(route.get("country"))
    matches = sorted(c.id for c in others if c.kind == kind and c.country == country)
    if not matches:
        raise Refusal(
            "unroutable", f"no {kind} in {country} is registered in the directory", route=dict(route)
        )
    if len(matches) > 1:
        raise Refusal(
            "ambiguous-route",
            f"{len(matches)} participants are a {kind} in {country}: name the recipient in `to`",
            candidates=matches,
        )
    return (matches[0],)


def _by_content(body: Mapping[str, Any], platforms: Sequence[RouteCandidate]) -> tuple[str, ...]:
    recipients: list[str] = []
    for index, locator in enumerate(body.get("content", [])):
        pointer = f"/body/content/{index}/url"
        if "url" not in locator:
            raise Refusal(
                "unroutable",
                f"{pointer}: a locator without a URL cannot be routed by content",
                pointer=pointer,
            )
        owner = _owner(host_suffixes(str(locator["url"])), platforms, pointer)
        if owner not in recipients:
            recipients.append(owner)
    if not recipients:
        raise Refusal("unroutable", "the request names no content to route by", pointer="/body/content")
    return tuple(recipients)


def platform_of(url: str, platforms: Sequence[RouteCandidate], pointer: str) -> str:
    """The one platform of `platforms` that serves `url`'s host (the client splits a fan-out by it)."""
    return _owner(host_suffixes(url), platforms, pointer)


def _owner(suffixes: Sequence[str], platforms: Sequence[RouteCandidate], pointer: str) -> str:
    for suffix in suffixes:  # most specific first
        owners = sorted(p.id for p in platforms if suffix in p.domains)
        if len(owners) == 1:
            return owners[0]
        if len(owners) > 1:
            raise Refusal(
                "ambiguous-route",
                f"{pointer}: several platforms registered this domain",
                pointer=pointer,
                candidates=owners,
            )
    raise Refusal(
        "unroutable", f"{pointer}: no platform in the directory serves this domain", pointer=pointer
    )
