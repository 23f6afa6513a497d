"""Issue 14, finding 6: e-mail replies are not kept in clear. A reply to a case is stored encrypted with
the case's key and purged with the case; mail to no known reply address is kept small (a size cap) and
briefly (a retention, then deleted by the purge). Real SMTP into `hub mail-in`, a real PostgreSQL, the
database searched column by column (tests/test_plaintext_search.py) for what the replies said."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from hub.api.keys import INTAKE, POOL
from hub.core.clock import utc_now
from hub.policies import load_retention_policy
from hub.settings import Settings
from hub.store.case_keys import ShreddedError
from hub.store.mail import open_inbound, seal_clear_mail
from hub.store.purge import purge_due_cases
from tests.factories import run_hub
from tests.test_mail_in import MailInHub, reply_mail
from tests.test_mail_in import hub as mail_in_hub  # noqa: F401  (the fixture `hub`)
from tests.test_plaintext_search import find_in_database, found_in

URL = "https://photos.example.com/p/reply-marker-Hq7"
NAME = "REPLYnameZt4kW9"
STATEMENT = "REPLYstatementPm2xV8"
MARKERS = (URL, NAME, STATEMENT)
QUOTE = f"> Reported item: {URL}\n> Depicted: {NAME}\n> Statement: {STATEMENT}\n"


@pytest.fixture
def hub(mail_in_hub: MailInHub) -> MailInHub:  # noqa: F811  (the imported fixture, by its name)
    return mail_in_hub


def unknown_address(reply_to: str) -> str:
    local, _, domain = reply_to.partition("@")
    return f"case+{uuid.uuid4().hex}.{local.rpartition('.')[2]}@{domain}"


async def rows(db: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    return {r["verdict"]: r for r in await db.fetch("SELECT * FROM inbound_mail")}


async def test_no_reply_is_in_the_database_in_clear(hub: MailInHub, db: asyncpg.Connection) -> None:
    notice = await hub.notice()
    sent = {
        "accepted": (await hub.reply(notice.reply_to, f"REMOVED\n\n{QUOTE}"))[1],
        "unauthenticated": (await hub.reply(notice.reply_to, f"REMOVED\n{QUOTE}", signed=False))[1],
        "unrecognised": (await hub.reply(notice.reply_to, f"Thanks, we will look at it\n{QUOTE}"))[1],
        "unknown-token": (await hub.reply(unknown_address(notice.reply_to), f"REMOVED\n{QUOTE}"))[1],
    }
    assert await hub.party_state(notice.case_id) == "actioned"
    assert all(URL.encode() in raw for raw in sent.values())

    assert await find_in_database(db, *MARKERS) == {}

    stored = await rows(db)
    assert set(stored) == set(sent)
    for verdict, raw in sent.items():  # each opens back to the mail exactly as received
        row = stored[verdict]
        assert row["raw_encrypted"]
        assert (await hub.kept(row), row["raw_bytes"]) == (raw, len(raw))
    assert stored["unknown-token"]["wrapped_key"] is not None  # no case: a key of its own
    assert stored["accepted"]["wrapped_key"] is None  # the case's key


async def test_mail_to_no_known_address_is_kept_small(hub: MailInHub, db: asyncpg.Connection) -> None:
    notice = await hub.notice()
    big = reply_mail(unknown_address(notice.reply_to), "REMOVED\n" + "x" * 200_000)

    assert await hub.send_raw(big, unknown_address(notice.reply_to)) == 550

    [row] = await db.fetch("SELECT * FROM inbound_mail")
    assert row["raw_bytes"] == len(big)
    assert len(row["raw"]) < 16 * 1024 + 100  # the cap, plus the cipher's nonce and tag
    assert await hub.kept(row) == big[: 16 * 1024]

    receiver = await hub.start_receiver(mailin_unmatched_max_bytes=0)
    try:
        assert await hub.send_raw(big + b"another\r\n", unknown_address(notice.reply_to)) == 550
    finally:
        receiver.close()
    [nothing] = await db.fetch("SELECT * FROM inbound_mail WHERE raw IS NULL")
    assert nothing["raw_bytes"] == len(big) + len(b"another\r\n")


async def test_mail_to_no_known_address_is_deleted_after_its_retention(
    hub: MailInHub, db: asyncpg.Connection, settings: Settings, database_url: str
) -> None:
    notice = await hub.notice()
    four_days_ago = utc_now() - timedelta(hours=73)
    receiver = await hub.start_receiver(clock=lambda: four_days_ago)
    try:
        assert (await hub.reply(unknown_address(notice.reply_to), "REMOVED"))[0] == 550
        assert (await hub.reply(notice.reply_to, "ACKNOWLEDGED"))[0] == 250  # to the case: kept with it
    finally:
        receiver.close()
    receiver = await hub.start_receiver()
    try:
        assert (await hub.reply(unknown_address(notice.reply_to), "REMOVED again"))[0] == 550  # just now
    finally:
        receiver.close()

    env = {
        "HUB_DATABASE_URL": database_url,
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_SIGNING_KEY_FILE": str(settings.signing_key_file),
    }
    code, out, err = await run_hub("purge", env=env)

    assert code == 0, err
    assert json.loads(out)["unmatched_mail_deleted"] == 1
    left = await db.fetch("SELECT verdict, received_at FROM inbound_mail ORDER BY received_at")
    assert [r["verdict"] for r in left] == ["accepted", "unknown-token"]
    assert left[1]["received_at"] > four_days_ago + timedelta(hours=1)


async def test_purging_a_case_removes_its_mail(hub: MailInHub, db: asyncpg.Connection) -> None:
    notice = await hub.notice()
    assert (await hub.reply(notice.reply_to, f"REMOVED\n{QUOTE}", signed=False))[0] == 550  # evidence
    assert (await hub.reply(notice.reply_to, f"REMOVED\n{QUOTE}"))[0] == 250
    before = await db.fetch("SELECT id, raw FROM inbound_mail")
    assert len(before) == 2

    later = utc_now() + timedelta(days=181)  # past the retention of an actioned case
    assert await purge_due_cases(hub.app[POOL], load_retention_policy(), later) == [uuid.UUID(notice.case_id)]

    assert await db.fetchval("SELECT count(*) FROM inbound_mail WHERE raw IS NOT NULL") == 0
    for row in before:
        with pytest.raises(ShreddedError):
            await open_inbound(db, hub.app[INTAKE].keyring, row["id"])
    purge = await db.fetchval("SELECT detail FROM purges WHERE case_id = $1", uuid.UUID(notice.case_id))
    assert purge["emails"] == 2

    # A late reply to the purged case: refused for good (not 451, retried for days), nothing of it kept.
    status, raw = await hub.reply(notice.reply_to, f"ACKNOWLEDGED\n{QUOTE}")
    assert status == 550
    late = await db.fetchrow("SELECT * FROM inbound_mail WHERE verdict = 'case-purged'")
    assert (late["raw"], late["raw_bytes"]) == (None, len(raw))
    assert await find_in_database(db, *MARKERS) == {}


async def test_mail_stored_in_clear_before_the_migration_is_encrypted(
    hub: MailInHub, db: asyncpg.Connection
) -> None:
    notice = await hub.notice()
    raws = {
        case: reply_mail(notice.reply_to, f"REMOVED\n{QUOTE}{case}").replace(b"\n", b"\r\n")
        for case in (1, 2)
    }
    insert = (
        "INSERT INTO inbound_mail (id, received_at, rcpt_to, case_id, raw, raw_sha256, verdict)"
        " VALUES ($1, now(), $2, $3, $4, $5, $6)"
    )
    for number, case_id, verdict in ((1, uuid.UUID(notice.case_id), "accepted"), (2, None, "unknown-token")):
        raw = raws[number]
        await db.execute(insert, uuid.uuid4(), f"x{number}@example.org", case_id, raw, "0" * 64, verdict)
    assert set(await find_in_database(db, *MARKERS)) == set(MARKERS)  # as 0005 stored them

    assert await seal_clear_mail(hub.app[POOL], hub.app[INTAKE].keyring, utc_now()) == 2
    assert await seal_clear_mail(hub.app[POOL], hub.app[INTAKE].keyring, utc_now()) == 0

    assert await find_in_database(db, *MARKERS) == {}
    kept = {r["verdict"]: await hub.kept(r) for r in await db.fetch("SELECT * FROM inbound_mail")}
    assert kept == {"accepted": raws[1], "unknown-token": raws[2]}


async def test_the_operator_reads_a_kept_reply_with_hub_mail(
    hub: MailInHub, db: asyncpg.Connection, settings: Settings, database_url: str, tmp_path: Any
) -> None:
    notice = await hub.notice()
    _, raw = await hub.reply(notice.reply_to, f"REMOVED\n{QUOTE}")
    env = {
        "HUB_DATABASE_URL": database_url,
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_SIGNING_KEY_FILE": str(settings.signing_key_file),
    }

    code, out, err = await run_hub("mail", "list", "--case", notice.case_id, env=env)
    assert code == 0, err
    [listed] = json.loads(out)
    assert (listed["verdict"], listed["raw_bytes"], listed["kept"]) == ("accepted", len(raw), True)
    assert listed["raw_sha256"] == hashlib.sha256(raw).hexdigest()
    assert notice.reply_to.partition("@")[0] not in out  # the reply address is a bearer secret
    assert found_in(out, *MARKERS) == set()

    target = tmp_path / "reply.eml"
    code, _, err = await run_hub("mail", "show", listed["id"], "--out", str(target), env=env)
    assert code == 0, err
    assert target.read_bytes() == raw
    assert hashlib.sha256(raw).hexdigest() in err

    code, _, err = await run_hub("mail", "show", listed["id"], "--out", str(target), env=env)
    assert (code, err.count("\n")) == (1, 1)
    assert "refusing to overwrite" in err
    code, _, err = await run_hub("mail", "show", str(uuid.uuid4()), env=env)
    assert (code, err.count("\n")) == (1, 1)
    assert "no kept e-mail" in err
    code, _, err = await run_hub("mail", "show", "not-an-id", env=env)
    assert code == 2
