from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import support.node  # noqa: E402
from support.clients import s3_client  # noqa: E402
from support.node import NodeProcess, new_node  # noqa: E402

# Real clients must not pick up a developer's own AWS settings.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "FAKEKEY")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "FAKESECRET")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
os.environ["AWS_CONFIG_FILE"] = "/nonexistent-aisfs-test"
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent-aisfs-test"


@pytest.fixture(autouse=True)
def _node_logs_clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test, every node started so far has logged no Traceback and no
    ERROR line since the last check (support/node.py); stopped nodes leave the list.
    ``@pytest.mark.allow_node_errors`` lets a test expect them."""
    allow = request.node.get_closest_marker("allow_node_errors") is not None
    support.node.ALLOW_ERRORS = allow
    try:
        yield
    finally:
        support.node.ALLOW_ERRORS = False
        started = support.node.STARTED
        errors: list[str] = []
        for proc in list(started):
            if proc.proc is None or proc.proc.poll() is not None:
                started.remove(proc)
            try:
                proc.check_log(allow=allow)
            except support.node.NodeLogError as e:
                errors.append(str(e))
        if errors:
            raise support.node.NodeLogError("\n\n".join(errors))


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
