"""No import circle inside aisfs/store: each part's collaborators are below it, never back
(the walk: support/import_cycles.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.import_cycles import find_cycles, import_graph

PACKAGE = "aisfs/store"


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
    assert find_cycles(import_graph("pkg", tmp_path)) == [["pkg.a", "pkg.b"]]


def test_the_walk_sees_the_store() -> None:
    graph = import_graph(PACKAGE)
    assert "aisfs.store.chunks" in graph["aisfs.store.store"]
    assert "aisfs.store.layout" in graph["aisfs.store.chunks"]  # ``from . import layout``


def test_no_import_cycle_in_the_store() -> None:
    cycles = find_cycles(import_graph(PACKAGE))
    assert not cycles, "import circles: " + "; ".join(" <-> ".join(c) for c in cycles)
