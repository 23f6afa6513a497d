"""`hub demo` on a bare machine: a fresh HOME, no HUB_DATABASE_URL, its own embedded PostgreSQL.

Its temporary directory is placed under a folder of this test's (through TMPDIR), so the test can check
that nothing is left behind: no process whose command line names that folder (the embedded
PostgreSQL runs as `postgres -D <data dir>`), and no `hub-demo-*` directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

DEMO_TIMEOUT = 120
STATE_CHANGES = (
    "- -> queued",
    "queued -> retrieved",
    "retrieved -> acknowledged",
    "acknowledged -> actioned",
)


@pytest.fixture
def scratch() -> Iterator[Path]:
    # Short and under /tmp: the embedded server's Unix socket path must stay under 108 bytes.
    with tempfile.TemporaryDirectory(prefix="hdt-") as tmp:
        yield Path(tmp)


def command_lines_naming(fragment: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended while we looked
            continue
        if fragment in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


def test_demo_runs_the_whole_flow_and_leaves_nothing_behind(scratch: Path) -> None:
    home, tmpdir = scratch / "home", scratch / "tmp"
    home.mkdir()
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "XDG_"))}
    env.update(HOME=str(home), TMPDIR=str(tmpdir))

    result = subprocess.run(
        [sys.executable, "-m", "hub", "demo"],
        env=env,
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "status: actioned" in result.stdout
    positions = [result.stdout.find(change) for change in STATE_CHANGES]
    assert all(p >= 0 for p in positions), result.stdout
    assert positions == sorted(positions), result.stdout
    assert "refused: 403 not-a-party" in result.stdout

    assert command_lines_naming(str(tmpdir)) == []
    # The wrapper's own `.lockfile` may stay in the temporary folder; the demo's directory must not.
    assert [p.name for p in tmpdir.iterdir() if p.name.startswith("hub-demo-")] == []


def test_the_federated_demo_forwards_answers_back_and_leaves_nothing_behind(scratch: Path) -> None:
    """`hub demo --federated`: two hubs with a database each; the request crosses, the answers come
    back, every hop's receipt of the other hub verifies (the demo exits non-zero if one does not)."""
    home, tmpdir = scratch / "home", scratch / "tmp"
    home.mkdir()
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "XDG_"))}
    env.update(HOME=str(home), TMPDIR=str(tmpdir))

    result = subprocess.run(
        [sys.executable, "-m", "hub", "demo", "--federated"],
        env=env,
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    out = result.stdout
    assert "the hotline's signature verifies (its key proven by hub hub-a.demo.example's log)" in out
    a_part, b_part = out.split("6. The case on hub A")[1].split("7. The case on hub B")
    assert "status: actioned; ie-platform-demo@hub-b.demo.example: actioned" in a_part
    assert (
        "message.forwarded          by hub-b.demo.example [receipt of hub-b.demo.example verifies]" in a_part
    )
    # the two answers, and B's results of the platform's two clocks (acknowledge, act: both met)
    assert a_part.count("message.received_from_hub  by hub-b.demo.example [receipt of") == 4
    assert a_part.count("message.accepted           by hub-b.demo.example (clock-result)") == 2
    assert "status: actioned; ie-platform-demo: actioned" in b_part
    assert (
        "message.received_from_hub  by hub-a.demo.example [receipt of hub-a.demo.example verifies]" in b_part
    )
    assert command_lines_naming(str(tmpdir)) == []
    assert [p.name for p in tmpdir.iterdir() if p.name.startswith("hub-demo-")] == []
