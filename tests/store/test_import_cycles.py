"""No import circle inside aisfs/store: each part's collaborators are below it, never back.

Every import counts, relative or absolute, those inside functions and under TYPE_CHECKING
too: a circle hidden at run time (a deferred import) is still one a reader has to untangle.
Walked with ast, nothing imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "aisfs/store"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _base(importer: str, is_package: bool, level: int, module: str | None) -> str:
    """The absolute name a ``from`` import with ``level`` dots refers to."""
    parts = importer.split(".")
    if not is_package:
        parts.pop()  # a module's ``.`` is its package
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([module] if module else []))


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The modules of the package that ``path`` imports (``from pkg import sub`` names
    sub when sub is a module, else pkg)."""
    me = module_name(path)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _base(me, path.name == "__init__.py", node.level, node.module)
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    found.add(sub)
                elif base in modules:
                    found.add(base)
    return found


def import_graph(package: str = PACKAGE) -> dict[str, set[str]]:
    paths = {module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}
    modules = set(paths)
    return {name: imports_of(p, modules) - {name} for name, p in paths.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The modules of each strongly connected group of more than one (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
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
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def test_find_cycles_sees_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]


@pytest.mark.parametrize(
    "source",
    [
        "from . import b",
        "from .b import thing",
        "def f():\n    from .b import thing",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import thing",
        "import pkg.b",
        "from pkg import b",
    ],
)
def test_every_kind_of_import_is_seen(tmp_path: Path, source: str) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text(source + "\n")
    (pkg / "b.py").write_text("from . import a\n")
    global ROOT
    old, ROOT = ROOT, tmp_path
    try:
        assert find_cycles(import_graph("pkg")) == [["pkg.a", "pkg.b"]]
    finally:
        ROOT = old


def test_the_walk_sees_the_store() -> None:
    graph = import_graph()
    assert "aisfs.store.chunks" in graph["aisfs.store.store"]
    assert "aisfs.store.layout" in graph["aisfs.store.chunks"]  # ``from . import layout``


def test_no_import_cycle_in_the_store() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import circles: " + "; ".join(" <-> ".join(c) for c in cycles)
