from __future__ import annotations

import os
import shutil
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


# The layer of each test directory: `./run test -m unit` (seconds), `-m "store or unit"`,
# `-m "not fuse"`... Declared in pyproject.toml; CI runs every layer.
LAYERS = {
    "unit": "unit",  # pure functions: no process, no disk beyond tmp_path, no network
    "store": "store",  # aisfs.store in this process
    "s3api": "node",  # a real node process, spoken to by real S3 clients
    "native": "node",  # a real node process, its native API, the CLI and the SDK
    "readme": "node",  # the README's commands, run for real
    "wire": "wire",  # raw bytes on a node's socket, both HTTP servers
    "backend": "backend",  # moto, Ceph RGW and a second node as S3 backends
    "daemon": "daemon",  # the node as systemd runs it: notify, signals, TLS, mountpaths
    "mount": "fuse",  # real FUSE mounts: needs /dev/fuse and root
}
# Modules in a layer's directory that need none of its machinery are unit tests too (and
# never `fuse`).
PURE = {
    "mount/test_units.py",
    "mount/test_import_cycles.py",
    "store/test_import_cycles.py",
    "native/test_units.py",
}
# mypy --strict over the tree takes a minute: a layer of its own, so `-m unit` stays quick
OWN_LAYER = {"unit/test_typing.py": "static"}
TESTS = Path(__file__).resolve().parent
HAVE_FUSE = os.path.exists("/dev/fuse") and shutil.which("fusermount3") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test gets its layer's marker (LAYERS, PURE); `fuse` tests are skipped without
    /dev/fuse and root. Long property-based runs (``@pytest.mark.fuzz``) run only when
    asked: ``-m fuzz``."""
    run_fuzz = "fuzz" in (config.getoption("markexpr", "") or "")
    skip_fuzz = pytest.mark.skip(reason="a long fuzz run: select it with -m fuzz")
    no_fuse = (
        None if HAVE_FUSE and os.geteuid() == 0
        else pytest.mark.skip(reason="needs /dev/fuse, fusermount3 and root")
    )
    for item in items:
        rel = Path(str(item.path)).resolve().relative_to(TESTS).as_posix()
        layer = OWN_LAYER.get(rel) or LAYERS.get(rel.split("/", 1)[0])
        if rel in PURE:
            item.add_marker(pytest.mark.unit)
            if layer == "fuse":
                layer = None
        if layer is not None:
            item.add_marker(getattr(pytest.mark, layer))
        if layer == "fuse" and no_fuse is not None:
            item.add_marker(no_fuse)
        if "fuzz" in item.keywords and not run_fuzz:
            item.add_marker(skip_fuzz)
