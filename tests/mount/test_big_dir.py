"""Lookups in a directory of more than SMALL_DIR entries (not listed whole to answer them).

A lookup there that the listings cannot answer asks the store: one delimited listing
from the name on says whether the name is a directory (which wins over an object of
that name) and whether the object is there - with its metadata against our node (one
request), without against plain S3 (a file found then takes a HEAD; a missing name
stays one request). A name whose siblings fill that listing's page falls back to HEAD
key, HEAD key/ and a one-key listing. Against our node a file found also brings the
next 500 siblings in one listing, so a stat of each known one in turn costs no request
while that listing is fresh; a missing name does too (on any store), and the names after
it that listing does not show are missing without a request until it expires - so a loop
creating files there costs a listing per `attr_timeout`, not one per file, and a file
another client writes there shows once it expires. Checked over our node's extras
(`backend=node`) and as plain S3 (`backend=s3`).
"""

from __future__ import annotations

import os
import stat
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from mountkit import Endpoint, MountFactory
from test_tree import _requests

from aisfs_mount.dirs import SMALL_DIR
from aisfs_mount.resolver import PROBE_KEYS

pytestmark = [pytest.mark.fuse, pytest.mark.timeout(300)]

FILES = SMALL_DIR + 5


def _fill(endpoint: Endpoint, bucket: str) -> None:
    s3 = endpoint.s3

    def put(i: int) -> None:
        s3.put_object(Bucket=bucket, Key=f"big/f{i:05d}", Body=f"file {i}".encode())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(FILES)))
    s3.put_object(Bucket=bucket, Key="big/private", Body=b"secret",
                  Metadata={"mode": str(stat.S_IFREG | 0o600), "uid": "123"})
    s3.put_object(Bucket=bucket, Key="big/sub/inner", Body=b"in")
    s3.put_object(Bucket=bucket, Key="big/marked/", Body=b"",
                  Metadata={"mode": str(stat.S_IFDIR | 0o750)})
    s3.put_object(Bucket=bucket, Key="big/both", Body=b"hidden")
    s3.put_object(Bucket=bucket, Key="big/both/x", Body=b"x")
    s3.put_object(Bucket=bucket, Key="big/crowd", Body=b"crowded")
    for i in range(PROBE_KEYS + 2):  # siblings sorting between "crowd" and "crowd/"
        s3.put_object(Bucket=bucket, Key=f"big/crowd-{i:03d}", Body=b"c")
    s3.put_object(Bucket=bucket, Key="big/crowd2/y", Body=b"y")
    for key in ("zz-file", "zz-shadow", "zz-shadow/inner", "zz-z"):
        s3.put_object(Bucket=bucket, Key=f"big/{key}", Body=key.encode())


@pytest.fixture
def big(endpoint: Endpoint, bucket: str) -> str:
    _fill(endpoint, bucket)
    return bucket


