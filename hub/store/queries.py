"""Named SQL queries, read once from the `.sql` files beside this module.

A file holds several queries, each introduced by a `-- name: query_name` line. Parameters are
`$n` placeholders only: no SQL is ever built from input.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_HEADER = re.compile(r"^-- name: ([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


@cache
def queries() -> dict[str, str]:
    found: dict[str, str] = {}
    for entry in sorted(resources.files("hub.store").joinpath("queries").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            found.update(_split(entry.read_text("utf-8"), entry.name, found))
    return found


def query(name: str) -> str:
    return queries()[name]


def _split(text: str, filename: str, seen: dict[str, str]) -> dict[str, str]:
    parts = _HEADER.split(text)
    found: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in seen or name in found:
            raise RuntimeError(f"query {name!r} is defined twice ({filename})")
        found[name] = body.strip()
    return found
