from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, StoreConfig, StoreCorruption, open_store
from aisfs.store.layout import chunk_path

from .conftest import CHUNK, body_of, chunk_files, rand, read_all


async def test_mirror_survives_a_lost_mountpath(config: StoreConfig) -> None:
    objs = {f"k{i}": rand(i * CHUNK // 3 + 1) for i in range(12)}
    async with open_store(config) as store:
        await store.create_bucket("b", {"mirror.copies": 2})
        for k, v in objs.items():
            await store.put_object("b", k, body_of(v), ObjectMeta())
        # every chunk has two copies on distinct mountpaths
        for k in objs:
            for c in (await store.head_object("b", k)).chunks:
                assert sum(Path(chunk_path(mp.root, c.id)).exists() for mp in store.mps.all) == 2
        shutil.rmtree(config.mountpaths[0])
        for k, v in objs.items():
            assert await read_all(store, await store.head_object("b", k)) == v
        # writes go on with the remaining mountpaths
        await store.put_object("b", "after", body_of(rand(3 * CHUNK)), ObjectMeta())
        objs["after"] = await read_all(store, await store.head_object("b", "after"))
    async with open_store(config) as store:
        # the lost one is listed (faulted: unusable at open), not used
        assert len(store.mps.live()) == 2
        assert [mp.state for mp in store.mps.all].count("faulted") == 1
        for k, v in objs.items():
            assert await read_all(store, await store.head_object("b", k)) == v
        assert (await store.fsck(rebuild=False)).clean
    # the lost mountpath is never recreated silently
    assert not config.mountpaths[0].exists()


async def test_missing_mountpath_dir_recreated_empty_is_skipped(config: StoreConfig) -> None:
    async with open_store(config) as store:
        await store.create_bucket("b", {"mirror.copies": 3})
        await store.put_object("b", "k", body_of(b"data"), ObjectMeta())
    shutil.rmtree(config.mountpaths[1])
    config.mountpaths[1].mkdir()
    async with open_store(config) as store:
        assert len(store.mps.live()) == 2
        assert await read_all(store, await store.head_object("b", "k")) == b"data"


def flip_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


async def test_bit_flip_served_from_mirror_and_repaired(config: StoreConfig) -> None:
    data = rand(3 * CHUNK)
    async with open_store(config) as store:
        await store.create_bucket("b", {"mirror.copies": 2})
        info = await store.put_object("b", "k", body_of(data), ObjectMeta())
        cid = info.chunks[1].id
        first = store.mps.order(cid)[0]
        flip_bit(Path(chunk_path(first.root, cid)))
        assert await read_all(store, info) == data
        # the bad copy was rewritten from the good one
        assert await read_all(store, info, CHUNK, 2 * CHUNK - 1) == data[CHUNK : 2 * CHUNK]
        assert Path(chunk_path(first.root, cid)).read_bytes() == data[CHUNK : 2 * CHUNK]


async def test_bit_flip_without_mirror_raises(store) -> None:
    data = rand(2 * CHUNK)
    await store.create_bucket("b")
    info = await store.put_object("b", "k", body_of(data), ObjectMeta())
    [path] = [p for p in chunk_files(store.config) if p.name == info.chunks[1].id]
    flip_bit(path)
    assert await read_all(store, info, 0, 10) == data[:11]  # first chunk is fine
    with pytest.raises(StoreCorruption):
        await read_all(store, info)
    path.write_bytes(data[CHUNK:])  # restore so the fixture's fsck passes


async def test_fsck_rebuild_after_losing_the_index(config: StoreConfig) -> None:
    objs = {f"d/{i}": rand(i * 1000) for i in range(20)}
    async with open_store(config) as store:
        await store.create_bucket("b", {"mirror.copies": 2, "x": "y"})
        await store.create_bucket("empty")
        for k, v in objs.items():
            await store.put_object("b", k, body_of(v), ObjectMeta(user={"k": k}))
        await store.put_object("b", "d/3", body_of(b"new"), ObjectMeta())
        objs["d/3"] = b"new"
        await store.delete_object("b", "d/4")
        del objs["d/4"]
        await store.copy_object("b", "d/5", "b", "e/5")
        objs["e/5"] = objs["d/5"]
        await store.rename_object("b", "d/6", "e/6")
        objs["e/6"] = objs.pop("d/6")
        u = await store.create_upload("b", "mp", ObjectMeta())
        await store.put_part(u.upload_id, "b", "mp", 1, body_of(rand(CHUNK)))
        before = await store.list_objects("b", delimiter="/")
        before_all = await store.list_objects("b")
        before_stats = await store.stats()
    for f in config.index_dir.iterdir():
        f.unlink()
    async with open_store(config) as store:
        assert [b.name for b in await store.list_buckets()] == ["b", "empty"]
        assert (await store.get_bucket("b")).props == {"mirror.copies": 2, "x": "y"}
        assert await store.list_objects("b", delimiter="/") == before
        assert await store.list_objects("b") == before_all
        for k, v in objs.items():
            head = await store.head_object("b", k)
            assert await read_all(store, head) == v
        [up] = await store.list_uploads("b")
        assert up.upload_id == u.upload_id
        assert len(await store.list_parts(u.upload_id, "b", "mp")) == 1
        stats = await store.stats()
        assert stats["chunks"] == before_stats["chunks"]
        report = await store.fsck(rebuild=False)
        assert report.clean, report


async def test_fsck_reports_differences(store) -> None:
    await store.create_bucket("b")
    await store.put_object("b", "k", body_of(b"abc"), ObjectMeta())
    with store.index.wlock:
        store.index.w.execute("DELETE FROM objects")
    report = await store.fsck(rebuild=False)
    assert report.disk_only_objects == [("b", "k")]
    report = await store.fsck(rebuild=True)
    assert report.rebuilt
    assert await read_all(store, await store.head_object("b", "k")) == b"abc"


async def test_gc_removes_orphans_only(store) -> None:
    await store.create_bucket("b")
    info = await store.put_object("b", "k", body_of(rand(2 * CHUNK)), ObjectMeta())
    mp = store.mps.all[0]
    orphan = rand(100)
    from aisfs.store.chunks import chunk_hash

    oid = chunk_hash(orphan)
    Path(chunk_path(mp.root, oid)).write_bytes(orphan)
    pinned = chunk_hash(b"pinned")
    Path(chunk_path(mp.root, pinned)).write_bytes(b"pinned")
    store.chunks.pin(pinned)
    stale = Path(mp.root) / "tmp" / "chunk.1.old"
    stale.write_bytes(b"x")
    old = time.time() - store.config.gc_grace_seconds - 10
    import os

    os.utime(stale, (old, old))
    fresh = Path(mp.root) / "tmp" / "chunk.1.new"
    fresh.write_bytes(b"x")
    assert await store.gc() == 1
    assert not Path(chunk_path(mp.root, oid)).exists()
    assert Path(chunk_path(mp.root, pinned)).exists()
    assert not stale.exists() and fresh.exists()
    store.chunks.unpin([pinned])
    assert await store.gc() == 1
    fresh.unlink()
    assert await read_all(store, info) == await read_all(store, await store.head_object("b", "k"))
    assert len(chunk_files(store.config)) == 2


async def test_read_after_delete_is_nosuchkey(store) -> None:
    await store.create_bucket("b")
    info = await store.put_object("b", "k", body_of(rand(CHUNK)), ObjectMeta())
    await store.delete_object("b", "k")
    with pytest.raises(S3Error) as e:
        await read_all(store, info)
    assert e.value.code == "NoSuchKey"
