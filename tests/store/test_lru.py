"""The store's side of LRU eviction (aisfs/store/lru.py) and a whole run over a real store
(aisfs/backend/lru.py): access times flushed in batches, the coldest objects of the
evictable buckets, the guarded evict that frees chunk files at once, the ``atimes``
table an older index is given at open."""

from __future__ import annotations

import os
import sqlite3
import time

import trio

from aisfs.backend.lru import ACKNOWLEDGED, Watermarks, evictable, evictable_buckets, run_lru_sync
from aisfs.store import Store, StoreConfig, open_store
from aisfs.store.lru import access_times, coldest_sync, evict_sync, fs_usage_sync
from aisfs.store.types import BucketInfo, ObjectMeta

from .conftest import CHUNK, body_of, chunk_files

CACHE = "@aws:remote"  # an s3:// bucket's store bucket
FRONTED = "fronted"  # an ais:// bucket with backend_bck
PLAIN = "plain"  # an ais:// bucket: never evicted


def cached_meta() -> ObjectMeta:
    return ObjectMeta(extra={"remote": {"source": "s3://remote", "etag": "e", "version": ""}})


async def put(store: Store, bucket: str, key: str, n: int, acked: bool = True) -> int:
    data = os.urandom(n)
    info = await store.put_object(bucket, key, body_of(data),
                                  cached_meta() if acked else ObjectMeta())
    return info.generation


async def three_buckets(store: Store) -> None:
    await store.create_bucket(CACHE, {"provider": "aws"})
    await store.create_bucket(FRONTED, {"backend_bck": "s3://remote"})
    await store.create_bucket(PLAIN)


def names(cands: list[object]) -> list[str]:
    return [f"{c.bucket}/{c.key}" for c in cands]  # type: ignore[attr-defined]


async def test_coldest_orders_by_last_access_and_skips_unacknowledged(store: Store) -> None:
    await three_buckets(store)
    for k in ("a", "b", "c"):
        await put(store, CACHE, k, 1000)
    await put(store, FRONTED, "old-local", 1000, acked=False)  # before backend_bck: kept
    await put(store, FRONTED, "f", 1000)
    times = access_times(store.index)
    now = time.time_ns()
    times.touch(CACHE, "a", now + 3)  # read last
    times.touch(CACHE, "b", now + 2)
    assert await trio.to_thread.run_sync(times.flush_sync, store.index) == 2
    assert len(times) == 0
    buckets = await trio.to_thread.run_sync(evictable_buckets, store)
    assert buckets == [CACHE, FRONTED]
    cands = coldest_sync(store.index, buckets, now + 10, None, 100, ACKNOWLEDGED)
    assert names(cands) == [f"{CACHE}/c", f"{FRONTED}/f", f"{CACHE}/b", f"{CACHE}/a"]
    # paged: past the last of a page
    page1 = coldest_sync(store.index, buckets, now + 10, None, 2, ACKNOWLEDGED)
    page2 = coldest_sync(store.index, buckets, now + 10, page1[-1], 2, ACKNOWLEDGED)
    assert names(page1 + page2) == names(cands)
    # dont_evict_time: nothing accessed at or after the cutoff
    assert names(coldest_sync(store.index, buckets, now + 2, None, 100, ACKNOWLEDGED)) == [
        f"{CACHE}/c", f"{FRONTED}/f"]
    # an older access time flushed later does not move an object back
    times.touch(CACHE, "a", 1)
    await trio.to_thread.run_sync(times.flush_sync, store.index)
    assert names(coldest_sync(store.index, buckets, now + 10, None, 100, ACKNOWLEDGED))[-1] == (
        f"{CACHE}/a")


async def test_evict_frees_the_chunk_files_at_once(store: Store, config: StoreConfig) -> None:
    await three_buckets(store)
    await put(store, CACHE, "big", 5 * CHUNK)
    before = len(chunk_files(config))
    [c] = coldest_sync(store.index, [CACHE], time.time_ns() + 1, None, 10, ACKNOWLEDGED)
    assert await trio.to_thread.run_sync(evict_sync, store, c, time.time_ns())
    assert len(chunk_files(config)) == before - 5  # no gc, no gc_grace_seconds
    assert (await store.list_objects(CACHE)).entries == []


