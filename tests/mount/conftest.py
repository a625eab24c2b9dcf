"""Fixtures for real FUSE mounts: an S3 endpoint, a bucket per test, mounts that always go.

The endpoint is our node (tests/support/node.py): a node that does not start fails the
tests, never swaps in another server. AISFS_MOUNT_ENDPOINT=moto runs them against moto's
server instead, when asked (tests/mount/test_foreign_s3.py always does). Every
mount is unmounted in a finalizer (fusermount3 -uz), even when the test fails, and the
mount's log must hold no traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from mountkit import (  # noqa: E402
    ROOT,
    Endpoint,
    Moto,
    Mount,
    MountFactory,
    _mounted,
    free_port,
    mount_cmd,
    s3_client,
)

from support.node import new_node  # noqa: E402


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    want = os.environ.get("AISFS_MOUNT_ENDPOINT", "node")
    if want == "moto":
        moto = Moto(free_port()).start()
        yield Endpoint(moto.url, "moto", s3_client(moto.url), moto.stop)
        moto.stop()
        return
    if want != "node":
        pytest.fail(f"AISFS_MOUNT_ENDPOINT={want!r}: node (the default) or moto")
    # a node that does not start raises here: every test of the session using it errors
    node = new_node(tmp_path_factory.mktemp("node")).start()
    yield Endpoint(node.s3_url, "node", s3_client(node.s3_url), node.stop)
    assert node.stop() == 0, node.log()


@pytest.fixture
def bucket(endpoint: Endpoint) -> str:
    name = f"mnt-{uuid.uuid4().hex[:12]}"
    endpoint.s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def mount_factory(tmp_path: Path, endpoint: Endpoint) -> Iterator[MountFactory]:
    mounts: list[Mount] = []
    n = 0

    def make(
        source: str,
        options: str = "",
        *,
        url: str | None = None,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> Mount:
        nonlocal n
        n += 1
        mp = tmp_path / f"mnt{n}"
        mp.mkdir()
        cache = tmp_path / f"cache{n}"
        log = tmp_path / f"mount{n}.log"
        opts = f"cache_dir={cache},timeout=10"
        if options:
            opts += "," + options
        src = [] if source == "--all" else [source]
        cmd = mount_cmd(
            "-f",
            "--endpoint",
            url or endpoint.url,
            "-o",
            opts,
            *args,
            *(["--all"] if source == "--all" else []),
            *src,
            str(mp),
        )
        env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        with open(log, "ab") as lf:
            proc = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        m = Mount(mp, url or endpoint.url, source, log, proc, cache)
        mounts.append(m)
        deadline = time.monotonic() + 30
        while not _mounted(mp):
            if proc.poll() is not None:
                raise RuntimeError(f"mount exited {proc.returncode}:\n{m.log_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"mount not ready in 30s:\n{m.log_text()}")
            time.sleep(0.05)
        return m

    yield make
    for m in mounts:
        m.unmount()
    for m in mounts:
        text = m.log_text()
        assert "Traceback" not in text, text


@pytest.fixture
def mnt(mount_factory: MountFactory, bucket: str) -> Mount:
    """The test's bucket mounted with default options."""
    return mount_factory(bucket)
