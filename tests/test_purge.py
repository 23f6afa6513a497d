"""Retention: a case past its retention period is purged. Its personal data is gone from every table
(and its key destroyed, so an old copy of the ciphertext no longer opens), the audit log still verifies,
the statistics are unchanged, and the purge is on the record."""

from __future__ import annotations

import json
import os
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hub.api.app import create_app
from hub.api.keys import HUB_KEY, KEYRING, POOL
from hub.cli.audit import checkpoint_reader
from hub.core.audit_verify import verify_log
from hub.core.clock import rfc3339
from hub.policies import load_retention_policy
from hub.stats.figures import parse_period
from hub.store.audit import load_log, sequence_and_checkpoint
from hub.store.case_keys import ShreddedError
from hub.store.purge import candidates, purge_due_cases
from hub.store.stats import figures_for
from tests.factories import FakeClock, acknowledgement, jose, removal, run_hub, takedown

MARKER = "https://photos.example.com/p/purge-marker-7f3a"


async def database_holds(db: asyncpg.Connection, marker: str) -> list[str]:
    """Every table.column whose text, or bytea as text, contains the marker."""
    found = []
    columns = await db.fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'public'"
    )
    for column in columns:
        cast = (
            f"encode(\"{column['column_name']}\", 'escape')"
            if column["data_type"] == "bytea"
            else f'"{column["column_name"]}"::text'
        )
        hit = await db.fetchval(
            f'SELECT count(*) FROM "{column["table_name"]}" WHERE position($1 in {cast}) > 0', marker
        )
        if hit:
            found.append(f"{column['table_name']}.{column['column_name']}")
    return found


async def test_a_case_past_retention_is_purged_provably(
    aiohttp_client: Any, settings: Any, directory: Any, db: asyncpg.Connection, tmp_path: Path
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    clock = FakeClock()
    app = create_app(settings, clock=clock, background=False)
    client = await aiohttp_client(app)
    request = takedown(hotline, platform, content=[{"url": MARKER, "platform_item_id": "purge-0001"}])
    case_id = (await (await client.post("/v1/messages", **jose(hotline.sign(request)))).json())["case_id"]
    for answer in (
        acknowledgement(platform, hotline, case_id, request["id"]),
        removal(platform, hotline, case_id, request["id"]),
    ):
        assert (await client.post("/v1/messages", **jose(platform.sign(answer)))).status == 202
    pool, policy = app[POOL], load_retention_policy()
    period = parse_period(None, None, clock())
    before = await figures_for(pool, None, period)
    stored = await db.fetchrow(
        "SELECT signed_form, case_id FROM messages WHERE id = $1", uuid.UUID(request["id"])
    )
    assert await database_holds(db, MARKER) == []  # encrypted at rest: not even before the purge
    digests = "SELECT count(*) FROM content_url_digests WHERE case_id = $1"
    assert await db.fetchval(digests, stored["case_id"]) == 1  # what a search by its URL matches

    # Not yet: retention runs from the decision.
    clock.now += timedelta(days=179)
    assert await purge_due_cases(pool, policy, clock()) == []
    (waiting,) = await candidates(pool, policy, clock())
    assert (waiting.final_status, waiting.due) == ("actioned", False)
    assert waiting.purge_at == waiting.final_at + timedelta(days=180)
    # The operator sees the date before it comes (issue 17): `hub purge --dry-run` lists it, purges nothing.
    operator = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    operator.update(HUB_DATABASE_URL=settings.database_url, HUB_DATA_DIR=str(settings.data_dir))
    code, out, err = await run_hub("purge", "--dry-run", env=operator)
    assert code == 0, err
    listed = json.loads(out)
    assert listed["due"] == []
    assert listed["dry_run"] is True
    assert [(w["case_id"], w["purge_at"]) for w in listed["waiting"]] == [
        (case_id, rfc3339(waiting.purge_at))
    ]

    clock.now += timedelta(days=2)
    assert await purge_due_cases(pool, policy, clock()) == [uuid.UUID(case_id)]
    assert await purge_due_cases(pool, policy, clock()) == []  # once
    assert await db.fetchval(digests, stored["case_id"]) == 0  # no search by its URL finds it now

    # The personal data is gone, and the old ciphertext no longer opens: its key was destroyed.
    assert (
        await db.fetchval(
            "SELECT count(*) FROM messages WHERE case_id = $1 AND signed_form IS NOT NULL", stored["case_id"]
        )
        == 0
    )
    key = await db.fetchrow(
        "SELECT wrapped_key, shredded_at FROM case_keys WHERE case_id = $1", stored["case_id"]
    )
    assert key["wrapped_key"] is None
    assert key["shredded_at"] is not None
    with pytest.raises(ShreddedError):
        app[KEYRING].open(None, stored["signed_form"], True)

    # What remains still proves and counts: the audit log verifies, the statistics are unchanged.
    await sequence_and_checkpoint(pool, app[HUB_KEY], settings.hub_id, clock())
    entries, checkpoints, pending = await load_log(db)
    public = app[HUB_KEY].public()
    report = verify_log(
        [dict(e.items()) for e in entries],
        [dict(c.items()) for c in checkpoints],
        checkpoint_reader({public.kid: public}),
        pending,
    )
    assert report.ok, report.fault
    after = await figures_for(pool, None, period)
    assert after == before

    # The purge is on the record; the case still answers, without its messages.
    purge = await db.fetchrow("SELECT detail FROM purges WHERE case_id = $1", stored["case_id"])
    assert purge["detail"]["messages"] == 3
    view = await (await client.get(f"/v1/cases/{case_id}", headers=hotline.auth(now=clock.ts()))).json()
    assert view["status"] == "actioned"
    assert "purged_at" in view
    assert view["timeline"][-1]["event"] == "case.purged"

    # What remains still proves what happened: the case exports, marked purged, and its bundle verifies.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_DATABASE_URL=settings.database_url,
        HUB_SIGNING_KEY_FILE=str(settings.signing_key_file),
        HUB_DATA_DIR=str(settings.data_dir),
        HUB_ID=settings.hub_id,
    )
    path = tmp_path / "purged.zip"
    code, out, err = await run_hub("evidence", "export", case_id, "--out", str(path), env=env)
    assert code == 0, err
    fingerprint = json.loads(out)["hub_key_fingerprint"]
    assert fingerprint == public.thumbprint()
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
        manifest = json.loads(files["manifest.json"])
    assert manifest["purged"] == {"purged_at": view["purged_at"]}
    assert [m["file"] for m in manifest["messages"]] == [None, None, None]
    assert all(m["purged"] for m in manifest["messages"])
    assert "PURGED" in files["README.txt"].decode()
    assert not any(MARKER.encode() in body for body in files.values())
    code, out, err = await run_hub(
        "evidence", "verify", str(path), f"--hub-fingerprint={fingerprint}", env=env
    )
    assert code == 0, err
    assert f"PURGED at {view['purged_at']}" in out
    assert "3 purged messages (receipt only)" in out
    assert "3 receipts" in out
    assert "delivery evidences" in out
    assert "audit entries" in out
    assert "note: the case was purged" in out


async def test_an_open_case_is_never_purged(aiohttp_client: Any, settings: Any, directory: Any) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    clock = FakeClock()
    app = create_app(settings, clock=clock, background=False)
    client = await aiohttp_client(app)
    assert (
        await client.post("/v1/messages", **jose(hotline.sign(takedown(hotline, platform))))
    ).status == 202
    clock.now += timedelta(days=3650)
    assert await purge_due_cases(app[POOL], load_retention_policy(), clock()) == []