@pytest.mark.parametrize("backend", ["node", "s3"])
def test_lookups_in_a_big_directory(big: str, mount_factory: MountFactory,
                                    endpoint: Endpoint, backend: str) -> None:
    if backend == "node" and endpoint.kind != "node":
        pytest.skip("our node's extras need our node")
    m = mount_factory(big, f"backend={backend}")
    d = m.path / "big"
    assert (d / "f00007").read_bytes() == b"file 7"  # (the first lookup lists: too big)
    st = os.stat(d / "private")
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert st.st_uid == 123 and st.st_size == 6
    assert stat.S_ISDIR(os.stat(d / "sub").st_mode)
    assert (d / "sub" / "inner").read_bytes() == b"in"
    st = os.stat(d / "marked")
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o750, oct(st.st_mode)
    assert stat.S_ISDIR(os.stat(d / "both").st_mode)  # the directory wins
    assert (d / "both" / "x").read_bytes() == b"x"
    assert (d / "crowd").read_bytes() == b"crowded"  # its siblings fill the probe's page
    assert stat.S_ISDIR(os.stat(d / "crowd2").st_mode)
    with pytest.raises(FileNotFoundError):
        os.stat(d / "missing")
    with pytest.raises(FileNotFoundError):
        os.stat(d / "f0000")  # a prefix of existing names, not one itself
    # a lookup's window of the following siblings: a directory there still wins
    assert (d / "zz-file").read_bytes() == b"zz-file"
    assert stat.S_ISDIR(os.stat(d / "zz-shadow").st_mode)
    assert (d / "zz-shadow" / "inner").read_bytes() == b"zz-shadow/inner"
    assert (d / "zz-z").read_bytes() == b"zz-z"
    # what a lookup costs, counted by the node
    if endpoint.kind != "node":
        return
    before = _requests(endpoint)
    for i in range(100, 120):
        assert os.stat(d / f"f{i:05d}").st_size == len(f"file {i}")
    files = _requests(endpoint) - before
    again = Counter[str]()
    if backend == "node":  # known files, their attributes revalidated by the window
        before = _requests(endpoint)
        for i in range(100, 120):
            assert os.stat(d / f"f{i:05d}").st_size == len(f"file {i}")
        again = _requests(endpoint) - before
    before = _requests(endpoint)
    for i in range(20):
        assert not os.path.exists(d / f"new{i:03d}")
    missing = _requests(endpoint) - before
    if backend == "node":  # a probe each, the first found also lists the next 500
        assert sum(files.values()) <= 21, files
        assert sum(again.values()) <= 2, again
    else:
        assert sum(files.values()) == 20 * 2, files
    # at most one each: fewer while the window of an earlier missing name is fresh
    assert sum(missing.values()) <= 20, missing
    assert missing["HeadObject"] == 0, missing
    if backend != "node":
        return
    # files written through the mount, their attributes expired: the window again
    for i in range(20):
        (d / f"w{i:03d}").write_bytes(b"w" * i)
    time.sleep(1.2)  # past attr_timeout (1 s): every stat below asks the mount
    before = _requests(endpoint)
    assert [os.stat(d / f"w{i:03d}").st_size for i in range(20)] == list(range(20))
    written = _requests(endpoint) - before
    assert sum(written.values()) <= 5, written  # (one each would be 20)


@pytest.mark.parametrize("backend", ["node", "s3"])
def test_creates_in_a_big_directory(big: str, mount_factory: MountFactory,
                                    endpoint: Endpoint, backend: str) -> None:
    """A loop making files in a big directory: the lookups of the new names are answered
    by a window listing (a listing per attr_timeout, not one per file); what another
    client writes there meanwhile shows once that listing expires."""
    if backend == "node" and endpoint.kind != "node":
        pytest.skip("our node's extras need our node")
    # (a long attr_timeout: the count below does not depend on how fast the loop goes)
    m = mount_factory(big, f"backend={backend},attr_timeout=600")
    d = m.path / "big"
    assert (d / "f00007").read_bytes() == b"file 7"
    before = _requests(endpoint) if endpoint.kind == "node" else None
    for i in range(40):
        (d / f"made{i:03d}").write_bytes(b"m" * i)
    if before is not None:
        spent = _requests(endpoint) - before
        assert spent["PutObject"] == 40, spent
        # a probe and a window per attr_timeout, not one per file
        lists = spent["ListObjects"] + spent["ListObjectsV2"]
        assert lists <= 2, spent
    assert [(d / f"made{i:03d}").read_bytes() for i in range(40)] == [
        b"m" * i for i in range(40)]
    m.unmount()
    m = mount_factory(big, f"backend={backend}")
    d = m.path / "big"
    assert (d / "f00007").read_bytes() == b"file 7"
    assert not (d / "made999").exists()
    endpoint.s3.put_object(Bucket=big, Key="big/made999", Body=b"other")
    endpoint.s3.put_object(Bucket=big, Key="big/madedir/inner", Body=b"in")
    time.sleep(1.2)  # past attr_timeout: the window and the kernel's negative entry expire
    assert (d / "made999").read_bytes() == b"other"
    assert stat.S_ISDIR(os.stat(d / "madedir").st_mode)
    assert (d / "made003").read_bytes() == b"mmm"
