"""The lifecycle worker's walk over a versioned bucket (aisfs_node.lifecycle_versions) on a real
store, at page sizes down to one entry: the outcome is the same as in one page (the next
page listed before a page's removals; a lone delete marker told by the next page's first
key), and a locked version is left and counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aisfs.jobs import Job
from aisfs.s3 import lifecycle as lc
from aisfs.store import Store, StoreConfig, open_store
from aisfs.store.types import ObjectMeta
from aisfs_node import lifecycle_versions as lv


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data: bytes | None = data

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        if self.data is None:
            raise StopAsyncIteration
        data, self.data = self.data, None
        return data


def _config(tmp_path: Path) -> StoreConfig:
    mp = tmp_path / "mp0"
    mp.mkdir()
    return StoreConfig(mountpaths=[mp], index_dir=tmp_path / "index", fsync=False)


async def _fill(store: Store) -> None:
    await store.create_bucket("b")
    await store.update_bucket_props("b", {"versioning.status": "Enabled"})
    for i in range(6):
        for n in range(4):
            await store.put_object("b", f"k{i}", _Body(b"v" * (n + 1)), ObjectMeta())
        if i % 2:
            await store.delete_object("b", f"k{i}")  # a marker over 4 versions
        await store.delete_object("b", f"lone{i}")  # a marker alone


async def _state(store: Store) -> list[tuple[str, bool]]:
    page = await store.list_versions("b", max_keys=10_000)
    return [(e.key, e.is_marker) for e in page.entries]


RULES = [
    lc.LifecycleRule(id="nc", status=lc.ENABLED, filter=lc.LifecycleFilter(),
                     noncurrent_days=1, newer_noncurrent_versions=1),
    lc.LifecycleRule(id="eodm", status=lc.ENABLED, filter=lc.LifecycleFilter(),
                     expired_object_delete_marker=True),
]


@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 1000])
async def test_the_walk_is_the_same_at_any_page_size(tmp_path: Path, page_size: int) -> None:
    async with open_store(_config(tmp_path)) as store:
        await _fill(store)
        job = Job(kind="lifecycle")
        await lv.expire_versions(store, "b", RULES, job, day=1, page_size=page_size)
        want: list[tuple[str, bool]] = []
        for i in range(6):  # the current (data or marker) and the newest noncurrent
            want += [(f"k{i}", bool(i % 2)), (f"k{i}", False)]
        assert await _state(store) == want
        assert job.detail[lv.MARKERS_REMOVED] == 6  # the lone markers
        assert job.detail[lv.VERSIONS_REMOVED] == 6 * 2 + 3  # 2 each, 3 more under markers
        assert job.errors == 0


async def test_a_locked_version_is_left_and_counted(tmp_path: Path) -> None:
    refused: list[str] = []

    def guard(bucket: str, key: str, vid: str, lock: str | None) -> None:
        if lock is not None:
            refused.append(vid)
            raise lc.S3Error("AccessDenied", "Access Denied")

    async with open_store(_config(tmp_path)) as store:
        store.version_removal_guard = guard
        await _fill(store)
        old = (await store.list_versions("b", prefix="k0")).entries[-1].version_id
        await store.set_version_lock("b", "k0", old, json.dumps({"legal_hold": True}))
        job = Job(kind="lifecycle")
        await lv.expire_versions(store, "b", RULES, job, day=1, page_size=2)
        left = [e.version_id for e in (await store.list_versions("b", prefix="k0")).entries]
        assert old in left and len(left) == 3
        assert refused == [old] and job.detail[lv.LOCKED] == 1 and job.errors == 0
