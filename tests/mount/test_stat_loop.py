"""A stat of each file of a big directory in turn (`ls -l` in name order, `find`, a loop
over the files just written), once their attributes have expired.

Against our node each such lookup is answered by a window listing of the following
siblings (aisfs_mount/dirs.py), and once a lookup reaches the second half of a window
the next one is listed in the background (`DirCache.read_ahead`): a window per 500
files, and no probe between two of them. Nothing of what docs/mount.md promises moves:
what another client changes is seen once the attribute timeout has passed, what this
mount changes at once, and sizes are exact.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from mountkit import Endpoint, MountFactory
from test_tree import _requests

from aisfs_mount.dirs import SEEN_KEYS, SMALL_DIR

pytestmark = [pytest.mark.fuse, pytest.mark.timeout(300)]

FILES = max(SMALL_DIR, SEEN_KEYS) * 2 + 100  # several windows


def _size(i: int) -> int:
    return i % 97


@pytest.fixture
def big(endpoint: Endpoint, bucket: str) -> str:
    if endpoint.kind != "node":
        pytest.skip("windows of found files come with our node's listings")
    s3 = endpoint.s3

    def put(i: int) -> None:
        s3.put_object(Bucket=bucket, Key=f"big/f{i:05d}", Body=b"s" * _size(i))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(FILES)))
    return bucket


def test_windows_read_ahead(big: str, mount_factory: MountFactory,
                            endpoint: Endpoint) -> None:
    """In name order, the windows follow one another without a probe between them."""
    # (a long attr_timeout: the count does not depend on how fast the loop goes)
    m = mount_factory(big, "attr_timeout=600")
    d = m.path / "big"
    assert os.stat(d / "f00000").st_size == 0  # (a probe and the first window)
    before = _requests(endpoint)
    sizes = [os.stat(d / f"f{i:05d}").st_size for i in range(1, FILES)]
    spent = _requests(endpoint) - before
    assert sizes == [_size(i) for i in range(1, FILES)]
    # a window per SEEN_KEYS files, each read ahead: no probe, no HEAD (without the
    # read-ahead, a probe and a window per SEEN_KEYS files)
    assert sum(spent.values()) <= -(-FILES // SEEN_KEYS) - 1, spent


def test_stat_loop_sees_other_clients_after_the_timeout(big: str, mount_factory: MountFactory,
                                                        endpoint: Endpoint) -> None:
    """Changes behind the mount's back show once attr_timeout (1 s) has passed, whatever
    window was read ahead before them; this mount's own changes show at once."""
    m = mount_factory(big)
    d = m.path / "big"
    names = [d / f"f{i:05d}" for i in range(FILES)]
    assert [os.stat(p).st_size for p in names] == [_size(i) for i in range(FILES)]
    changed, removed, late = FILES - 40, FILES - 30, FILES - 20  # all in the last window
    # through the mount: seen at once, in the middle of the fresh windows
    (d / f"f{late:05d}x").write_bytes(b"new" * 5)
    assert os.stat(d / f"f{late:05d}x").st_size == 15
    os.unlink(d / f"f{late:05d}")
    assert not os.path.exists(d / f"f{late:05d}")
    # behind its back
    endpoint.s3.put_object(Bucket=big, Key=f"big/f{changed:05d}", Body=b"c" * 1234)
    endpoint.s3.delete_object(Bucket=big, Key=f"big/f{removed:05d}")
    endpoint.s3.put_object(Bucket=big, Key="big/zz-other", Body=b"o" * 7)
    time.sleep(1.3)  # past attr_timeout
    want = {p: _size(i) for i, p in enumerate(names)}
    want[names[changed]] = 1234
    del want[names[removed]], want[names[late]]
    got = {p: os.stat(p).st_size for p in names if p.exists()}
    assert got == want
    assert os.stat(d / f"f{late:05d}x").st_size == 15
    assert os.stat(d / "zz-other").st_size == 7
    # and again, once more expired: the windows read ahead show the same
    time.sleep(1.3)
    assert {p: os.stat(p).st_size for p in names if p.exists()} == want
