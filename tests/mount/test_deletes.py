"""unlink's DELETE in the background (aisfs_mount/deletes.py): gone at once for the mount, on
the server once the directory is fsync'ed, never overtaking what follows it.
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
from pathlib import Path

import pytest
from mountkit import Endpoint, Moto, MountFactory, free_port, s3_client
from test_tree import s3_keys

pytestmark = [pytest.mark.fuse, pytest.mark.timeout(180)]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def test_unlinks_gone_at_once_and_durable_at_fsyncdir(mount_factory: MountFactory,
                                                      endpoint: Endpoint,
                                                      bucket: str) -> None:
    m = mount_factory(bucket)
    d = m.path / "d"
    d.mkdir()
    for i in range(60):
        endpoint.s3.put_object(Bucket=bucket, Key=f"d/f{i:03d}", Body=b"old")
    assert len(os.listdir(d)) == 60
    for i in range(60):
        os.unlink(d / f"f{i:03d}")
    assert os.listdir(d) == []  # right after: the store may still list some, the mount not
    assert not (d / "f059").exists()
    # the same names made again right away: their uploads go after the DELETEs
    for i in range(0, 60, 3):
        (d / f"f{i:03d}").write_bytes(b"new")
    assert sorted(os.listdir(d)) == [f"f{i:03d}" for i in range(0, 60, 3)]
    _fsync_dir(d)
    keys = sorted(k for k in s3_keys(endpoint, bucket) if k.startswith("d/f"))
    assert keys == [f"d/f{i:03d}" for i in range(0, 60, 3)]
    for k in keys:
        assert endpoint.s3.get_object(Bucket=bucket, Key=k)["Body"].read() == b"new"
    with pytest.raises(FileNotFoundError):
        os.unlink(d / "f001")


def test_rm_rf_then_the_store_is_empty(mount_factory: MountFactory, endpoint: Endpoint,
                                       bucket: str) -> None:
    m = mount_factory(bucket)
    for i in range(200):
        sub = m.path / "tree" / f"d{i // 20:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:03d}").write_bytes(b"y")
    (m.path / "tree" / "d00" / "link").symlink_to("f000")
    os.rename(m.path / "tree" / "d01", m.path / "tree" / "moved")
    for name in sorted(os.listdir(m.path / "tree" / "moved"))[:5]:
        os.unlink(m.path / "tree" / "moved" / name)
    os.rename(m.path / "tree" / "moved", m.path / "tree" / "moved2")  # after those DELETEs
    assert len(os.listdir(m.path / "tree" / "moved2")) == 15
    _fsync_dir(m.path / "tree" / "moved2")
    assert len([k for k in s3_keys(endpoint, bucket) if k.startswith("tree/moved2/f")]) == 15
    import shutil

    shutil.rmtree(m.path / "tree")  # rmdir does not wait for the DELETEs below it
    assert os.listdir(m.path) == []  # (whatever the store still lists)
    _fsync_dir(m.path)  # ... fsync of the parent does
    assert s3_keys(endpoint, bucket) == []
    assert os.listdir(m.path) == []
    m.unmount()
    again = mount_factory(bucket)
    assert os.listdir(again.path) == []


def test_unlinks_then_unmount_at_once_leave_nothing(mount_factory: MountFactory,
                                                     endpoint: Endpoint, bucket: str) -> None:
    """The unmount waits for the DELETEs on their way, and sends again those its exit
    cut short: no file comes back."""
    for i in range(80):
        endpoint.s3.put_object(Bucket=bucket, Key=f"u/f{i:03d}", Body=b"x")
    m = mount_factory(bucket)
    for i in range(80):
        os.unlink(m.path / "u" / f"f{i:03d}")
    m.unmount()
    assert s3_keys(endpoint, bucket) == []


def test_a_failed_delete_is_reported_by_fsyncdir(mount_factory: MountFactory) -> None:
    moto = Moto(free_port()).start()
    try:
        s3 = s3_client(moto.url)
        s3.create_bucket(Bucket="gone")
        for name in ("first", "second", "third"):
            s3.put_object(Bucket="gone", Key=name, Body=b"x")
        m = mount_factory("gone", "timeout=2,retry_window=1,attr_timeout=5", url=moto.url)
        assert sorted(os.listdir(m.path)) == ["first", "second", "third"]
        assert os.stat(m.path / "second").st_size == 1  # (a HEAD: plain S3 lists no mode)
        os.unlink(m.path / "first")  # the bucket's first: sent before unlink returns
        assert "first" not in [o["Key"] for o in s3.list_objects_v2(Bucket="gone")
                               .get("Contents", [])]
        moto.stop()
        os.unlink(m.path / "second")  # in the background: it fails, unlink does not know
        assert not (m.path / "second").exists()
        t = time.monotonic()
        with pytest.raises(OSError) as ei:
            _fsync_dir(m.path)
        assert ei.value.errno == errno.EIO
        assert time.monotonic() - t < 40
        _fsync_dir(m.path)  # reported once
        with pytest.raises(OSError) as ei:
            os.unlink(m.path / "third")  # after a failure: sent before unlink returns
        assert ei.value.errno == errno.EIO
        m.unmount()
        assert "'second' was not deleted" in m.log_text()
    finally:
        moto.stop()


def test_rm_rf_then_the_same_tree_again(mount_factory: MountFactory, endpoint: Endpoint,
                                        bucket: str) -> None:
    """rm -rf answers before its DELETEs are done: the removed directories stay hidden
    from listings read meanwhile (past attr_timeout too), and a directory or file made
    again under a removed name is not undone by a DELETE still queued."""
    m = mount_factory(bucket)
    for i in range(300):
        sub = m.path / "t" / f"d{i // 100}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:03d}").write_bytes(b"y")
    time.sleep(1.2)  # the listings expire: rm -rf lists the store again
    subprocess.run(["rm", "-rf", str(m.path / "t")], check=True, timeout=120)
    assert os.listdir(m.path) == []
    time.sleep(1.2)  # a listing read now may come while DELETEs are still queued
    assert os.listdir(m.path) == []
    (m.path / "t" / "d0").mkdir(parents=True)
    (m.path / "t" / "d0" / "f000").write_bytes(b"again")
    (m.path / "t" / "d1").write_bytes(b"a file where a directory was")
    _fsync_dir(m.path / "t")
    assert s3_keys(endpoint, bucket) == ["t/", "t/d0/", "t/d0/f000", "t/d1"]
    m.unmount()
    again = mount_factory(bucket)
    assert (again.path / "t" / "d0" / "f000").read_bytes() == b"again"
    assert sorted(os.listdir(again.path / "t")) == ["d0", "d1"]
