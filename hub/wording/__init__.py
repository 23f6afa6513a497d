"""The catalogue's files: the German of the console's and the e-mail notices' texts (`hub.core.wording`).

`de.json` holds the texts of the console and the notices; `schemas.de.json` the German of the
templates' titles and descriptions where the console shows them as a form's hints (the English stays in
the schema, for integrators); `policies.de.json` the German of the deadline policies' legal bases (the
English stays in `policies/`); `problems.de.json` the German of the hub's problem titles
(`hub/api/problems.py`), which the console shows when the hub refuses. They are read once, when first
asked for, never at import.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from hub.core.wording import Wording

FOLDER = Path(__file__).parent
FILES = ("de.json", "schemas.de.json", "policies.de.json", "problems.de.json")


def read_german(name: str) -> dict[str, str]:
    document = json.loads((FOLDER / name).read_text("utf-8"))
    return {str(k): str(v) for k, v in document.items()}


@cache
def load_wording() -> Wording:
    german: dict[str, str] = {}
    for name in FILES:
        german.update(read_german(name))
    return Wording(german)
