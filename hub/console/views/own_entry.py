"""Your directory entry: the console's panel of `hub keys monitor` (issue 18).

It shows what the hub's directory lists for this participant (each key with its fingerprint, how it
entered and whether this participant's own bindings make it trusted; the delivery address) and what is
wrong with it by the one rule (`hub.core.own_entry`): a key the participant did not bind, an address it
did not sign, and, against what this console saw last time (kept in its data folder), a reset, a new key
or a new address. An entry without problems becomes what was seen; after a change the participant made
itself (a new key it bound), "These changes are mine" (POST, CSRF-checked) takes the entry as it is.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from hub.client import HubError
from hub.client.trust_store import write_json_atomically
from hub.console.auth import SESSION, redirect
from hub.console.keys import CONFIG, GATEWAY, JINJA
from hub.console.language import say, say_phrase
from hub.console.render import render
from hub.core.binding import fingerprint
from hub.core.jose import JoseError
from hub.core.key_chain import key_chain, listed_key
from hub.core.own_entry import entry_findings, seen_state

STATE_FILE = "own-entry.json"
ORIGINS = {
    "registration": "registered by the operator after a fingerprint check",
    "reset": "registered at a reset",
    "binding": "bound by your own signature",
    "legacy": "added before bindings (not bound)",
    "feed": "vouched for by its home hub",
}


def _read_state(path: Path) -> dict[str, Any]:
    try:
        kept = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return kept if isinstance(kept, dict) else {}


async def _entry(request: web.Request) -> tuple[str, dict[str, Any]] | web.Response:
    gateway = request.app[GATEWAY]
    try:
        return await gateway.client.hub_id(), await gateway.client.own_entry()
    except HubError as exc:
        why = exc.problem.get("title", exc.status)
        detail = say(request, "The hub refused to show your entry: {why}.", why=why)
    except (aiohttp.ClientError, TimeoutError):
        detail = say(request, "The hub at {url} cannot be reached.", url=request.app[CONFIG].hub_url)
    heading = say(request, "Your directory entry")
    context = {"title": heading, "heading": heading, "detail": detail}
    return render(request.app[JINJA], request, "problem.html", context, status=503)


def _key_rows(request: web.Request, hub_id: str, entry: dict[str, Any], own_kid: str) -> list[dict[str, Any]]:
    me = request.app[CONFIG].participant_id
    listed = [k for k in entry.get("jwks", {}).get("keys", []) if isinstance(k, dict)]
    chain = key_chain(me, hub_id, listed)
    rows = []
    for key in listed:
        kid = str(key.get("kid"))
        try:
            shown = fingerprint(listed_key(key))
        except JoseError:
            shown = say(request, "(not a usable key)")
        rows.append(
            {
                "kid": kid,
                "use": say(request, "Encryption" if key.get("crv") == "X25519" else "Signing"),
                "fingerprint": shown,
                "origin": say(request, ORIGINS.get(str(key.get("origin")), str(key.get("origin")))),
                "status": say(request, str(key.get("status", "active"))),
                "trusted": kid in chain.trusted,
                "why": say_phrase(request, chain.reasons[kid]) if kid in chain.reasons else None,
                "this_console": kid == own_kid,
            }
        )
    return rows


async def own_entry(request: web.Request) -> web.Response:
    found = await _entry(request)
    if isinstance(found, web.Response):
        return found
    hub_id, entry = found
    config = request.app[CONFIG]
    me = config.participant_id
    path = config.data_dir / STATE_FILE
    state = await asyncio.to_thread(_read_state, path)
    problems = entry_findings(me, hub_id, entry, state)
    if not problems:
        await asyncio.to_thread(write_json_atomically, path, seen_state(me, hub_id, entry))
    context = {
        "title": say(request, "Your directory entry"),
        "problems": [say_phrase(request, problem) for problem in problems],
        "first_check": not state,
        "keys": _key_rows(request, hub_id, entry, config.key.kid),
        "delivery": entry.get("delivery") or {},
    }
    return render(request.app[JINJA], request, "own_entry.html", context)


async def accept(request: web.Request) -> web.Response:
    """Take the entry as listed now as what was seen (the participant says the changes are its own)."""
    found = await _entry(request)
    if isinstance(found, web.Response):
        return found
    hub_id, entry = found
    config = request.app[CONFIG]
    state = seen_state(config.participant_id, hub_id, entry)
    await asyncio.to_thread(write_json_atomically, config.data_dir / STATE_FILE, state)
    request[SESSION].flash.append(say(request, "Noted: the entry as listed now is what you expect."))
    return redirect("/directory/self")
