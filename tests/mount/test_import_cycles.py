"""No import circle inside aisfs_mount/: each module's collaborators are below it, never back.

Every import counts, those inside functions and under TYPE_CHECKING too: a circle hidden
at run time is still one a reader has to untangle. Walked with ast, nothing imported
(support/import_cycles.py).
"""

from __future__ import annotations

from support.import_cycles import find_cycles, import_graph


def test_find_cycles_sees_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_mount_has_no_import_cycles() -> None:
    graph = import_graph("aisfs_mount")
    assert "aisfs_mount.fs" in graph and "aisfs_mount.remote.s3" in graph
    cycles = find_cycles(graph)
    assert not cycles, "import circles in aisfs_mount/: " + "; ".join(
        " <-> ".join(c) for c in cycles)
