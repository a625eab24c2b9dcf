"""Import circles inside a package, found by walking its sources with ast (nothing is
imported): every import counts, relative or absolute, those inside functions and under
TYPE_CHECKING too - a circle hidden at run time (a deferred import) is still one a reader
has to untangle. Used by the store's, the node's and the mount's import-circle tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
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


def imports_of(path: Path, modules: set[str], root: Path = ROOT) -> set[str]:
    """The modules of the package that ``path`` imports (``from pkg import sub`` names
    sub when sub is a module, else pkg)."""
    me = module_name(path, root)
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


def import_graph(package: str, root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` (a folder below ``root``) it imports."""
    paths = {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}
    modules = set(paths)
    return {name: imports_of(p, modules, root) - {name} for name, p in paths.items()}


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
