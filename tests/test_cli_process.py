"""`python -m hub` in real processes: the exit codes and streams the shell sees.

Most command-line tests run in-process (tests/test_cli.py, `tests.factories.run_cli`); these keep the
interpreter's own behaviour honest: the entry point, `sys.exit` of main's return, argparse's usage exit.
Signals and the console's printed link are tested in real processes too (test_serve, test_console_cli,
test_platform_sim).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from tests.factories import run_hub_process


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return {**env, "HUB_DATA_DIR": str(tmp_path / "hub-data"), **extra}


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_command_that_succeeds_exits_0(tmp_path: Path) -> None:
    code, out, err = await run_hub_process(
        "keys", "generate", str(tmp_path / "k.jwk"), env=environment(tmp_path)
    )
    assert (code, err) == (0, "")
    assert json.loads(out)["kty"] == "OKP"


async def test_a_usage_mistake_exits_2_with_the_usage_on_stderr(tmp_path: Path) -> None:
    code, out, err = await run_hub_process("participants", "add", env=environment(tmp_path))
    assert code == 2
    assert out == ""
    assert err.startswith("usage: hub participants add")


async def test_no_command_exits_2(tmp_path: Path) -> None:
    code, _, err = await run_hub_process(env=environment(tmp_path))
    assert code == 2
    assert "required: COMMAND" in err


async def test_a_refusal_exits_1_with_one_line(tmp_path: Path) -> None:
    url = f"postgresql://hub@127.0.0.1:{unused_port()}/hub"
    code, out, err = await run_hub_process(
        "participants", "list", env=environment(tmp_path, HUB_DATABASE_URL=url)
    )
    assert code == 1
    assert out == ""
    assert err.splitlines() == [err.strip()]
    assert err.startswith("hub: error: cannot use the database: ")
