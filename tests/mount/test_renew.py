"""A directory in use keeps a fresh listing (`DirCache.renew`): a lookup of a name that
a listing shows, `RENEW_AT` (0.8) or more into attr_timeout, has the directory listed
again in the background, so stats and unlinks going on in it never wait for a listing
when the old one expires. Nothing of what docs/mount.md promises moves: another client's
change is seen once attr_timeout has passed since the change, and what this mount
changes while a listing is being read again is seen at once - the new listing does not
bring back a name unlinked meanwhile, nor lose one made meanwhile.
"""

from __future__ import annotations

import os
import time

import pytest
from mountkit import Endpoint, MountFactory
from test_tree import _requests

pytestmark = [pytest.mark.fuse, pytest.mark.timeout(300)]

FILES = 60


def _stat_all(d: os.PathLike[str], names: list[str]) -> dict[str, int]:
    out = {}
    for n in names:
        try:
            out[n] = os.stat(os.path.join(d, n)).st_size
        except FileNotFoundError:
            pass
    return out


def test_own_changes_kept_while_listings_are_renewed(mount_factory: MountFactory,
                                                     bucket: str) -> None:
    """Files made and unlinked one after another for a few timeouts, each checked at
    once and every name made so far checked again in each round: renewals start and land
    in between, and none brings back what was unlinked or loses what was made."""
    m = mount_factory(bucket)  # attr_timeout=1
    d = m.path / "busy"
    d.mkdir()
    made: dict[str, int] = {}
    i = 0
    end = time.monotonic() + 3.5
    while time.monotonic() < end:
        name = f"f{i:05d}"
        (d / name).write_bytes(b"m" * (i % 50))
        made[name] = i % 50
        if i % 3 == 2:
            gone = f"f{i - 1:05d}"
            os.unlink(d / gone)
            del made[gone]
            assert not (d / gone).exists()
        i += 1
        if i % 10 == 0:
            assert _stat_all(d, [f"f{j:05d}" for j in range(i)]) == made
    assert _stat_all(d, [f"f{j:05d}" for j in range(i)]) == made
    assert sorted(os.listdir(d)) == sorted(made)


def test_others_changes_seen_in_a_directory_in_use(mount_factory: MountFactory,
                                                   endpoint: Endpoint, bucket: str) -> None:
    """Stats going on all the time (listings renewed again and again): a change behind
    the mount's back shows within attr_timeout, a name added and one deleted too."""
    s3 = endpoint.s3
    for j in range(FILES):
        s3.put_object(Bucket=bucket, Key=f"d/f{j:03d}", Body=b"x" * 10)
    m = mount_factory(bucket)  # attr_timeout=1
    d = m.path / "d"
    names = [f"f{j:03d}" for j in range(FILES)]
    assert _stat_all(d, names) == dict.fromkeys(names, 10)
    before = _requests(endpoint)
    start = time.monotonic()
    while time.monotonic() < start + 1.5:  # in use: renewed as it goes
        assert _stat_all(d, names) == dict.fromkeys(names, 10)
    s3.put_object(Bucket=bucket, Key="d/f007", Body=b"y" * 77)
    s3.delete_object(Bucket=bucket, Key="d/f008")
    s3.put_object(Bucket=bucket, Key="d/new", Body=b"n" * 3)
    changed = time.monotonic()
    while time.monotonic() < changed + 1.3:
        _stat_all(d, names)  # (the old or the new: either may show within the timeout)
    want = dict.fromkeys(names, 10)
    want["f007"] = 77
    del want["f008"]
    assert _stat_all(d, names) == want
    assert os.stat(d / "new").st_size == 3
    if endpoint.kind == "node":
        # about a listing per timeout while in use (plus the first ones): not one per stat
        elapsed = time.monotonic() - start
        spent = _requests(endpoint) - before
        assert sum(spent.values()) <= 4 * (elapsed / 0.5 + 2), spent
