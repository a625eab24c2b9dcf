"""No import circle inside node/: each wing (node/s3, node/native) has a context module
its router and its handlers import, and nothing imports a router back.

Every import counts - relative or absolute, inside functions and under TYPE_CHECKING -
walked with ast (support/import_cycles.py).
"""

from __future__ import annotations

from support.import_cycles import find_cycles, import_graph


def test_the_walk_sees_the_node() -> None:
    graph = import_graph("node")
    assert "node.native.wire" in graph["node.native.api"]
    assert "node.s3.context" in graph["node.s3.api"]
    assert "node.native.admin" in graph["node.native.api"]  # ``from node.native import``


def test_no_import_cycle_in_the_node() -> None:
    cycles = find_cycles(import_graph("node"))
    assert not cycles, "import circles: " + "; ".join(" <-> ".join(c) for c in cycles)
