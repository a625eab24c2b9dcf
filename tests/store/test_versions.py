"""Bucket versioning in the store: versions kept on overwrite, delete markers, removal of
one version (the next becomes current), the null version, listings, GC and fsck keeping
every version, the removal guard and per-version lock state."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import trio

from aisfs.errors import S3Error
from aisfs.store import Store, open_store
from aisfs.store.types import ObjectMeta

from .conftest import CHUNK, body_of, make_config


async def put(store: Store, bucket: str, key: str, data: bytes) -> str | None:
    info = await store.put_object(bucket, key, body_of(data), ObjectMeta())
    return info.version_id


async def read(store: Store, bucket: str, key: str, vid: str | None = None) -> bytes:
    if vid is None:
        info = await store.head_object(bucket, key)
    else:
        info = await store.head_version(bucket, key, vid)
    return b"".join([p async for p in store.read_object(info)])


async def versions(store: Store, bucket: str, key: str = "") -> list[tuple[str, str, bool, bool]]:
    page = await store.list_versions(bucket, prefix=key)
    return [(e.key, e.version_id, e.is_latest, e.is_marker) for e in page.entries]


async def enabled(store: Store, name: str = "b") -> None:
    await store.create_bucket(name)
    await store.update_bucket_props(name, {"versioning.status": "Enabled"})


@pytest.mark.parametrize("size", [100, 3 * CHUNK + 7])
async def test_overwrite_keeps_versions(tmp_path: Path, size: int) -> None:
    config = make_config(tmp_path, inline_max=4096)
    async with open_store(config) as store:
        await enabled(store)
        datas = [bytes([i]) * size for i in range(3)]
        vids = [await put(store, "b", "k", d) for d in datas]
        assert all(v is not None and len(v) == 32 for v in vids)
        assert len(set(vids)) == 3
        assert await read(store, "b", "k") == datas[2]
        for vid, data in zip(vids, datas, strict=True):
            assert await read(store, "b", "k", vid) == data
        listed = await versions(store, "b")
        assert listed == [("k", vids[2], True, False), ("k", vids[1], False, False),
                          ("k", vids[0], False, False)]
        # the plain listing shows the current only
        page = await store.list_objects("b")
        assert [e.key for e in page.entries] == ["k"]
        assert (await store.fsck()).clean
    # a rebuild from the disks alone keeps them
    async with open_store(config) as store:
        report = await store.fsck(rebuild=True)
        assert report.versions == 2
        assert await versions(store, "b") == listed
        assert await read(store, "b", "k", vids[0]) == datas[0]
        assert (await store.fsck()).clean


async def test_delete_marker_and_version_removal(store: Store) -> None:
    await enabled(store)
    v1 = await put(store, "b", "k", b"one" * 30000)
    v2 = await put(store, "b", "k", b"two" * 30000)
    out = await store.delete_object("b", "k")
    assert out is not None and out.delete_marker and out.version_id
    marker = out.version_id
    with pytest.raises(S3Error) as e:
        await store.head_object("b", "k")
    assert e.value.code == "NoSuchKey"
    assert await store.latest_delete_marker("b", "k") == marker
    assert (await store.head_version("b", "k", marker)).delete_marker
    assert await versions(store, "b") == [
        ("k", marker, True, True), ("k", v2, False, False), ("k", v1, False, False)]
    assert (await store.list_objects("b")).entries == []
    # removing the marker brings v2 back as current
    out = await store.delete_object("b", "k", marker)
    assert out is not None and out.delete_marker and out.version_id == marker
    assert await read(store, "b", "k") == b"two" * 30000
    # removing the current (v2) makes v1 current
    assert v2 is not None and v1 is not None
    await store.delete_object("b", "k", v2)
    assert await read(store, "b", "k") == b"one" * 30000
    assert await versions(store, "b") == [("k", v1, True, False)]
    # a version that is not there: nothing to do (as S3)
    out = await store.delete_object("b", "k", "0" * 32)
    assert out is not None and not out.delete_marker
    with pytest.raises(S3Error) as e:
        await store.head_version("b", "k", "0" * 32)
    assert e.value.code == "NoSuchVersion"
    await store.delete_object("b", "k", v1)
    assert await versions(store, "b") == []
    await store.delete_bucket("b")


async def test_bucket_with_versions_only_is_not_empty(store: Store) -> None:
    await enabled(store)
    await put(store, "b", "k", b"x")
    await store.delete_object("b", "k")
    with pytest.raises(S3Error) as e:
        await store.delete_bucket("b")
    assert e.value.code == "BucketNotEmpty"


async def test_null_version_and_suspended(store: Store) -> None:
    await store.create_bucket("b")
    assert await put(store, "b", "k", b"before") is None
    await store.update_bucket_props("b", {"versioning.status": "Enabled"})
    v1 = await put(store, "b", "k", b"first")
    assert await read(store, "b", "k", "null") == b"before"
    assert await versions(store, "b") == [("k", v1, True, False), ("k", "null", False, False)]
    await store.update_bucket_props("b", {"versioning.status": "Suspended"})
    assert await put(store, "b", "k", b"s1") is None  # replaces the null version
    assert await versions(store, "b") == [("k", "null", True, False), ("k", v1, False, False)]
    assert await read(store, "b", "k", "null") == b"s1"
    assert await put(store, "b", "k", b"s2") is None
    assert await versions(store, "b") == [("k", "null", True, False), ("k", v1, False, False)]
    out = await store.delete_object("b", "k")  # a null delete marker replaces it
    assert out is not None and out.version_id == "null" and out.delete_marker
    assert await versions(store, "b") == [("k", "null", True, True), ("k", v1, False, False)]


async def test_list_versions_pages_and_prefixes(store: Store) -> None:
    await enabled(store)
    want = []
    for key in ["a/1", "a/2", "b", "c"]:
        vids = [await put(store, "b", key, key.encode() * i) for i in range(1, 4)]
        want += [(key, v) for v in reversed(vids)]
    got = []
    km, vm = "", ""
    while True:
        page = await store.list_versions("b", key_marker=km, version_id_marker=vm, max_keys=2)
        got += [(e.key, e.version_id) for e in page.entries]
        if not page.is_truncated:
            break
        assert page.next_key_marker is not None
        km, vm = page.next_key_marker, page.next_version_id_marker or ""
    assert got == want
    page = await store.list_versions("b", delimiter="/")
    assert page.common_prefixes == ["a/"]
    assert [e.key for e in page.entries] == ["b"] * 3 + ["c"] * 3
    page = await store.list_versions("b", delimiter="/", max_keys=1)
    assert page.common_prefixes == ["a/"] and page.is_truncated
    page = await store.list_versions("b", delimiter="/", key_marker="a/", max_keys=1)
    assert [e.key for e in page.entries] == ["b"]


async def test_gc_keeps_chunks_of_old_versions(store: Store) -> None:
    await enabled(store)
    old = os.urandom(2 * CHUNK)
    v1 = await put(store, "b", "k", old)
    await put(store, "b", "k", os.urandom(2 * CHUNK))
    assert v1 is not None
    await store.gc()
    assert await read(store, "b", "k", v1) == old
    await store.delete_object("b", "k", v1)  # now its chunks go
    rows = store.index.rows("SELECT count(*) FROM chunks")
    assert rows[0][0] == 2


async def test_copy_from_a_version(store: Store) -> None:
    await enabled(store)
    v1 = await put(store, "b", "k", b"one")
    await put(store, "b", "k", b"two")
    info = await store.copy_object("b", "k", "b", "c", src_version=v1)
    assert info.version_id is not None
    assert await read(store, "b", "c") == b"one"


async def test_removal_guard_and_locks(store: Store) -> None:
    await enabled(store)
    v1 = await put(store, "b", "k", b"one")
    await put(store, "b", "k", b"two")
    assert v1 is not None
    lock = json.dumps({"mode": "GOVERNANCE", "until_ns": 1, "legal_hold": True})
    await store.set_version_lock("b", "k", v1, lock)
    assert json.loads(await store.get_version_lock("b", "k", v1) or "") == json.loads(lock)
    assert await store.get_version_lock("b", "k", None) is None
    seen = []

    def guard(bucket: str, key: str, vid: str, lock_json: str | None) -> None:
        seen.append((key, vid, lock_json is not None))
        if lock_json is not None:
            raise S3Error("AccessDenied", "locked")

    store.version_removal_guard = guard
    with pytest.raises(S3Error):
        await store.delete_object("b", "k", v1)
    assert await read(store, "b", "k", v1) == b"one"
    await store.delete_object("b", "k")  # a marker removes nothing
    assert seen == [("k", v1, True)]
    # unversioned bucket: a delete and an overwrite go past the guard
    await store.create_bucket("u")
    await put(store, "u", "x", b"1")
    await put(store, "u", "x", b"2")
    await store.delete_object("u", "x")
    assert seen[1:] == [("x", "null", False), ("x", "null", False)]
    store.version_removal_guard = None
    # the lock survives a rebuild (it is in the version's manifest)
    await store.fsck(rebuild=True)
    assert json.loads(await store.get_version_lock("b", "k", v1) or "") == json.loads(lock)


async def test_detach_keeps_versions(tmp_path: Path) -> None:
    """A mountpath leaving the set takes no version with it: its version files are copied
    where placement wants them (resilver's drain), as its manifests and chunks are."""
    from .test_resilver import wait_idle

    config = make_config(tmp_path, inline_max=4096)
    async with open_store(config) as store:
        await enabled(store)
        want: dict[tuple[str, str], bytes] = {}
        for k in range(12):
            for i in range(3):
                data = os.urandom(100 if i % 2 else CHUNK + 10)
                vid = await put(store, "b", f"k{k}", data)
                assert vid is not None
                want[(f"k{k}", vid)] = data
        await store.delete_object("b", "k0")  # a marker
        mp0 = store.mps.all[0].root
        await trio.to_thread.run_sync(store.admin.detach, mp0)
        await wait_idle(store)
        for (key, vid), data in want.items():
            assert await read(store, "b", key, vid) == data
        assert (await store.fsck()).clean
        report = await store.fsck(rebuild=True)
        assert report.versions == len(want) - 11 + 1  # k0 has no current: a marker
        assert await store.latest_delete_marker("b", "k0") is not None


async def test_mirror_copies_reach_old_versions(store: Store) -> None:
    """Raising ``mirror.copies`` gives the chunks of non-current versions their copies
    too (resilver walks the versions' chunks as it walks the current objects')."""
    from .test_resilver import wait_idle, where

    await enabled(store)
    for _ in range(3):
        await put(store, "b", "k", os.urandom(2 * CHUNK))
    ids = [r[0] for r in store.index.rows("SELECT id FROM chunks")]
    assert len(ids) == 6 and all(len(where(store, c)) == 1 for c in ids)
    await store.update_bucket_props("b", {"mirror.copies": 2})
    await wait_idle(store)
    assert all(len(where(store, c)) == 2 for c in ids)
    # the version files too: two copies each, where placement wants them
    files = [p for mp in store.mps.all for p in Path(mp.root, "manifests").glob("*/*~*.json")]
    assert len(files) == 4


async def test_scrub_repairs_a_version_file(tmp_path: Path) -> None:
    from .test_resilver import wait_idle

    config = make_config(tmp_path, inline_max=4096)
    async with open_store(config) as store:
        await store.create_bucket("b", {"mirror.copies": 2})
        await store.update_bucket_props("b", {"versioning.status": "Enabled"})
        v1 = await put(store, "b", "k", b"small and inline")
        await put(store, "b", "k", b"newer")
        assert v1 is not None
        copies = [p for mp in store.mps.all
                  for p in Path(mp.root, "manifests").glob(f"*/*~{v1}.json")]
        assert len(copies) == 2
        data = copies[0].read_bytes()
        copies[0].write_bytes(data[:-4] + b"XXXX")  # its inline bytes damaged
        await trio.to_thread.run_sync(store.admin.scrub)
        await wait_idle(store)
        assert copies[0].read_bytes() == data
        assert await read(store, "b", "k", v1) == b"small and inline"


async def test_rename_in_a_versioned_bucket_loses_no_version(store: Store) -> None:
    await enabled(store)
    old_dst = await put(store, "b", "dst", b"old destination")
    src = await put(store, "b", "src", b"source")
    await store.rename_object("b", "src", "dst")
    assert await read(store, "b", "dst") == b"source"
    assert old_dst is not None and src is not None
    assert await read(store, "b", "dst", old_dst) == b"old destination"
    assert await read(store, "b", "src", src) == b"source"
    assert await store.latest_delete_marker("b", "src") is not None
    for i in range(3):
        await put(store, "b", f"d/{i}", bytes([i]))
    assert await store.rename_prefix("b", "d/", "e/") == 3
    assert [e.key for e in (await store.list_objects("b")).entries] == [
        "dst", "e/0", "e/1", "e/2"]
    assert len((await store.list_versions("b", prefix="d/")).entries) == 6


async def test_an_older_index_is_migrated(tmp_path: Path) -> None:
    """An index made before versioning (no version_id / lock columns, no versions table)
    gets them at open; its objects are the null version."""
    import sqlite3

    config = make_config(tmp_path)
    async with open_store(config) as store:
        await store.create_bucket("b")
        await put(store, "b", "old", b"from before")
    db = sqlite3.connect(config.index_dir / "index.db")
    db.execute("DROP TABLE versions")
    db.execute("ALTER TABLE objects DROP COLUMN version_id")
    db.execute("ALTER TABLE objects DROP COLUMN lock")
    db.commit()
    db.close()
    async with open_store(config) as store:
        await store.update_bucket_props("b", {"versioning.status": "Enabled"})
        vid = await put(store, "b", "old", b"after")
        assert await versions(store, "b") == [("old", vid, True, False),
                                              ("old", "null", False, False)]
        assert await read(store, "b", "old", "null") == b"from before"
        assert (await store.fsck()).clean


async def test_list_versions_reads_a_page_not_the_bucket(store: Store) -> None:
    """Each statement of a ListObjectVersions page is bounded by the entries still wanted
    (max_keys + 1 rows), and a common prefix is one seek: 600 versions under ``dir/`` cost
    a page of 3 a handful of rows (the index's rows counted, nothing timed)."""
    await enabled(store)
    for i in range(300):
        for _ in range(2):
            await put(store, "b", f"dir/{i:03d}", b"x")
    for k in ("a", "z1", "z2"):
        await put(store, "b", k, b"y")
    seen: list[int] = []
    rows = store.index.rows

    def counted(sql: str, params: Any = ()) -> list[Any]:
        out = rows(sql, params)
        seen.append(len(out))
        return out

    store.index.rows = counted  # type: ignore[method-assign]
    try:
        page = await store.list_versions("b", delimiter="/", max_keys=3)
        assert [e.key for e in page.entries] == ["a", "z1"]
        assert page.common_prefixes == ["dir/"] and page.is_truncated
        assert sum(seen) <= 10 and max(seen) <= 4
        seen.clear()
        total = 0
        km, vm = "", ""
        while True:  # every version of dir/, 100 at a time
            page = await store.list_versions("b", prefix="dir/", key_marker=km,
                                             version_id_marker=vm, max_keys=100)
            total += len(page.entries)
            if not page.is_truncated:
                break
            km, vm = page.next_key_marker or "", page.next_version_id_marker or ""
        assert total == 600 and max(seen) <= 101
    finally:
        store.index.rows = rows  # type: ignore[method-assign]
