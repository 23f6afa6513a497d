"""The command line's grammar: one table of commands, each command's module imported only when asked for.

`hub --help` must not import the database driver, the web framework or JSON Schema (whose URI grammar
alone took most of a second): a fresh interpreter shows what a command's parse imports.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hub.cli.main import COMMANDS, build_parser

HEAVY = ("asyncpg", "aiohttp", "jsonschema", "rfc3987_syntax", "hub.store", "hub.api", "hub.console")


def imported_by(*argv: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after `hub ARGV` parsed (and printed its help)."""
    code = (
        "import contextlib, io, json, sys\n"
        "from hub.cli.main import build_parser\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    build_parser({list(argv)!r}).parse_args({list(argv)!r})\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({HEAVY!r}))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules: list[str] = json.loads(done.stdout)
    return modules


def test_help_imports_no_command_module() -> None:
    assert imported_by("--help") == []


def test_json_schema_is_imported_only_for_the_commands_that_need_it() -> None:
    assert not [m for m in imported_by("hash", "--help") if m.startswith(("jsonschema", "rfc3987"))]
    assert "jsonschema" in imported_by("config", "check", "--help")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_its_full_grammar_when_asked_for(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser([command, "--help"]).parse_args([command, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: hub {command} [-h]")


def test_the_full_parser_holds_every_command_of_the_table_and_no_other() -> None:
    parser = build_parser(every_command=True)
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert set(subparsers.choices) == set(COMMANDS)  # type: ignore[arg-type]


def test_help_lists_every_command_with_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser(["--help"]).parse_args(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for name, (help_text, _) in COMMANDS.items():
        assert f"{name} {help_text}" in out
