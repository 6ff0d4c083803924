"""The package's import graph, read from the source (ast): no cycle among the modules outside tui/.

Every import counts, at the top of a module or inside a function: a function-level import that
closes a cycle works only as long as nobody calls that function during the other module's import,
and it hides which module depends on which.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "workbench"


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package outside workbench/tui/."""
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[1:2] == ["tui"]:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that `name` imports, anywhere in its source."""
    is_pkg = path.name == "__init__.py"
    here = name if is_pkg else name.rsplit(".", 1)[0]  # the package a relative import starts from
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # `from . import x` / `from .data import vision`: x may be a module of its own
            found.update(f"{target}.{a.name}" for a in node.names)
    # a module's import of `workbench.a.b` runs `workbench.a` first (unless it is its own package)
    with_parents = set()
    for f in found:
        parts = f.split(".")
        for i in range(2, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if not name.startswith(prefix + ".") and prefix != name:
                with_parents.add(prefix)
    return {m for m in with_parents if m in known}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_top_level_and_function_level_imports():
    graph = import_graph()
    assert "workbench.faults" in graph["workbench.engine"]  # top level: from .faults import RunError
    assert "workbench.models" in graph["workbench.faults"]  # inside user_call: from .models import ...
    assert "workbench.data" in graph["workbench.catalog"]  # from .data import DATASETS
    assert "workbench.tui.app" not in graph["workbench.cli"]  # tui/ is outside the check


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_outside_tui():
    cycles = find_cycles(import_graph())
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)