async def test_evict_leaves_an_object_replaced_or_read_since_it_was_chosen(
    store: Store,
) -> None:
    await three_buckets(store)
    await put(store, CACHE, "replaced", 1000)
    await put(store, CACHE, "read", 1000)
    await put(store, CACHE, "read-flushed", 1000)
    cutoff = time.time_ns() + 1
    cands = {c.key: c for c in coldest_sync(store.index, [CACHE], cutoff, None, 10, ACKNOWLEDGED)}
    await put(store, CACHE, "replaced", 2000)  # a new generation (a PUT through the node)
    times = access_times(store.index)
    times.touch(CACHE, "read-flushed", cutoff + 5)  # a GET, its access time flushed
    await trio.to_thread.run_sync(times.flush_sync, store.index)
    times.touch(CACHE, "read", cutoff + 5)  # a GET, not flushed yet
    for key in ("replaced", "read", "read-flushed"):
        assert not await trio.to_thread.run_sync(evict_sync, store, cands[key], cutoff)
    listed = sorted((e.key, e.size) for e in (await store.list_objects(CACHE)).entries)
    assert listed == [("read", 1000), ("read-flushed", 1000), ("replaced", 2000)]


async def test_a_run_evicts_every_cached_copy_and_nothing_else(store: Store) -> None:
    await three_buckets(store)
    await store.create_bucket("@aws:off", {"provider": "aws", "lru.enabled": False})
    for b in (CACHE, FRONTED, PLAIN, "@aws:off"):
        await put(store, b, "x", 3 * CHUNK)
    await put(store, FRONTED, "local", 1000, acked=False)
    await put(store, CACHE, "recent", 1000)
    access_times(store.index).touch(CACHE, "recent", time.time_ns() + 10**12)
    # highwm 0: every file system is above it; lowwm 0 is never reached: all that may go,
    # goes
    rep = await trio.to_thread.run_sync(
        lambda: run_lru_sync(store, Watermarks(0, 0), dont_evict_seconds=0.0))
    assert rep.started and not rep.reached_lowwm
    assert rep.evicted == 2 and rep.evicted_bytes == 6 * CHUNK
    left = {b: sorted(e.key for e in (await store.list_objects(b)).entries)
            for b in (CACHE, FRONTED, PLAIN, "@aws:off")}
    assert left == {CACHE: ["recent"], FRONTED: ["local"], PLAIN: ["x"], "@aws:off": ["x"]}
    # the access times of evicted objects are forgotten; the rest stay
    assert store.index.rows("SELECT bucket, key FROM atimes") == [(CACHE, "recent")]


async def test_under_the_high_watermark_a_run_evicts_nothing(store: Store) -> None:
    await three_buckets(store)
    await put(store, CACHE, "x", 1000)
    rep = await trio.to_thread.run_sync(
        lambda: run_lru_sync(store, Watermarks(99, 100), dont_evict_seconds=0.0))
    assert not rep.started and rep.evicted == 0
    assert [e.key for e in (await store.list_objects(CACHE)).entries] == ["x"]


async def test_two_mountpaths_on_one_file_system_count_once(store: Store) -> None:
    usage = await trio.to_thread.run_sync(fs_usage_sync, store)
    assert len(usage) == 1 and usage[0].fs.count(",") == 2  # three mountpaths in tmp_path
    assert 0 < usage[0].used <= usage[0].total


def test_which_buckets_are_evictable() -> None:
    def b(name: str, **props: object) -> BucketInfo:
        return BucketInfo(name, 0, dict(props))

    assert evictable(b("@aws:x", provider="aws"))
    assert evictable(b("a", backend_bck="s3://x"))
    assert evictable(b("a", **{"backend_bck.name": "x", "backend_bck.provider": "aws"}))
    assert not evictable(b("a"))
    assert not evictable(b("a", backend_bck="ais://x"))  # refused by resolve: not remote
    assert not evictable(b("@aws:x", **{"lru.enabled": False}))
    assert not evictable(b("@aws:x", **{"lru.enabled": "false"}))
    assert not evictable(b("@aws:x", lru={"enabled": False}))


async def test_an_index_from_before_the_table_gets_it_at_open(config: StoreConfig) -> None:
    async with open_store(config) as s:
        await s.create_bucket(CACHE, {"provider": "aws"})
        await put(s, CACHE, "x", 1000)
    db = sqlite3.connect(config.index_dir / "index.db")
    db.execute("DROP TABLE atimes")
    db.commit()
    db.close()
    async with open_store(config) as s:
        times = access_times(s.index)
        times.touch(CACHE, "x")
        assert await trio.to_thread.run_sync(times.flush_sync, s.index) == 1
        assert [c.key for c in coldest_sync(s.index, [CACHE], time.time_ns() + 10**9, None, 10,
                                            ACKNOWLEDGED)] == ["x"]
