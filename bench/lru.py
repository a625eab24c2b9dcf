"""The LRU's costs: what a warm GET pays for its access time, a flush of access times, a
page of the coldest candidates, and an eviction run over a store of small cached objects.

    .venv/bin/python -m bench.lru [--objects 20000]

The store is on the temp directory (fsync off, as the tests run it); the run is made to
evict everything (highwm 0, lowwm 0: never reached), so objects/s is the eviction rate.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import timeit
from pathlib import Path

import trio

from aisfs.backend.lru import ACKNOWLEDGED, PAGE, Watermarks, evictable_buckets, run_lru_sync
from aisfs.store import Store, StoreConfig, open_store
from aisfs.store.lru import access_times, coldest_sync, touch
from aisfs.store.types import ObjectMeta

BUCKET = "@aws:bench"


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data: bytes | None = data

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        if self.data is None:
            raise StopAsyncIteration
        out, self.data = self.data, None
        return out


async def fill(store: Store, n: int) -> None:
    await store.create_bucket(BUCKET, {"provider": "aws"})
    meta = {"source": "s3://bench", "etag": "e", "version": ""}
    for i in range(n):
        await store.put_object(BUCKET, f"dir/obj-{i:08d}", _Body(os.urandom(4096)),
                               ObjectMeta(extra={"remote": dict(meta)}))


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for mp in ("mp1", "mp2"):
            (root / mp).mkdir()
        cfg = StoreConfig(mountpaths=[root / "mp1", root / "mp2"], index_dir=root / "index",
                          fsync=False)
        async with open_store(cfg) as store:
            t = time.perf_counter()
            await fill(store, n)
            print(f"fill: {n} objects of 4 KiB in {time.perf_counter() - t:.1f} s")
            per = min(timeit.repeat(lambda: touch(store, BUCKET, "dir/obj-00000001"),
                                    number=100_000, repeat=5)) / 100_000
            print(f"touch (a warm GET's share): {per * 1e9:.0f} ns")
            times = access_times(store.index)
            for i in range(0, n, 2):
                times.touch(BUCKET, f"dir/obj-{i:08d}")
            t = time.perf_counter()
            rows = await trio.to_thread.run_sync(times.flush_sync, store.index)
            print(f"flush: {rows} access times in {time.perf_counter() - t:.3f} s")
            buckets = evictable_buckets(store)
            t = time.perf_counter()
            page = coldest_sync(store.index, buckets, time.time_ns(), None, PAGE, ACKNOWLEDGED)
            print(f"coldest page: {len(page)} of {n} in {time.perf_counter() - t:.3f} s")
            t = time.perf_counter()
            rep = await trio.to_thread.run_sync(
                lambda: run_lru_sync(store, Watermarks(0, 0), dont_evict_seconds=0.0))
            dt = time.perf_counter() - t
            print(f"run: {rep.evicted} evicted in {dt:.2f} s ({rep.evicted / dt:.0f} objects/s)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--objects", type=int, default=20_000)
    trio.run(main, p.parse_args().objects)
