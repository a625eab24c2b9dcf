"""The concurrent paths of the write and read pipelines.

Small PUTs publish in one worker call with the manifest staged (temp file, fsync) before
the writer lock and renamed under it; big PUTs write several chunks at once; GETs read
the next chunk ahead. These tests run many of them at once and then check that the
index, the manifests on disk and the chunk files agree (fsck, and a rebuild from the
disks that must give back the same objects).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import trio

from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, Store, StoreConfig, open_store
from tests.support.manifest_copies import ManifestCopy, every_copy

from .conftest import CHUNK, body_of, chunk_files, make_config, rand, read_all


def manifest_files(config: StoreConfig) -> list[ManifestCopy]:
    """Every current manifest copy: files and shelf rows."""
    out: list[ManifestCopy] = []
    for mp in config.mountpaths:
        out += every_copy(mp)
    return out


def tmp_files(config: StoreConfig) -> list[Path]:
    out: list[Path] = []
    for mp in config.mountpaths:
        if (mp / "tmp").is_dir():
            out += list((mp / "tmp").iterdir())
    return out


async def _index_objects(store: Store) -> dict[str, tuple[str, int]]:
    rows = await trio.to_thread.run_sync(
        store.index.rows, "SELECT key, etag, generation FROM objects WHERE bucket = 'b'"
    )
    return {r[0]: (r[1], int(r[2])) for r in rows}


async def test_many_concurrent_small_puts_same_and_distinct_keys(tmp_path: Path) -> None:
    config = make_config(tmp_path, fsync=True)
    bodies = {i: rand(100 + i) for i in range(64)}
    async with open_store(config) as store:
        await store.create_bucket("b", {"mirror.copies": 2})
        last: dict[str, bytes] = {}

        async def writer(w: int) -> None:
            for r in range(6):
                # 16 writers over 8 hot keys and their own cold keys
                hot = f"hot-{(w + r) % 8}"
                data = bodies[(w * 7 + r) % 64]
                await store.put_object(
                    "b", hot, body_of(data), ObjectMeta(), expected_size=len(data)
                )
                await store.put_object("b", f"cold-{w}-{r}", body_of(data), ObjectMeta())

        async with trio.open_nursery() as nursery:
            for w in range(16):
                nursery.start_soon(writer, w)
        # every object reads back whole and matches its etag
        page = await store.list_objects("b", max_keys=10_000)
        assert len(page.entries) == 8 + 16 * 6
        for e in page.entries:
            info = await store.head_object("b", e.key, with_data=True)
            data = await read_all(store, info)
            assert hashlib.md5(data).hexdigest() == info.etag
            last[e.key] = data
        report = await store.fsck(rebuild=False)
        assert report.clean, report
        before = await _index_objects(store)
        # one manifest per copy, no temp file left behind
        assert len(manifest_files(config)) == 2 * len(before)
        assert tmp_files(config) == []
    # the disks alone give back the same objects (same etag, same generation)
    os.unlink(config.index_dir / "index.db")
    async with open_store(config) as store:
        assert await _index_objects(store) == before
        for key, data in last.items():
            assert await read_all(store, await store.head_object("b", key)) == data


async def test_generation_grows_in_commit_order(store: Store) -> None:
    await store.create_bucket("b")
    gens = []
    for _ in range(5):
        info = await store.put_object("b", "k", body_of(b"x"), ObjectMeta())
        gens.append(info.generation)
    assert gens == sorted(gens) and len(set(gens)) == 5


async def test_conditional_small_puts_race(store: Store, config: StoreConfig) -> None:
    """if-none-match=* from 16 writers at once: exactly one wins; the others leave nothing."""
    await store.create_bucket("b")
    won: list[int] = []

    async def writer(i: int) -> None:
        try:
            await store.put_object("b", "once", body_of(b"%d" % i), ObjectMeta(), if_none_match="*")
            won.append(i)
        except S3Error as e:
            assert e.code == "PreconditionFailed"

    async with trio.open_nursery() as nursery:
        for i in range(16):
            nursery.start_soon(writer, i)
    assert len(won) == 1
    info = await store.head_object("b", "once")
    assert await read_all(store, info) == b"%d" % won[0]
    assert tmp_files(config) == []
    assert len(chunk_files(config)) == 1


async def test_big_puts_and_ranged_reads_concurrently(store: Store) -> None:
    await store.create_bucket("b")
    # over 1 MiB (not read along with the head): 17+ chunks, written 2 at a time
    datas = {f"big-{i}": rand(17 * CHUNK + 1000 * i) for i in range(4)}

    async def put(key: str, data: bytes) -> None:
        await store.put_object(
            "b", key, body_of(data, 30_000), ObjectMeta(), expected_size=len(data)
        )

    async with trio.open_nursery() as nursery:
        for k, v in datas.items():
            nursery.start_soon(put, k, v)
    results: dict[tuple[str, int, int | None], bytes] = {}

    async def get(key: str, start: int, end: int | None) -> None:
        info = await store.head_object("b", key, with_data=True)
        assert info.data is None  # big: not read along with the head
        results[(key, start, end)] = await read_all(store, info, start, end)

    spans = [
        (0, None), (CHUNK - 3, 3 * CHUNK + 5), (5 * CHUNK, 5 * CHUNK), (100, 150),
        (16 * CHUNK, None),
    ]
    async with trio.open_nursery() as nursery:
        for k in datas:
            for start, end in spans:
                nursery.start_soon(get, k, start, end)
    for (key, start, end), got in results.items():
        data = datas[key]
        assert got == data[start : len(data) if end is None else end + 1]


async def test_head_with_data_small_and_ranges(store: Store) -> None:
    await store.create_bucket("b")
    data = rand(CHUNK + 7)  # two chunks, still "small" (<= 1 MiB)
    await store.put_object("b", "k", body_of(data), ObjectMeta())
    info = await store.head_object("b", "k", with_data=True)
    assert info.data == data
    assert await read_all(store, info, 5, CHUNK + 2) == data[5 : CHUNK + 3]
    plain = await store.head_object("b", "k")
    assert plain.data is None and plain == info  # the bytes are not part of the record


async def test_abandoned_read_ahead(store: Store) -> None:
    """A reader that stops after the first piece leaves no pin behind."""
    await store.create_bucket("b")
    await store.put_object("b", "k", body_of(rand(4 * CHUNK)), ObjectMeta())
    info = await store.head_object("b", "k")
    reader = store.read_object(info)
    assert len(await reader.__anext__()) == CHUNK
    await reader.aclose()  # its finally unpins at once (the read-ahead thread may run on)
    assert not any(store.chunks.is_pinned(c.id) for c in info.chunks)
    await store.delete_object("b", "k")
    assert await store.gc() == 0  # the delete already removed every chunk
