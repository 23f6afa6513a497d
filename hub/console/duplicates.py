"""Before a hotline refers the same content to the same platform twice while a case is open: a warning.

A new takedown request is compared with the takedown requests this console sent before (its own signed
record in the archive, read when the check runs): a request that named one of the same content URLs and
one of the same recipients, on a case that is not closed and not withdrawn from that recipient, is a
duplicate (URLs compared as `hub.console.search.url_key` says). The URLs are compared in memory and
never written anywhere new (no index, no log line); the warning names the case and the platform, not the
URL. The person may still send (a second upload of the same image is a new case for some hotlines): the
form then carries the explicit choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from hub.client import HubError
from hub.console.gateway import HubGateway
from hub.console.search import content_urls
from hub.core.jose import JoseError, parse_jws

CLOSED_FOR_RECIPIENT = ("withdrawn",)


@dataclass(frozen=True)
class Duplicate:
    case_id: str
    recipient: str
    opened_at: str


async def open_duplicates(gateway: HubGateway, envelope: dict[str, Any]) -> list[Duplicate]:
    """The open cases on which this console already referred one of these URLs to one of these recipients."""
    urls, to = content_urls(envelope), set(envelope.get("to") or ())
    if not urls or not to:
        return []
    found: list[Duplicate] = []
    for kept in await asyncio.to_thread(gateway.archive.sent_of_type, envelope.get("type", "")):
        try:
            before = json.loads(parse_jws(kept.message).payload)
        except (JoseError, ValueError):
            continue
        same = to.intersection(before.get("to") or ()) if content_urls(before) & urls else set()
        if not same:
            continue
        case: dict[str, Any] | None = None
        with contextlib.suppress(HubError, aiohttp.ClientError, TimeoutError):
            case = await gateway.client.case(kept.case_id)
        if case is None or case.get("status") == "closed":
            continue
        states = {r["participant_id"]: r.get("state") for r in case.get("recipients", [])}
        found += [
            Duplicate(kept.case_id, r, str(case.get("opened_at", "")))
            for r in sorted(same)
            if states.get(r) not in CLOSED_FOR_RECIPIENT
        ]
    return found
