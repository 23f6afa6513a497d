"""Issue 16.8: a case is named by its full id or by the short id the console and e-mail notices show.
The one rule (hub/core/case_reference.py), the operator's look-up among all cases (hub/store/case_lookup.py),
and the operator commands that take a case (`hub evidence export`, `hub mail list --case`)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hub.core.case_reference import CaseReferenceError, parse_case_reference, the_one_match
from hub.store.case_lookup import resolve_case
from tests.factories import Directory, run_hub

FULL = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.mark.parametrize("typed", [FULL, FULL.upper(), f"  {FULL} ", FULL.replace("-", "")])
def test_a_full_id_is_taken_as_it_is(typed: str) -> None:
    assert parse_case_reference(typed).case_id == uuid.UUID(FULL)


@pytest.mark.parametrize("typed", ["0a1b2c", "0A1B2C3D", "0a1b2c3d-4e5f"])
def test_a_prefix_of_six_or_more_hex_digits_is_looked_up(typed: str) -> None:
    parsed = parse_case_reference(typed)
    assert parsed.case_id is None
    assert parsed.prefix == typed.lower()


@pytest.mark.parametrize("typed", ["0a1b2", "", "case-0a1b2c", "0a1b2c%", "0a1b2c_", "'; DROP TABLE cases"])
def test_anything_else_is_refused_in_one_line(typed: str) -> None:
    with pytest.raises(CaseReferenceError, match="at least 6 hex digits"):
        parse_case_reference(typed)


def test_a_prefix_names_one_case_or_it_is_refused_naming_none() -> None:
    assert the_one_match("0a1b2c", [FULL]) == FULL
    with pytest.raises(CaseReferenceError, match="no case you can read"):
        the_one_match("0a1b2c", [])
    with pytest.raises(CaseReferenceError, match="more than one") as refused:
        the_one_match("0a1b2c", [FULL, FULL[:-1] + "e"])
    assert FULL not in str(refused.value)


async def cases(db: asyncpg.Connection, directory: Directory, *ids: str) -> None:
    await directory.add("de-hotline-test", "hotline", "DE")
    for case_id in ids:
        await db.execute(
            "INSERT INTO cases (id, opened_by, case_type) VALUES ($1, 'de-hotline-test', 'takedown')",
            uuid.UUID(case_id),
        )


async def test_the_operator_finds_a_case_among_all_by_its_short_id(
    db: asyncpg.Connection, directory: Directory
) -> None:
    twin = "0a1b2c3d-ffff-4a6b-8c7d-9e0f1a2b3c4d"  # the same first 8 hex digits
    other = "7f000000-0000-4000-8000-000000000001"
    await cases(db, directory, FULL, twin, other)
    assert await resolve_case(db, "7f0000") == uuid.UUID(other)
    assert await resolve_case(db, "0a1b2c3d-4e") == uuid.UUID(FULL)
    assert await resolve_case(db, FULL) == uuid.UUID(FULL)
    with pytest.raises(CaseReferenceError, match="more than one"):
        await resolve_case(db, "0a1b2c3d")
    with pytest.raises(CaseReferenceError, match="no case"):
        await resolve_case(db, "abcdef")


async def test_operator_commands_take_the_short_id(
    db: asyncpg.Connection, directory: Directory, settings: Any, tmp_path: Path
) -> None:
    """`hub evidence export` and `hub mail list --case` by the short id; an ambiguous one is refused."""
    await cases(db, directory, FULL, "0a1b2c3d-ffff-4a6b-8c7d-9e0f1a2b3c4d")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_DATABASE_URL=settings.database_url,
        HUB_SIGNING_KEY_FILE=str(settings.signing_key_file),
        HUB_DATA_DIR=str(settings.data_dir),
        HUB_ID=settings.hub_id,
    )
    code, out, err = await run_hub("mail", "list", "--case", "0a1b2c3d-4e5f", env=env)
    assert (code, out.strip()) == (0, "[]"), err
    code, _, err = await run_hub("mail", "list", "--case", "0a1b2c3d", env=env)
    assert code == 2
    assert "more than one case" in err

    bundle = tmp_path / "case.zip"
    code, _, err = await run_hub("evidence", "export", "0a1b2c3d", "--out", str(bundle), env=env)
    assert code != 0
    assert "more than one case" in err
    assert not bundle.exists()
    code, _, err = await run_hub("evidence", "export", "0a1b", "--out", str(bundle), env=env)
    assert code == 2
    assert "at least 6 hex digits" in err
