"""The console's "Your keys" page (hub keys monitor in the browser), against an operator who changes
the participant's entry behind its back, over HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from hub.core.binding import bind_key, fingerprint
from hub.core.jose import PrivateEncryptionJwk
from hub.services.bindings import apply_binding
from tests.console_helpers import console_for, csrf_of, hub
from tests.test_malicious_operator import insert_key

__all__ = ["hub"]


async def test_your_keys_shows_the_entry_and_what_you_did_not_sign(
    aiohttp_client: Any, hub: Any, directory: Any, db: asyncpg.Connection, tmp_path: Path
) -> None:
    platform = await directory.add("ie-platform-keys", "platform", "IE")
    console = await console_for(aiohttp_client, hub, platform, tmp_path / "console")

    first = await console.get("/directory/self")
    html = await first.text()
    assert first.status == 200, html
    assert "every key listed is one you bound" in html
    assert fingerprint(platform.key.public()) in html
    assert "(this console signs with it)" in html
    assert 'role="alert"' not in html

    operator_key = PrivateEncryptionJwk.generate("ie-platform-keys-enc-operator")
    await insert_key(db, platform.id, operator_key.public().to_dict())
    changed = await (await console.get("/directory/self")).text()

    assert 'role="alert"' in changed
    assert "key ie-platform-keys-enc-operator is listed but you did not bind it" in changed
    assert "<strong>No</strong>: not bound by ie-platform-keys" in changed


async def test_your_keys_says_its_problems_in_german(
    aiohttp_client: Any, hub: Any, directory: Any, db: asyncpg.Connection, tmp_path: Path
) -> None:
    platform = await directory.add("ie-platform-keys", "platform", "IE")
    console = await console_for(aiohttp_client, hub, platform, tmp_path / "console")
    german = {"Accept-Language": "de-DE"}
    assert "Geprüft" in await (await console.get("/directory/self", headers=german)).text()
    operator_key = PrivateEncryptionJwk.generate("ie-platform-keys-enc-operator")
    await insert_key(db, platform.id, operator_key.public().to_dict())

    page = await (await console.get("/directory/self", headers=german)).text()

    assert 'role="alert"' in page
    assert (
        "Schlüssel ie-platform-keys-enc-operator ist eingetragen, aber Sie haben ihn nicht gebunden: "
        "nicht mit dem eigenen Signaturschlüssel von ie-platform-keys gebunden"
    ) in page
    assert "<strong>Nein</strong>: nicht mit dem eigenen Signaturschlüssel von ie-platform-keys" in page
    assert "listed but you did not bind" not in page
    assert "not bound by" not in page


async def test_a_key_you_bound_yourself_is_a_change_until_you_say_it_is_yours(
    aiohttp_client: Any, hub: Any, directory: Any, db: asyncpg.Connection, tmp_path: Path
) -> None:
    platform = await directory.add("ie-platform-keys", "platform", "IE")
    console = await console_for(aiohttp_client, hub, platform, tmp_path / "console")
    assert "every key listed is one you bound" in await (await console.get("/directory/self")).text()
    new_key = PrivateEncryptionJwk.generate("ie-platform-keys-enc-2")
    binding = bind_key(
        platform.key,
        participant_id=platform.id,
        hub_id="test-hub",
        key=new_key.public(),
        issued_at=int(time.time()),
    )
    async with db.transaction():
        await apply_binding(db, hub_id="test-hub", text=binding, now=datetime.now(UTC))

    page = await (await console.get("/directory/self")).text()
    assert "keys added since the last check: ie-platform-keys-enc-2" in page
    accepted = await console.post(
        "/directory/self/accept", data={"csrf": csrf_of(page)}, allow_redirects=False
    )
    assert accepted.status == 303
    after = await (await console.get("/directory/self")).text()

    assert "No change since the last check" in after
    assert "Noted: the entry as listed now is what you expect." in after


async def test_accepting_needs_the_page_s_csrf_token(
    aiohttp_client: Any, hub: Any, directory: Any, tmp_path: Path
) -> None:
    platform = await directory.add("ie-platform-keys", "platform", "IE")
    console = await console_for(aiohttp_client, hub, platform, tmp_path / "console")
    refused = await console.post("/directory/self/accept", data={"csrf": "forged"}, allow_redirects=False)
    assert refused.status == 403
    assert not (tmp_path / "console" / "own-entry.json").exists()
