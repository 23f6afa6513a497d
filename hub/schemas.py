"""The message templates on disk: where the schema folder is, and reading it into a `TemplateCatalog`.

The catalogue itself (`hub.core.templates`) is pure and takes the schemas as data; this edge finds the
folder (`$HUB_SCHEMAS_DIR`, else the copy installed inside the package, else the repository's
`schemas/`) and reads `<name>/<major>.<minor>.json` from it. Examples deeper down are never loaded.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.core.templates import TemplateCatalog, TemplateCatalogError

_SCHEMA_FILE = re.compile(r"^[0-9]+\.[0-9]+\.json$")


def default_schema_root(environ: Mapping[str, str] | None = None) -> Path:
    """`$HUB_SCHEMAS_DIR`, else the copy installed inside the package, else the repository's `schemas/`."""
    configured = (os.environ if environ is None else environ).get("HUB_SCHEMAS_DIR")
    if configured:
        root = Path(configured)
        if not root.is_dir():
            raise FileNotFoundError(f"HUB_SCHEMAS_DIR={configured} is not a directory")
        return root
    package = Path(__file__).resolve().parent
    for candidate in (package / "_schemas", package.parent / "schemas"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"no schema folder: set HUB_SCHEMAS_DIR, or install the hub with its schemas "
        f"(looked in {package / '_schemas'} and {package.parent / 'schemas'})"
    )


def read_schemas(root: Path) -> dict[tuple[str, str], Mapping[str, Any]]:
    """Every schema file under `root`, by (name, version)."""
    schemas: dict[tuple[str, str], Mapping[str, Any]] = {}
    for path in sorted(root.glob("*/*.json")):
        if not _SCHEMA_FILE.match(path.name):
            continue
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TemplateCatalogError(f"{path}: {exc}") from exc
        schemas[(path.parent.name, path.name.removesuffix(".json"))] = schema
    return schemas


def load_catalog(root: Path | None = None) -> TemplateCatalog:
    """The catalogue of the schema folder `root` (default: `default_schema_root()`), checked as it loads."""
    return TemplateCatalog(read_schemas(default_schema_root() if root is None else root))
