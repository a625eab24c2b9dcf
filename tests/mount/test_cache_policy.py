"""The attribute policy (docs/mount.md, Consistency): this mount's own changes are seen at
once whatever `attr_timeout` is; another client's are seen once `attr_timeout` has passed
since the mount last read the store - the kernel is never told to keep an entry, its
attributes or a missing name longer than what they came from holds.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from mountkit import Endpoint, MountFactory
from test_tree import s3_keys

pytestmark = [pytest.mark.fuse, pytest.mark.timeout(180)]


def ls_la(d: Path) -> dict[str, str]:
    """`ls -la` of `d`: name -> its mode and size columns."""
    out = subprocess.run(["ls", "-la", str(d)], capture_output=True, text=True, check=True,
                         timeout=60).stdout.splitlines()
    return {cols[-1]: f"{cols[0][0]} {cols[4]}" for cols in (line.split() for line in out[1:])}


def test_own_changes_seen_at_once_with_a_long_timeout(mount_factory: MountFactory,
                                                      endpoint: Endpoint, bucket: str) -> None:
    m = mount_factory(bucket, "attr_timeout=600")  # nothing expires during the test
    d = m.path / "d"
    d.mkdir()
    assert ls_la(d) == {".": "d 0", "..": "d 0"}
    (d / "a").write_bytes(b"12345")
    assert os.stat(d / "a").st_size == 5
    assert ls_la(d) == {".": "d 0", "..": "d 0", "a": "- 5"}
    with open(d / "a", "ab") as f:  # a write: size and content at once
        f.write(b"678")
    assert os.stat(d / "a").st_size == 8 and (d / "a").read_bytes() == b"12345678"
    os.rename(d / "a", d / "b")
    assert not (d / "a").exists() and (d / "b").read_bytes() == b"12345678"
    assert ls_la(d) == {".": "d 0", "..": "d 0", "b": "- 8"}
    os.mkdir(d / "sub")
    (d / "sub" / "x").write_bytes(b"x")
    os.unlink(d / "b")
    assert not (d / "b").exists()
    assert ls_la(d) == {".": "d 0", "..": "d 0", "sub": "d 0"}
    os.unlink(d / "sub" / "x")
    os.rmdir(d / "sub")
    assert ls_la(d) == {".": "d 0", "..": "d 0"}
    (d / "c").write_bytes(b"c" * 3)
    os.truncate(d / "c", 1)
    assert os.stat(d / "c").st_size == 1 and ls_la(d)["c"] == "- 1"
    m.unmount()
    assert s3_keys(endpoint, bucket) == ["d/", "d/c"]


def test_another_clients_changes_seen_after_the_timeout(mount_factory: MountFactory,
                                                        endpoint: Endpoint,
                                                        bucket: str) -> None:
    """A listing read between t0 and t1: what it says may be handed out until it is
    attr_timeout old (t0 + attr_timeout at the soonest), and not once t1 + attr_timeout
    has passed - not for another whole timeout from the last stat that used it."""
    timeout = 2.0
    m = mount_factory(bucket, f"attr_timeout={timeout:g}")
    d = m.path / "d"
    d.mkdir()
    (d / "f").write_bytes(b"one")
    (d / "gone").write_bytes(b"x")
    time.sleep(timeout + 0.2)  # what the mount made is now as old as a listing may be
    t0 = time.monotonic()  # (before the listing: it was read at t0 or after)
    assert sorted(os.listdir(d)) == ["f", "gone"]
    t1 = time.monotonic()  # (after it: the listing was read at t1 or before)
    endpoint.s3.put_object(Bucket=bucket, Key="d/f", Body=b"second!")
    endpoint.s3.put_object(Bucket=bucket, Key="d/new", Body=b"n")
    endpoint.s3.delete_object(Bucket=bucket, Key="d/gone")
    time.sleep(max(0.0, t0 + timeout * 0.75 - time.monotonic()))
    # within the timeout the mount may answer from the listing: whichever it says, the
    # kernel must not keep it past t0 + timeout
    os.stat(d / "f")
    os.path.exists(d / "new")
    os.path.exists(d / "gone")
    time.sleep(max(0.0, t1 + timeout + 0.2 - time.monotonic()))
    assert os.stat(d / "f").st_size == 7
    assert (d / "f").read_bytes() == b"second!"
    assert (d / "new").exists() and not (d / "gone").exists()
    assert ls_la(d) == {".": "d 0", "..": "d 0", "f": "- 7", "new": "- 1"}


def test_default_timeout_sees_other_clients_within_a_second(mount_factory: MountFactory,
                                                            endpoint: Endpoint,
                                                            bucket: str) -> None:
    m = mount_factory(bucket)  # attr_timeout=1 (as rclone's --attr-timeout)
    (m.path / "k").write_bytes(b"1")
    assert os.stat(m.path / "k").st_size == 1
    endpoint.s3.put_object(Bucket=bucket, Key="k", Body=b"22")
    endpoint.s3.put_object(Bucket=bucket, Key="other", Body=b"333")
    time.sleep(1.2)
    assert os.stat(m.path / "k").st_size == 2
    got = ls_la(m.path)  # (".." of the mount's root is the directory it is mounted on)
    assert got.pop("..")[0] == "d"
    assert got == {".": "d 0", "k": "- 2", "other": "- 3"}
