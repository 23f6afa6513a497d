"""Issue 17, operator safety: an operator command run where there is no hub database says so, instead of
starting a new, empty embedded one and answering `[]`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.factories import run_hub


def bare(tmp_path: Path) -> dict[str, str]:
    """An environment with no HUB_DATABASE_URL and a data folder that holds no database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_DATA_DIR"] = str(tmp_path / "nothing-here")
    return env


@pytest.mark.parametrize(
    "command",
    [
        ("participants", "list"),
        ("cases", "list"),
        ("deliveries", "list"),
        ("mail", "list"),
        ("purge", "--dry-run"),
        ("evidence", "export", "0a1b2c3d"),
    ],
    ids=lambda c: " ".join(c),
)
async def test_a_reading_command_without_a_hub_database_says_so(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    code, out, err = await run_hub(*command, env=bare(tmp_path))
    assert code == 1, out + err
    assert "no hub database here" in err
    assert out == ""
    assert not (tmp_path / "nothing-here").exists()  # nothing was made: no database, no key
