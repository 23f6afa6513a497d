"""The folders keep the architecture (issue 15): only `hub/store` speaks SQL, and no module imports
itself back through another (no import cycles among `hub` and `adapters`, lazy imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQL_METHODS = {"fetch", "fetchrow", "fetchval", "execute", "executemany", "copy_records_to_table"}


def _modules() -> dict[str, Path]:
    found = {}
    for base in ("hub", "adapters"):
        for path in (ROOT / base).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _sql_calls(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.ImportFrom) and node.module == "hub.store.queries") or (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SQL_METHODS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in {"conn", "pool", "connection", "db"}
        ):
            lines.append(node.lineno)
    return lines


def test_only_the_store_speaks_sql() -> None:
    offenders = []
    for name, path in _modules().items():
        if name.startswith("hub.store"):
            continue
        for line in _sql_calls(ast.parse(path.read_text())):
            offenders.append(f"{path.relative_to(ROOT)}:{line}")
    assert offenders == [], "SQL outside hub/store: " + ", ".join(offenders)


def test_the_check_finds_sql_where_it_is() -> None:
    tree = ast.parse("from hub.store.queries import query\nawait conn.fetch(query('x'))\n")
    assert _sql_calls(tree) == [1, 2]


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """What a module imports, at module level or inside its functions (an import put off to a function
    to dodge a cycle is still one), but not for type checking only."""
    out: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    typing_only = {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for sub in ast.walk(node)
    }
    for sub in ast.walk(tree):
        if id(sub) in typing_only:
            continue
        if isinstance(sub, ast.Import):
            out.update(a.name for a in sub.names)
        elif isinstance(sub, ast.ImportFrom):
            base = sub.module or ""
            if sub.level:
                anchor = package.split(".")[: len(package.split(".")) - sub.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            out.add(base)
            out.update(f"{base}.{a.name}" for a in sub.names)
    return {m for m in out if m in known and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_no_import_cycles() -> None:
    modules = _modules()
    known = set(modules)
    graph = {name: _imports(name, path, known) for name, path in modules.items()}
    # A package's __init__ importing its own submodules is how a package exposes them, not a cycle
    # back into it: an edge from a submodule to its own package's __init__ is what would close one.
    cycles = [c for c in _cycles(graph) if len(c) > 2 or c[0] != c[-1]]
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
