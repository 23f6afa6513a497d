"""The shape of the code: every module imports, no import cycles, and the pure core touches no edge.

The cycle check reads each module's top-level imports (not those inside functions, nor under
`TYPE_CHECKING`) and looks for strongly connected components. `from package import name` counts as an
import of the package itself (its `__init__` runs) and, when `name` is a submodule, of that too: this is
how `hub.console`'s `__init__` and its views once imported each other.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hub", "adapters")


# what hub/core may not import: the disk, the environment, the database, the web, the edges
CORE_FORBIDDEN = ("os", "pathlib", "importlib.resources", "asyncpg", "aiohttp", "hub.store", "hub.api")
CORE_FORBIDDEN += ("hub.services", "hub.cli", "hub.console", "hub.delivery", "hub.clocks", "adapters")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = modules()


def top_level_imports(name: str, path: Path) -> set[str]:
    """The modules `name` imports when it is imported (every name, known or not)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                visit(node.orelse)
                visit(node.finalbody)
                for handler in node.handlers:
                    visit(handler.body)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = name.split(".") if is_package else name.split(".")[:-1]
                    package = package[: len(package) - node.level + 1]
                    base = ".".join([*package, base] if base else package)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


# a package importing its own submodules is not a cycle: leave the self-edge out
GRAPH = {name: (top_level_imports(name, path) & set(MODULES)) - {name} for name, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_no_import_cycles() -> None:
    assert cycles(GRAPH) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    package = top_level_imports("p.views", Path(__file__).with_name("conftest.py"))
    assert "hub.settings" in package  # conftest's imports, read as p.views would import them


def test_the_core_imports_no_edge_no_disk_and_no_environment() -> None:
    for name, path in MODULES.items():
        if name.startswith("hub.core"):
            imported = top_level_imports(name, path)
            bad = sorted(
                m for m in imported if m.split(".")[0] in CORE_FORBIDDEN or m.startswith(CORE_FORBIDDEN)
            )
            assert bad == [], f"{name} imports {bad}"
            assert "environ" not in path.read_text(encoding="utf-8").replace("environment", ""), name


@pytest.mark.parametrize("name", sorted(m for m in MODULES if not m.endswith("__main__")))
def test_every_module_imports(name: str) -> None:
    importlib.import_module(name)


def test_importing_the_e_mail_renderer_does_no_work() -> None:
    """The templates' environment is built when the first notice is rendered, not at import."""
    code = "import sys, adapters.email_render; print('jinja2' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "False"
