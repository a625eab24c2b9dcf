"""The change feed under a mount (aisfs_mount/notify.py): with a long attr_timeout the
mount still sees another client's PUT, overwrite, DELETE and new file, because the node
tells it; with notify=0 it does not (the feed is what does it); a node restarted under
the mount is followed again; the mount's own writes keep their kernel cache."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mountkit import Endpoint, MountFactory, free_port
from test_tree import _all_requests, _requests

from support.node import NodeProcess, new_node

pytestmark = [pytest.mark.fuse, pytest.mark.timeout(240)]

SIGV4 = """
[auth]
mode = "sigv4"
access_keys = { AKIDNOTIFY = "notify-secret" }
"""


def until(check: Callable[[], bool], what: str, wait: float = 15.0) -> None:
    """Poll `check` until it holds (a generous wait: no timed assertion)."""
    deadline = time.monotonic() + wait
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {wait} s: {what}")
        time.sleep(0.05)


def size_of(p: Path) -> int:
    try:
        return os.stat(p).st_size
    except FileNotFoundError:
        return -1


@pytest.fixture
def node_only(endpoint: Endpoint) -> None:
    if endpoint.kind != "node":
        pytest.skip("the change feed is our node's")


def _foreign_changes_seen(s3: object, bucket: str, root: Path) -> None:
    c: object = s3
    put = c.put_object  # type: ignore[attr-defined]
    put(Bucket=bucket, Key="d/a", Body=b"1")
    put(Bucket=bucket, Key="d/gone", Body=b"g")
    d = root / "d"
    assert sorted(os.listdir(d)) == ["a", "gone"]
    assert size_of(d / "a") == 1 and size_of(d / "new") == -1
    put(Bucket=bucket, Key="d/a", Body=b"22")  # an overwrite: a new size
    until(lambda: size_of(d / "a") == 2, "the overwrite")
    assert (d / "a").read_bytes() == b"22"
    put(Bucket=bucket, Key="d/new", Body=b"333")  # a new file in a listed directory
    until(lambda: "new" in os.listdir(d), "the new file in the listing")
    until(lambda: size_of(d / "new") == 3, "the new file's stat")
    c.delete_object(Bucket=bucket, Key="d/gone")  # type: ignore[attr-defined]
    until(lambda: size_of(d / "gone") == -1 and "gone" not in os.listdir(d), "the DELETE")
    put(Bucket=bucket, Key="e/deep/f", Body=b"x")  # a new directory
    until(lambda: size_of(root / "e" / "deep" / "f") == 1, "a new directory")
    assert os.stat(d / "new").st_mode & 0o777 != 0o711
    time.sleep(1.1)  # (the same ETag: told from the write by its Last-Modified second)
    c.copy_object(  # type: ignore[attr-defined]
        Bucket=bucket, Key="d/new", CopySource={"Bucket": bucket, "Key": "d/new"},
        Metadata={"mode": str(0o100711)}, MetadataDirective="REPLACE")
    until(lambda: os.stat(d / "new").st_mode & 0o777 == 0o711, "a chmod by a copy onto itself")


def test_foreign_changes_are_seen_with_a_long_attr_timeout(
        node_only: None, endpoint: Endpoint, bucket: str, mount_factory: MountFactory) -> None:
    m = mount_factory(bucket, "attr_timeout=600")
    _foreign_changes_seen(endpoint.s3, bucket, m.path)


def test_without_the_feed_the_old_value_stays(
        node_only: None, endpoint: Endpoint, bucket: str, mount_factory: MountFactory) -> None:
    m = mount_factory(bucket, "attr_timeout=600,notify=0")
    endpoint.s3.put_object(Bucket=bucket, Key="a", Body=b"1")
    assert size_of(m.path / "a") == 1
    endpoint.s3.put_object(Bucket=bucket, Key="a", Body=b"22")
    time.sleep(3)  # (what the feed would have told by now: it is off)
    assert size_of(m.path / "a") == 1


def test_own_writes_keep_the_kernel_cache(
        node_only: None, endpoint: Endpoint, bucket: str, mount_factory: MountFactory) -> None:
    polls = _all_requests(endpoint)["ListChanges"]
    m = mount_factory(bucket, "attr_timeout=1")
    # the feed live first (its first answer: the position), else what is written before
    # it is trusted for attr_timeout only - rightly
    until(lambda: _all_requests(endpoint)["ListChanges"] > polls, "the feed's first answer")
    time.sleep(0.2)  # (the mount goes live as it reads that answer)
    names = [m.path / f"f{i:03d}" for i in range(200)]
    for i, p in enumerate(names):
        p.write_bytes(b"x" * i)
    time.sleep(2.5)  # past attr_timeout: without the feed each stat would be a request
    before = _requests(endpoint)
    for _ in range(3):
        assert [os.stat(p).st_size for p in names] == list(range(200))
    spent = _requests(endpoint) - before
    assert sum(spent.values()) == 0, spent


@pytest.fixture
def own_node(tmp_path: Path) -> Iterator[tuple[NodeProcess, str]]:
    port = free_port()
    node = new_node(tmp_path / "node", mountpaths=1, config=SIGV4)
    node.extra_args = ["--listen", f"127.0.0.1:{port}"]
    node.start()
    try:
        yield node, f"http://127.0.0.1:{port}/s3"
    finally:
        node.stop()


def test_node_restarted_under_the_mount_sigv4(
        own_node: tuple[NodeProcess, str], mount_factory: MountFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """In sigv4 mode (the mount signs its polls); the node stopped and started again:
    the mount falls back, subscribes again, and what changes after is seen."""
    node, url = own_node
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDNOTIFY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "notify-secret")
    import boto3

    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                      aws_access_key_id="AKIDNOTIFY", aws_secret_access_key="notify-secret")
    s3.create_bucket(Bucket="restarted")
    s3.put_object(Bucket="restarted", Key="k", Body=b"1")
    m = mount_factory("restarted", "attr_timeout=600", url=url)
    _foreign_changes_seen(s3, "restarted", m.path)
    assert size_of(m.path / "k") == 1
    assert node.stop() == 0
    node.start()
    s3.put_object(Bucket="restarted", Key="k", Body=b"4444")
    until(lambda: size_of(m.path / "k") == 4, "a change after the restart", wait=30)
    s3.put_object(Bucket="restarted", Key="k", Body=b"55555")
    until(lambda: size_of(m.path / "k") == 5, "a change after the resubscription")
    with pytest.raises(OSError) as e:
        os.stat(m.path / "nothing")
    assert e.value.errno == errno.ENOENT


def test_a_prefix_mount_follows_its_keys(
        node_only: None, endpoint: Endpoint, bucket: str, mount_factory: MountFactory) -> None:
    s3 = endpoint.s3
    s3.put_object(Bucket=bucket, Key="pre/a", Body=b"1")
    s3.put_object(Bucket=bucket, Key="other/a", Body=b"1")
    m = mount_factory(f"{bucket}/pre", "attr_timeout=600")
    assert size_of(m.path / "a") == 1 and os.listdir(m.path) == ["a"]
    s3.put_object(Bucket=bucket, Key="other/b", Body=b"22")  # not under the mount
    s3.put_object(Bucket=bucket, Key="pre/a", Body=b"333")
    until(lambda: size_of(m.path / "a") == 3, "the overwrite under the prefix")
    assert os.listdir(m.path) == ["a"]
