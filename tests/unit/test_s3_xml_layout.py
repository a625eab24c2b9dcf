"""aisfs/s3/xml is split by concern: each document module stands on the four shared
ones (records, values, build, reading) and never imports another document module, so none of
them can close an import circle; the package re-exports every public name."""

from __future__ import annotations

import pytest

import aisfs.s3.xml as s3xml
from support.import_cycles import find_cycles, import_graph

PKG = "aisfs.s3.xml"
SHARED = {f"{PKG}.records", f"{PKG}.values", f"{PKG}.build", f"{PKG}.reading"}


def _graph() -> dict[str, set[str]]:
    graph = import_graph("aisfs/s3")
    return {m: deps for m, deps in graph.items() if m.startswith(PKG + ".")}


def test_document_modules_import_only_the_shared_ones() -> None:
    graph = _graph()
    assert f"{PKG}.listing" in graph and f"{PKG}.parse" in graph
    for module, deps in graph.items():
        inside = {d for d in deps if d.startswith(PKG)}
        assert inside <= SHARED, f"{module} imports {sorted(inside - SHARED)}"


def test_no_import_cycle_in_aisfs_s3() -> None:
    cycles = find_cycles(import_graph("aisfs/s3"))
    assert not cycles, "import circles: " + "; ".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("name", s3xml.__all__)
def test_every_public_name_is_exported(name: str) -> None:
    assert getattr(s3xml, name) is not None
