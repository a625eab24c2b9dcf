"""Object lock in the store: with the node's guard installed (the sans-IO decision of
aisfs.s3.object_lock), no path removes a protected version for good, and its lock state
and bytes survive GC, a mountpath leaving the set (resilver's drain) and an index rebuild."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import trio

from aisfs.errors import S3Error
from aisfs.s3 import object_lock as ol
from aisfs.store import Store, open_store
from aisfs.store.types import ObjectMeta

from .conftest import CHUNK, body_of, make_config
from .test_resilver import wait_idle

FAR_NS = 1_950_000_000 * ol.NS  # 2031


def guard(bucket: str, key: str, version_id: str, lock: str | None) -> None:
    """What node.s3.object_lock_ops.removal_guard does (no bypass reaches the store)."""
    if lock is not None:
        ol.may_remove(ol.VersionLock.from_json(lock), time.time_ns(), False, False)


async def put(store: Store, key: str, data: bytes) -> str:
    info = await store.put_object("b", key, body_of(data), ObjectMeta())
    assert info.version_id is not None
    return info.version_id


async def read(store: Store, key: str, vid: str) -> bytes:
    info = await store.head_version("b", key, vid)
    return b"".join([p async for p in store.read_object(info)])


async def refused(store: Store, key: str, vid: str) -> None:
    with pytest.raises(S3Error) as e:
        await store.delete_object("b", key, vid)
    assert (e.value.code, e.value.status) == ("AccessDenied", 403)


async def test_locked_versions_survive_gc_resilver_and_rebuild(tmp_path: Path) -> None:
    config = make_config(tmp_path, inline_max=4096)
    async with open_store(config) as store:
        store.version_removal_guard = guard
        await store.create_bucket("b")
        await store.update_bucket_props("b", {"versioning.status": "Enabled"})
        want: dict[tuple[str, str], bytes] = {}
        locks: dict[tuple[str, str], str] = {}
        for k in range(8):
            for i in range(2):
                data = os.urandom(100 if i else 2 * CHUNK + 10)
                vid = await put(store, f"k{k}", data)
                want[(f"k{k}", vid)] = data
                lock = (ol.VersionLock(ol.COMPLIANCE, FAR_NS) if k % 2
                        else ol.VersionLock(None, None, True)).to_json()
                assert lock is not None
                await store.set_version_lock("b", f"k{k}", vid, lock)
                locks[(f"k{k}", vid)] = lock
        for k in range(8):
            await store.delete_object("b", f"k{k}")  # a delete marker: allowed
        await store.gc()
        await trio.to_thread.run_sync(store.admin.detach, store.mps.all[0].root)
        await wait_idle(store)
        await store.gc()
        for (key, vid), data in want.items():
            await refused(store, key, vid)
            assert await read(store, key, vid) == data
            assert await store.get_version_lock("b", key, vid) == locks[(key, vid)]
        await store.fsck(rebuild=True)
        for (key, vid), data in want.items():
            assert await store.get_version_lock("b", key, vid) == locks[(key, vid)]
            await refused(store, key, vid)
            assert await read(store, key, vid) == data
        # lifted (legal hold OFF, an expired retention), a version goes
        key, vid = "k0", next(v for (k, v) in want if k == "k0")
        await store.set_version_lock("b", key, vid, ol.VersionLock(None, None, False).to_json())
        await store.delete_object("b", key, vid)
        with pytest.raises(S3Error):
            await read(store, key, vid)


async def test_an_unversioned_overwrite_of_a_locked_null_version_is_refused(
        tmp_path: Path) -> None:
    """A null version locked (PutObjectRetention on a bucket turned versioned, then lock)
    is never replaced, whatever the bucket's versioning state became."""
    config = make_config(tmp_path, inline_max=4096)
    async with open_store(config) as store:
        store.version_removal_guard = guard
        await store.create_bucket("b")
        await store.put_object("b", "k", body_of(b"null one"), ObjectMeta())
        await store.update_bucket_props("b", {"versioning.status": "Suspended"})
        lock = ol.VersionLock(ol.GOVERNANCE, FAR_NS).to_json()
        assert lock is not None
        await store.set_version_lock("b", "k", "null", lock)
        with pytest.raises(S3Error):  # a Suspended overwrite replaces the null version
            await store.put_object("b", "k", body_of(b"other"), ObjectMeta())
        with pytest.raises(S3Error):
            await store.delete_object("b", "k", "null")
        assert await read(store, "k", "null") == b"null one"
