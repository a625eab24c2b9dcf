"""aisfs.s3 stays sans-IO: no event loop, sockets or files; headers in any common form."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from werkzeug.datastructures import Headers as WerkzeugHeaders

import aisfs.s3
from aisfs.s3._headers import get_header, header_items

FORBIDDEN = {"trio", "anyio", "asyncio", "socket", "quart", "hypercorn", "os", "pathlib", "io"}
S3_DIR = Path(aisfs.s3.__file__).parent
MODULES = sorted(S3_DIR.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(S3_DIR)))
def test_no_io_imports(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"


def test_header_forms() -> None:
    w = WerkzeugHeaders([("X-Amz-Meta-A", "1"), ("x-amz-meta-a", "2"), ("Host", "h")])
    asgi = [(b"x-amz-meta-a", b"1"), (b"x-amz-meta-a", b"2"), (b"host", b"h")]
    for h in (w, asgi):
        assert get_header(h, "X-AMZ-META-A") == "1"
        assert get_header(h, "missing") is None
        assert [v for k, v in header_items(h) if k == "x-amz-meta-a"] == ["1", "2"]
    assert get_header({"Range": "bytes=0-1"}, "range") == "bytes=0-1"
