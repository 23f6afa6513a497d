"""Every package the hub imports is one a plain `pip install .` brings: the README's first command
(`pip install . && hub demo`, on a bare machine) must not need the test extra. A module may import an
optional extra's package only where that extra is its whole purpose (adapters/threatexchange)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OWN = {"hub", "adapters", "bench", "tests"}
EXTRA_ONLY = {"adapters/threatexchange": "threatexchange"}  # folder -> the extra it belongs to


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_hub_imports_only_what_its_install_declares() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    extras = {extra: {_name(r) for r in reqs} for extra, reqs in project["optional-dependencies"].items()}
    distributions = {
        m: {d.lower().replace("_", "-") for d in ds} for m, ds in packages_distributions().items()
    }
    undeclared = []
    for path in sorted([*(ROOT / "hub").rglob("*.py"), *(ROOT / "adapters").rglob("*.py")]):
        where = path.relative_to(ROOT).as_posix()
        allowed = set(runtime)
        for folder, extra in EXTRA_ONLY.items():
            if where.startswith(folder + "/"):
                allowed |= extras[extra]
        for module in _imports(path) - OWN - set(sys.stdlib_module_names):
            if not distributions.get(module, {module}) & allowed:
                undeclared.append(f"{where}: {module}")
    assert undeclared == [], "imported, but not in pyproject's dependencies: " + ", ".join(undeclared)
