"""A node whose lifecycle "day" lasts a second and whose worker runs every half second,
in either auth mode, with a boto3 client: what the lifecycle, versioned-lifecycle and
object-lock tests are served by."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from support.clients import s3_client
from support.node import NodeProcess, new_node

SIGV4 = """
[auth]
mode = "sigv4"
access_keys = { FAKEKEY = "FAKESECRET" }
"""


@contextmanager
def fast_lifecycle_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        auth: str) -> Iterator[tuple[NodeProcess, Any]]:
    """The node (``auth``: "open" or "sigv4") and a boto3 client; stopped cleanly, no
    traceback in its log."""
    monkeypatch.setenv("AISFS_LC_DAY_SECONDS", "1")
    monkeypatch.setenv("AISFS_LC_INTERVAL", "0.5")
    node = new_node(tmp_path, config=SIGV4 if auth == "sigv4" else None).start()
    try:
        yield node, s3_client(node.s3_url)
    finally:
        assert node.stop() == 0
        assert "Traceback" not in node.log()
