"""Every `hub ...` command the README shows in a shell block is one the command line takes as written
(parsed with the real grammar, `hub.cli.main.build_parser`; nothing is run)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from hub.cli.main import build_parser

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_commands() -> list[str]:
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", README.read_text("utf-8"), flags=re.DOTALL):
        joined = re.sub(r"\\\n\s*", " ", block)  # continuation lines
        for line in joined.splitlines():
            line = line.split("  #", 1)[0].strip()  # a comment after the command
            for part in re.split(r"\s*(?:&&|\|)\s*", line):
                words = shlex.split(part, comments=True)
                while words and "=" in words[0] and not words[0].startswith("-"):  # VAR=value hub ...
                    words = words[1:]
                for n, word in enumerate(words):  # a redirection ends the command's own words
                    if word.startswith((">", "<", "2>")):
                        words = words[:n]
                        break
                if words[:1] == ["hub"] and len(words) > 1:
                    commands.append(shlex.join(words[1:]))
    return commands


def test_the_readme_shows_commands_to_check() -> None:
    assert len(readme_commands()) >= 30


@pytest.mark.parametrize("command", readme_commands())
def test_each_command_the_readme_shows_parses(command: str) -> None:
    argv = shlex.split(command)
    try:
        build_parser(argv).parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"hub {command}: the command line refuses it (exit {exc.code})")
