"""Fixtures for the daemon tests: a test-owned NOTIFY_SOCKET and the test CA."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
sys.path.insert(0, str(HERE))

from daemon_support import NotifySocket  # noqa: E402


@pytest.fixture
def notify_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    """A NOTIFY_SOCKET that every node started in this test inherits."""
    sock = NotifySocket()
    monkeypatch.setenv("NOTIFY_SOCKET", sock.path)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    try:
        yield sock
    finally:
        sock.close()


@pytest.fixture(scope="session")
def make_test_ca() -> Callable[[Path], tuple[Path, Path, Path]]:
    """The test CA of tests/s3api/test_s3_auth.py: (ca.pem, node.pem, key.pem)."""
    spec = importlib.util.spec_from_file_location(
        "aisfs_test_s3_auth", TESTS / "s3api" / "test_s3_auth.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_test_ca
