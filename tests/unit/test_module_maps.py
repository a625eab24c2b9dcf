"""The module maps of docs/store.md and docs/mount.md name every module of their package
and nothing that is gone (issue 18: the docs stay in step with the layout)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAPS = [("docs/store.md", "aisfs/store"), ("docs/mount.md", "aisfs_mount")]


def named_in_tables(doc: Path) -> set[str]:
    """The ``.py`` paths in the first column of the document's tables."""
    named: set[str] = set()
    for line in doc.read_text().splitlines():
        if line.startswith("| `"):
            named.update(re.findall(r"`([\w/.]+\.py)`", line.split("|")[1]))
    return named


@pytest.mark.parametrize(("doc", "package"), MAPS)
def test_module_map_matches_the_tree(doc: str, package: str) -> None:
    tree = {str(p.relative_to(ROOT / package)) for p in (ROOT / package).rglob("*.py")
            if p.name != "__init__.py"}
    named = named_in_tables(ROOT / doc)
    assert not tree - named, f"{doc} does not name {sorted(tree - named)}"
    assert not named - tree, f"{doc} names modules that are gone: {sorted(named - tree)}"
