"""Resilver, mountpath lifecycle, auto-disable on I/O failure, scrub (store level)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import trio

from aisfs.store import ObjectMeta, StoreCorruption, open_store
from aisfs.store.admin import MountpathError
from aisfs.store.layout import chunk_path
from aisfs.store.placement import hrw_order
from tests.support.manifest_copies import every_copy

from .conftest import CHUNK, body_of, make_config, rand, read_all


async def wait_idle(store) -> None:  # type: ignore[no-untyped-def]
    assert await trio.to_thread.run_sync(store.admin.wait_idle, 60)


async def fill(store, bucket: str, n: int = 12, copies: int | None = None) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    props = {"mirror.copies": copies} if copies else {}
    await store.create_bucket(bucket, props)
    objs = {}
    for i in range(n):
        data = rand(CHUNK * (1 + i % 3) + i)
        await store.put_object(bucket, f"k{i}", body_of(data), ObjectMeta())
        objs[f"k{i}"] = data
    return objs


async def chunk_ids(store, bucket: str, objs: dict[str, bytes]) -> set[str]:  # type: ignore[no-untyped-def]
    ids: set[str] = set()
    for k in objs:
        ids |= {c.id for c in (await store.head_object(bucket, k)).chunks}
    return ids


def where(store, cid: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {mp.root for mp in store.mps.all if os.path.exists(chunk_path(mp.root, cid))}


def placed(store, cid: str, copies: int) -> set[str]:  # type: ignore[no-untyped-def]
    live = [mp for mp in store.mps.all if mp.enabled and not mp.detaching]
    return {mp.root for mp in hrw_order(cid, live)[:copies]}


async def check_all(store, bucket: str, objs: dict[str, bytes]) -> None:  # type: ignore[no-untyped-def]
    for k, v in objs.items():
        assert await read_all(store, await store.head_object(bucket, k)) == v, k


async def test_add_moves_only_the_chunks_whose_order_changed(store, tmp_path: Path) -> None:
    objs = await fill(store, "bkt", n=20)
    ids = await chunk_ids(store, "bkt", objs)
    before = {cid: where(store, cid) for cid in ids}
    assert all(before[c] == placed(store, c, 1) for c in ids)
    new = tmp_path / "mp-new"
    new.mkdir()
    entry = await trio.to_thread.run_sync(store.admin.add, str(new))
    assert entry["state"] == "enabled"
    await wait_idle(store)
    prog = store.admin.resilver_progress
    assert prog.state == "done" and prog.objects_done == len(objs)
    moved = 0
    for cid in ids:
        assert where(store, cid) == placed(store, cid, 1), cid
        if where(store, cid) != before[cid]:
            moved += 1
            assert where(store, cid) == {str(new)}  # only to the new mountpath
    assert moved == prog.copies_removed == prog.copies_added
    assert 0 < moved < len(ids)
    assert (new / ".aisfs-mountpath.json").exists()
    await check_all(store, "bkt", objs)
    with pytest.raises(MountpathError):
        store.admin.add(str(new))
    with pytest.raises(MountpathError):
        store.admin.add(str(tmp_path / "missing"))


async def test_disable_enable_restores_copies(store) -> None:
    objs = await fill(store, "two", copies=2)
    ids = await chunk_ids(store, "two", objs)
    victim = store.mps.all[0]
    await trio.to_thread.run_sync(store.admin.disable, victim.root)
    assert victim.state == "disabled"
    await check_all(store, "two", objs)  # served from the mirrors at once
    await wait_idle(store)
    for cid in ids:
        copies = where(store, cid) - {victim.root}
        assert copies == placed(store, cid, 2) and len(copies) == 2
    # the last enabled mountpaths cannot all go
    await trio.to_thread.run_sync(store.admin.disable, store.mps.all[1].root)
    with pytest.raises(MountpathError):
        store.admin.disable(store.mps.all[2].root)
    await trio.to_thread.run_sync(store.admin.enable, store.mps.all[1].root)
    await trio.to_thread.run_sync(store.admin.enable, victim.root)
    await wait_idle(store)
    for cid in ids:
        assert where(store, cid) == placed(store, cid, 2)
    await check_all(store, "two", objs)


async def test_deleted_while_disabled_does_not_come_back(store) -> None:
    objs = await fill(store, "two", n=4, copies=3)
    victim = store.mps.all[2]
    await trio.to_thread.run_sync(store.admin.disable, victim.root)
    await store.delete_object("two", "k0")
    await trio.to_thread.run_sync(store.admin.enable, victim.root)
    await wait_idle(store)
    report = await store.fsck(rebuild=True)
    assert ("two", "k0") not in report.disk_only_objects
    del objs["k0"]
    await check_all(store, "two", objs)


async def test_detach_moves_data_away_and_persists(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    async with open_store(config) as store:
        objs = await fill(store, "bkt", n=15)
        mp0 = store.mps.all[0].root
        assert os.listdir(Path(mp0) / "chunks" / "00") is not None
        await trio.to_thread.run_sync(store.admin.detach, mp0)
        await wait_idle(store)
        assert mp0 not in [mp.root for mp in store.mps.all]
        left = [p for p in Path(mp0, "chunks").glob("*/*")]
        assert left == []
        await check_all(store, "bkt", objs)
        assert (await store.fsck(rebuild=False)).clean
    async with open_store(config) as store:  # the detach survives a restart
        assert mp0 not in [mp.root for mp in store.mps.all]
        await check_all(store, "bkt", objs)
        report = await store.fsck(rebuild=True)
        assert report.objects == len(objs)
        # attach it again: it joins placement and the resilver refills it
        await trio.to_thread.run_sync(store.admin.add, mp0)
        await wait_idle(store)
        await check_all(store, "bkt", objs)
    async with open_store(config) as store:
        assert mp0 in [mp.root for mp in store.mps.live()]


async def test_raising_mirror_copies_copies_existing_objects(store) -> None:
    objs = await fill(store, "full", n=20)
    ids = await chunk_ids(store, "full", objs)
    assert sum(len(where(store, c)) for c in ids) == len(ids)
    await store.update_bucket_props("full", {"mirror.copies": 2})
    await wait_idle(store)
    prog = store.admin.resilver_progress
    assert prog.buckets == ["full"] and prog.objects_done == prog.objects_total == len(objs)
    assert prog.bytes_done == sum(len(v) for v in objs.values())
    for cid in ids:
        assert where(store, cid) == placed(store, cid, 2)
    files = [p for mp in store.mps.all for p in Path(mp.root, "chunks").glob("*/*")]
    assert len(files) == 2 * len(ids)
    # manifests too
    mans = [c for mp in store.mps.all for c in every_copy(mp.root)]
    assert len(mans) == 2 * len(objs)
    # and back down to one
    await store.update_bucket_props("full", {"mirror.copies": 1})
    await wait_idle(store)
    files = [p for mp in store.mps.all for p in Path(mp.root, "chunks").glob("*/*")]
    assert len(files) == len(ids)


async def test_resilver_under_concurrent_writes_and_deletes(store, tmp_path: Path) -> None:
    objs = await fill(store, "busy", n=30, copies=2)
    new = tmp_path / "mp-new"
    new.mkdir()
    written: dict[str, bytes] = {}

    async def writer() -> None:
        for i in range(40):
            data = rand(CHUNK + i)
            await store.put_object("busy", f"w{i}", body_of(data), ObjectMeta())
            written[f"w{i}"] = data
            if i % 3 == 0 and f"k{i % 30}" in objs:
                await store.delete_object("busy", f"k{i % 30}")
                objs.pop(f"k{i % 30}", None)
            if i % 10 == 0:
                await store.gc()

    async with trio.open_nursery() as n:
        n.start_soon(writer)
        await trio.to_thread.run_sync(store.admin.add, str(new))
        await trio.to_thread.run_sync(store.admin.detach, store.mps.all[1].root)
    await wait_idle(store)
    await check_all(store, "busy", objs)
    await check_all(store, "busy", written)
    await store.gc()
    await check_all(store, "busy", written)


async def test_auto_disable_when_a_mountpath_becomes_a_file(store) -> None:
    objs = await fill(store, "two", copies=2)
    victim = store.mps.all[0]
    moved = victim.root + ".gone"
    os.rename(victim.root, moved)
    Path(victim.root).write_bytes(b"not a directory")
    try:
        await check_all(store, "two", objs)  # every read served, from mirrors
        await store.put_object("two", "new", body_of(rand(2 * CHUNK)), ObjectMeta())
        assert victim.state == "faulted" and victim.io_errors >= 1
        assert not victim.enabled
        stats = await store.stats()
        entry = next(m for m in stats["mountpaths"] if m["path"] == victim.root)
        assert entry["state"] == "faulted" and entry["io_errors"] >= 1
        await wait_idle(store)
        ids = await chunk_ids(store, "two", objs)
        for cid in ids:
            assert len(where(store, cid) - {victim.root}) == 2
        with pytest.raises(MountpathError):
            store.admin.enable(victim.root)
    finally:
        os.unlink(victim.root)
        os.rename(moved, victim.root)
    await trio.to_thread.run_sync(store.admin.enable, victim.root)
    await wait_idle(store)
    await check_all(store, "two", objs)


async def test_corrupt_chunk_error_mirror_and_scrub(store) -> None:
    one = await fill(store, "one", n=3)
    two = await fill(store, "two", n=3, copies=2)
    c1 = (await store.head_object("one", "k1")).chunks[0].id
    c2 = (await store.head_object("two", "k1")).chunks[0].id
    for cid in (c1, c2):
        path = sorted(where(store, cid))[0]
        f = chunk_path(path, cid)
        data = bytearray(Path(f).read_bytes())
        data[100] ^= 0x01
        Path(f).write_bytes(bytes(data))
    with pytest.raises(StoreCorruption):
        await read_all(store, await store.head_object("one", "k1"))
    prog = await trio.to_thread.run_sync(store.admin.scrub)
    await wait_idle(store)
    assert prog.state == "done", prog
    assert prog.copies_repaired == 1 and prog.lost_chunks == 1
    assert prog.unrepairable == ["one/k1"] and prog.unrepairable_count == 1
    await check_all(store, "two", two)
    for cid in (await chunk_ids(store, "two", two)):
        for root in where(store, cid):
            assert Path(chunk_path(root, cid)).read_bytes() == Path(
                chunk_path(sorted(where(store, cid))[0], cid)
            ).read_bytes()
    del one["k1"]
    await check_all(store, "one", one)
    # leave the store clean for the fixture's fsck
    await store.delete_object("one", "k1")


async def test_mountpath_state_survives_restart(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    extra = tmp_path / "mp-extra"
    extra.mkdir()
    async with open_store(config) as store:
        await fill(store, "bkt", n=3, copies=2)
        await trio.to_thread.run_sync(store.admin.add, str(extra))
        await trio.to_thread.run_sync(store.admin.disable, store.mps.all[0].root)
        await wait_idle(store)
        disabled = store.mps.all[0].root
    async with open_store(config) as store:
        states = {mp.root: mp.state for mp in store.mps.all}
        assert states[str(extra)] == "enabled"
        assert states[disabled] == "disabled"
        assert len(states) == 4
    (config.index_dir / "mountpaths.json").unlink()
    async with open_store(config) as store:
        assert {mp.state for mp in store.mps.all} == {"enabled"}
        assert len(store.mps.all) == 3
        shutil.rmtree(extra)
