from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.clients import s3_client  # noqa: E402
from support.node import NodeProcess, new_node  # noqa: E402

# Real clients must not pick up a developer's own AWS settings.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "FAKEKEY")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "FAKESECRET")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
os.environ["AWS_CONFIG_FILE"] = "/nonexistent-aisfs-test"
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent-aisfs-test"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeProcess]:
    """A real node process on a free port, two temp mountpaths, open auth."""
    proc = new_node(tmp_path).start()
    try:
        yield proc
    finally:
        code = proc.stop()
        log = proc.log()
        assert code == 0, f"node exited with {code}:\n{log}"
        assert "Traceback" not in log, log


@pytest.fixture
def s3(node: NodeProcess):  # type: ignore[no-untyped-def]
    return s3_client(node.s3_url)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long property-based runs (``@pytest.mark.fuzz``) run only when asked: ``-m fuzz``."""
    if "fuzz" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="a long fuzz run: select it with -m fuzz")
    for item in items:
        if "fuzz" in item.keywords:
            item.add_marker(skip)
