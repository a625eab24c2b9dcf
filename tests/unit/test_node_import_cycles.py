"""No import circle inside aisfs_node/: each wing (aisfs_node/s3, aisfs_node/native) has a
context module its router and its handlers import, and nothing imports a router back.

Every import counts - relative or absolute, inside functions and under TYPE_CHECKING -
walked with ast (support/import_cycles.py).
"""

from __future__ import annotations

from support.import_cycles import find_cycles, import_graph


def test_the_walk_sees_the_node() -> None:
    graph = import_graph("aisfs_node")
    assert "aisfs_node.native.wire" in graph["aisfs_node.native.api"]
    assert "aisfs_node.s3.context" in graph["aisfs_node.s3.api"]
    assert "aisfs_node.native.admin" in graph["aisfs_node.native.api"]  # a from-package import


def test_no_import_cycle_in_the_node() -> None:
    cycles = find_cycles(import_graph("aisfs_node"))
    assert not cycles, "import circles: " + "; ".join(" <-> ".join(c) for c in cycles)
