"""Hash signals (issue 19): a takedown request's content hashes become signals for the platforms it is
addressed to and, with the person's consent, for the platforms that opted in; a withdrawal withdraws
them, the purge deletes them and forgets the hashes; every change is in an append-only log."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hub.api.app import create_app
from hub.api.keys import POOL
from hub.policies import load_retention_policy
from hub.store.purge import purge_due_cases
from tests.factories import FakeClock, jose, refer, removal, run_hub, takedown, takedown_parts, withdrawal

# Fictitious hashes (not of any real image).
PDQ = "f" * 16 + "0" * 16 + "a" * 16 + "5" * 16
MD5 = "0123456789abcdef" * 2
SHA = "89abcdef01234567" * 4


def content(*hashes: tuple[str, str], url: str = "https://photos.example.com/p/test-0001") -> list[Any]:
    return [{"url": url, "hashes": [{"alg": a, "value": v} for a, v in hashes]}]


async def copies(db: asyncpg.Connection) -> dict[tuple[str, str, str], tuple[str, str]]:
    """(platform, alg, value) -> (audience, status) of every signal copy."""
    rows = await db.fetch(
        "SELECT c.platform_id, s.alg, coalesce(s.value, '-') AS value, c.audience, c.status"
        " FROM signal_copies c JOIN signals s ON s.id = c.signal_id"
    )
    return {(r["platform_id"], r["alg"], r["value"]): (r["audience"], r["status"]) for r in rows}


async def opt_in(db: asyncpg.Connection, *platform_ids: str) -> None:
    await db.execute("UPDATE participants SET hash_signals = true WHERE id = ANY($1::text[])", platform_ids)


async def test_the_recipients_get_the_hashes_and_opted_in_platforms_only_with_consent(
    aiohttp_client: Any, settings: Any, directory: Any, db: asyncpg.Connection
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    other_hotline = await directory.add("fr-hotline-test", "hotline", "FR")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    opted = await directory.add("nl-platform-test", "platform", "NL")
    await directory.add("se-platform-test", "platform", "SE")  # did not opt in
    await opt_in(db, opted.id, other_hotline.id)  # a hotline's flag counts for nothing
    client = await aiohttp_client(create_app(settings, background=False))

    without = takedown(hotline, platform, other_hotline, content=content(("pdq", PDQ), ("md5", MD5)))
    assert (await client.post("/v1/messages", **jose(hotline.sign(without)))).status == 202
    assert await copies(db) == {
        (platform.id, "pdq", PDQ): ("recipient", "active"),
        (platform.id, "md5", MD5): ("recipient", "active"),
    }

    consenting = takedown(hotline, platform, content=content(("sha256", SHA)), hash_sharing_consent=True)
    assert (await client.post("/v1/messages", **jose(hotline.sign(consenting)))).status == 202
    found = await copies(db)
    assert found[(platform.id, "sha256", SHA)] == ("recipient", "active")
    assert found[(opted.id, "sha256", SHA)] == ("opted-in", "active")
    assert len(found) == 4  # nothing for the other hotline, the platform that did not opt in, the sender

    # A request without hashes makes no signal.
    plain = takedown(hotline, platform, hash_sharing_consent=True)
    assert (await client.post("/v1/messages", **jose(hotline.sign(plain)))).status == 202
    assert len(await copies(db)) == 4


async def test_a_withdrawal_withdraws_a_recipients_copies_and_every_copy_once_no_recipient_is_left(
    aiohttp_client: Any, settings: Any, directory: Any, db: asyncpg.Connection
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    first = await directory.add("ie-platform-test", "platform", "IE")
    second = await directory.add("pl-platform-test", "platform", "PL")
    opted = await directory.add("nl-platform-test", "platform", "NL")
    await opt_in(db, opted.id)
    client = await aiohttp_client(create_app(settings, background=False))

    async def accepted(envelope: dict[str, Any]) -> dict[str, Any]:
        response = await client.post("/v1/messages", **jose(hotline.sign(envelope)))
        assert response.status == 202, await response.text()
        receipt: dict[str, Any] = await response.json()
        return receipt

    # The same image on two platforms: a fan-out, one part per platform, each with its own locator.
    on_first, on_second = content(("pdq", PDQ)), content(("pdq", PDQ), url="https://video.example.org/v/t-2")
    located = [{**on_first[0], "for": first.id}, {**on_second[0], "for": second.id}]
    parts = takedown_parts(hotline, first, second, content=located, hash_sharing_consent=True)
    referral = await refer(accepted, parts)
    part_of = {first.id: referral.id_of(first), second.id: referral.id_of(second)}

    await accepted(withdrawal(hotline, [first], referral.case_id))
    assert await copies_by_part(db) == {
        (part_of[first.id], first.id): ("recipient", "withdrawn"),
        (part_of[first.id], opted.id): ("opted-in", "withdrawn"),  # no recipient of its part is left
        (part_of[second.id], second.id): ("recipient", "active"),
        (part_of[second.id], opted.id): ("opted-in", "active"),  # the request still stands for `second`
    }

    await accepted(withdrawal(hotline, [second], referral.case_id))
    assert {v[1] for v in (await copies_by_part(db)).values()} == {"withdrawn"}
    rows = await db.fetch("SELECT platform_id, status FROM signal_changes ORDER BY id")
    history = [(r["platform_id"], r["status"]) for r in rows]
    assert sorted(history[:4]) == sorted(
        [(first.id, "active"), (second.id, "active")] + [(opted.id, "active")] * 2
    )
    assert set(history[4:6]) == {(first.id, "withdrawn"), (opted.id, "withdrawn")}
    assert set(history[6:]) == {(second.id, "withdrawn"), (opted.id, "withdrawn")}
    assert len(history) == 8  # every copy changed once


async def copies_by_part(db: asyncpg.Connection) -> dict[tuple[str, str], tuple[str, str]]:
    """(the part the signal came from, platform) -> (audience, status) of every signal copy."""
    rows = await db.fetch(
        "SELECT s.message_id::text AS part, c.platform_id, c.audience, c.status"
        " FROM signal_copies c JOIN signals s ON s.id = c.signal_id"
    )
    return {(r["part"], r["platform_id"]): (r["audience"], r["status"]) for r in rows}


async def test_the_purge_deletes_every_copy_and_forgets_the_hashes(
    aiohttp_client: Any, settings: Any, directory: Any, db: asyncpg.Connection
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    opted = await directory.add("nl-platform-test", "platform", "NL")
    await opt_in(db, opted.id)
    clock = FakeClock()
    app = create_app(settings, clock=clock, background=False)
    client = await aiohttp_client(app)
    request = takedown(hotline, platform, content=content(("md5", MD5)), hash_sharing_consent=True)
    case_id = (await (await client.post("/v1/messages", **jose(hotline.sign(request)))).json())["case_id"]
    decision = removal(platform, hotline, case_id, request["id"])
    assert (await client.post("/v1/messages", **jose(platform.sign(decision)))).status == 202

    clock.now += timedelta(days=400)
    assert await purge_due_cases(app[POOL], load_retention_policy(), clock()) == [uuid.UUID(case_id)]
    assert await copies(db) == {
        (platform.id, "md5", "-"): ("recipient", "deleted"),
        (opted.id, "md5", "-"): ("opted-in", "deleted"),
    }
    assert await db.fetchval("SELECT count(*) FROM signals WHERE value IS NOT NULL") == 0
    assert await db.fetchval("SELECT count(*) FROM signal_changes WHERE status = 'deleted'") == 2


async def test_the_change_log_is_append_only(
    aiohttp_client: Any, settings: Any, directory: Any, db: asyncpg.Connection
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    client = await aiohttp_client(create_app(settings, background=False))
    request = takedown(hotline, platform, content=content(("md5", MD5)))
    assert (await client.post("/v1/messages", **jose(hotline.sign(request)))).status == 202

    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await db.execute("UPDATE signal_changes SET status = 'withdrawn'")
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await db.execute("DELETE FROM signal_changes")
    await db.execute("UPDATE signal_changes SET seq = 1")  # the sequencer's one write
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await db.execute("UPDATE signal_changes SET seq = 2")


async def test_an_operator_opts_a_platform_in_from_the_command_line(
    directory: Any, database_url: str, tmp_path: Path, db: asyncpg.Connection
) -> None:
    platform = await directory.add("ie-platform-test", "platform", "IE")
    env = {"HUB_DATA_DIR": str(tmp_path / "hub-data"), "HUB_DATABASE_URL": database_url}
    code, out, err = await run_hub("participants", "update", platform.id, "--hash-signals", "yes", env=env)
    assert code == 0, err
    assert '"hash_signals": true' in out
    assert await db.fetchval("SELECT hash_signals FROM participants WHERE id = $1", platform.id) is True
    code, _, err = await run_hub("participants", "update", platform.id, "--hash-signals", "no", env=env)
    assert code == 0, err
    assert await db.fetchval("SELECT hash_signals FROM participants WHERE id = $1", platform.id) is False
