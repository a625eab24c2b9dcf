from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import trio

from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, Store, StoreConfig, open_store

from .conftest import CHUNK, body_of, chunk_files, make_config, rand, read_all

SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 123]


@pytest.mark.parametrize("size", SIZES)
async def test_round_trip_sizes(store: Store, size: int) -> None:
    await store.create_bucket("b")
    data = rand(size)
    meta = ObjectMeta(content_type="text/plain", user={"a": "1"})
    info = await store.put_object("b", "k", body_of(data), meta, expected_size=size)
    assert info.size == size
    assert info.etag == hashlib.md5(data).hexdigest()
    assert len(info.chunks) == -(-size // CHUNK)
    head = await store.head_object("b", "k")
    assert head.etag == info.etag and head.meta.user == {"a": "1"}
    assert await read_all(store, head) == data
    for start, end in [(0, 0), (1, CHUNK), (CHUNK - 1, CHUNK + 1), (size // 2, None), (3, 2)]:
        if size == 0:
            break
        want = data[start : (size if end is None else end + 1)]
        assert await read_all(store, head, start, end) == want, (start, end)


async def test_bad_digest_and_incomplete_body_leave_nothing(store: Store) -> None:
    await store.create_bucket("b")
    data = rand(3 * CHUNK)
    with pytest.raises(S3Error) as e:
        await store.put_object("b", "k", body_of(data), ObjectMeta(), content_md5=b"x" * 16)
    assert e.value.code == "BadDigest"
    with pytest.raises(S3Error) as e:
        await store.put_object("b", "k", body_of(data), ObjectMeta(), expected_size=len(data) + 1)
    assert e.value.code == "IncompleteBody"
    with pytest.raises(S3Error) as e:
        await store.put_object("b", "k", body_of(data), ObjectMeta(), expected_size=10)
    assert e.value.code == "IncompleteBody"
    with pytest.raises(S3Error) as e:
        await store.head_object("b", "k")
    assert e.value.code == "NoSuchKey"
    assert chunk_files(store.config) == []


async def test_hashers_and_before_commit(store: Store) -> None:
    await store.create_bucket("b")
    data = rand(2 * CHUNK + 5)
    sha = hashlib.sha256()
    seen = []

    def check(result: object) -> None:
        seen.append(result)

    info = await store.put_object(
        "b", "k", body_of(data), ObjectMeta(), hashers={"sha256": sha}, before_commit=check
    )
    assert sha.digest() == hashlib.sha256(data).digest()
    assert seen[0].size == len(data) and seen[0].md5 == hashlib.md5(data).digest()

    def refuse(result: object) -> None:
        raise S3Error("BadDigest", "checksum")

    with pytest.raises(S3Error):
        await store.put_object("b", "k", body_of(rand(100)), ObjectMeta(), before_commit=refuse)
    assert (await store.head_object("b", "k")).etag == info.etag


async def test_dedup_stores_once(store: Store, config: StoreConfig) -> None:
    await store.create_bucket("b")
    data = rand(4 * CHUNK)
    a = await store.put_object("b", "a", body_of(data), ObjectMeta())
    n = len(chunk_files(config))
    b = await store.put_object("b", "c", body_of(data), ObjectMeta())
    assert [c.id for c in a.chunks] == [c.id for c in b.chunks]
    assert len(chunk_files(config)) == n == 4
    same = await store.put_object("b", "d", body_of(bytes(3 * CHUNK)), ObjectMeta())
    assert len({c.id for c in same.chunks}) == 1
    stats = await store.stats()
    assert stats["objects"] == 3 and stats["dedup_savings_bytes"] == 6 * CHUNK
    await store.delete_object("b", "a")
    assert await read_all(store, b) == data
    await store.delete_object("b", "c")
    assert len(chunk_files(config)) == 1


async def test_crafted_collision_is_detected(store: Store, config: StoreConfig) -> None:
    await store.create_bucket("b")
    data = rand(CHUNK)
    from aisfs.store.chunks import chunk_hash
    from aisfs.store.layout import chunk_path

    cid = chunk_hash(data)
    evil = rand(CHUNK)
    # plant other bytes under data's id on every mountpath (as a crafted collision would)
    for mp in store.mps.all:
        with open(chunk_path(mp.root, cid), "wb") as f:
            f.write(evil)
    info = await store.put_object("b", "k", body_of(data), ObjectMeta())
    assert info.chunks[0].id == f"{cid}-1"
    assert await read_all(store, info) == data
    # the planted files are orphans: gc removes them, the object survives
    assert await store.gc() == 1
    assert await read_all(store, await store.head_object("b", "k")) == data


async def test_overwrite_and_delete(store: Store, config: StoreConfig) -> None:
    await store.create_bucket("b")
    first = rand(2 * CHUNK)
    second = rand(CHUNK + 7)
    i1 = await store.put_object("b", "k", body_of(first), ObjectMeta(user={"v": "1"}))
    i2 = await store.put_object("b", "k", body_of(second), ObjectMeta(user={"v": "2"}))
    assert i2.generation > i1.generation
    head = await store.head_object("b", "k")
    assert head.meta.user == {"v": "2"} and await read_all(store, head) == second
    assert len(chunk_files(config)) == 2  # old chunks removed at once
    await store.delete_object("b", "k")
    with pytest.raises(S3Error) as e:
        await store.head_object("b", "k")
    assert e.value.code == "NoSuchKey"
    with pytest.raises(S3Error) as e:
        await store.delete_object("b", "k")
    assert e.value.code == "NoSuchKey"
    with pytest.raises(S3Error) as e:
        await store.head_object("nob", "k")
    assert e.value.code == "NoSuchBucket"
    assert chunk_files(config) == []


async def test_conditional_put(store: Store) -> None:
    await store.create_bucket("b")
    with pytest.raises(S3Error) as e:
        await store.put_object("b", "k", body_of(b"x"), ObjectMeta(), if_match="abc")
    assert e.value.code == "PreconditionFailed"
    info = await store.put_object("b", "k", body_of(b"x"), ObjectMeta(), if_none_match="*")
    with pytest.raises(S3Error) as e:
        await store.put_object("b", "k", body_of(b"y"), ObjectMeta(), if_none_match="*")
    assert e.value.code == "PreconditionFailed"
    with pytest.raises(S3Error):
        await store.put_object("b", "k", body_of(b"y"), ObjectMeta(), if_match='"nope"')
    await store.put_object("b", "k", body_of(b"y"), ObjectMeta(), if_match=f'"{info.etag}"')
    assert await read_all(store, await store.head_object("b", "k")) == b"y"


async def test_buckets(store: Store) -> None:
    await store.create_bucket("zz")
    await store.create_bucket("aa", {"mirror.copies": 2})
    with pytest.raises(S3Error) as e:
        await store.create_bucket("aa")
    assert e.value.code == "BucketAlreadyOwnedByYou"
    assert [b.name for b in await store.list_buckets()] == ["aa", "zz"]
    b = await store.update_bucket_props("aa", {"x": 1, "mirror.copies": None})
    assert b.props == {"x": 1}
    assert (await store.get_bucket("aa")).props == {"x": 1}
    await store.put_object("aa", "k", body_of(b"1"), ObjectMeta())
    with pytest.raises(S3Error) as e:
        await store.delete_bucket("aa")
    assert e.value.code == "BucketNotEmpty"
    await store.delete_object("aa", "k")
    u = await store.create_upload("aa", "m", ObjectMeta())
    with pytest.raises(S3Error) as e:
        await store.delete_bucket("aa")
    assert e.value.code == "BucketNotEmpty"
    await store.abort_upload(u.upload_id, "aa", "m")
    await store.delete_bucket("aa")
    with pytest.raises(S3Error) as e:
        await store.get_bucket("aa")
    assert e.value.code == "NoSuchBucket"
    with pytest.raises(S3Error) as e:
        await store.delete_bucket("aa")
    assert e.value.code == "NoSuchBucket"


async def test_copy_update_rename(store: Store, config: StoreConfig) -> None:
    await store.create_bucket("b")
    await store.create_bucket("c")
    data = rand(3 * CHUNK)
    src = await store.put_object("b", "s", body_of(data), ObjectMeta(user={"a": "1"}))
    n = len(chunk_files(config))
    cp = await store.copy_object("b", "s", "c", "d", None)
    assert cp.meta.user == {"a": "1"} and cp.etag == src.etag
    assert len(chunk_files(config)) == n
    cp2 = await store.copy_object("b", "s", "b", "s", ObjectMeta(user={"b": "2"}))
    assert cp2.meta.user == {"b": "2"}
    assert await read_all(store, await store.head_object("b", "s")) == data
    def retag(meta: ObjectMeta) -> None:
        meta.tags = {"t": "v"}
        meta.extra["mode"] = 1

    up = await store.update_object_meta("c", "d", retag)
    assert up.meta.tags == {"t": "v"} and up.meta.extra["mode"] == 1 and up.etag == src.etag
    await store.delete_object("b", "s")
    assert await read_all(store, await store.head_object("c", "d")) == data
    r = await store.rename_object("c", "d", "e")
    assert r.key == "e"
    with pytest.raises(S3Error):
        await store.head_object("c", "d")
    assert await read_all(store, await store.head_object("c", "e")) == data
    for k in ["x/1", "x/2", "x/y/3", "xz"]:
        await store.put_object("c", k, body_of(k.encode()), ObjectMeta())
    await store.put_object("c", "n/2", body_of(b"old"), ObjectMeta())
    assert await store.rename_prefix("c", "x/", "n/") == 3
    page = await store.list_objects("c")
    assert [e.key for e in page.entries] == ["e", "n/1", "n/2", "n/y/3", "xz"]
    assert await read_all(store, await store.head_object("c", "n/2")) == b"x/2"
    # overlapping prefixes
    assert await store.rename_prefix("c", "n/", "n/n/") == 3
    page = await store.list_objects("c")
    assert [e.key for e in page.entries] == ["e", "n/n/1", "n/n/2", "n/n/y/3", "xz"]
    assert await read_all(store, await store.head_object("c", "n/n/y/3")) == b"x/y/3"
    with pytest.raises(S3Error) as e:
        await store.copy_object("c", "missing", "c", "z")
    assert e.value.code == "NoSuchKey"


async def test_cancelled_put_leaves_nothing(store: Store, config: StoreConfig) -> None:
    await store.create_bucket("b")
    old = rand(CHUNK)
    await store.put_object("b", "k", body_of(old), ObjectMeta())
    sent = trio.Event()

    async def slow_body():
        for _ in range(5):
            yield rand(CHUNK)
        sent.set()
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(store.put_object, "b", "k", slow_body(), ObjectMeta())
        await sent.wait()
        await trio.sleep(0.2)  # real time: the put's chunk writes run in worker threads
        nursery.cancel_scope.cancel()
    head = await store.head_object("b", "k")
    assert await read_all(store, head) == old
    assert len(chunk_files(config)) == 1
    page = await store.list_objects("b")
    assert [e.key for e in page.entries] == ["k"]


async def test_reopen_keeps_objects(config: StoreConfig) -> None:
    data = rand(3 * CHUNK)
    async with open_store(config) as store:
        await store.create_bucket("b", {"p": "v"})
        await store.put_object("b", "k", body_of(data), ObjectMeta(user={"u": "1"}))
    async with open_store(config) as store:
        assert not store.recovered
        head = await store.head_object("b", "k")
        assert head.meta.user == {"u": "1"}
        assert await read_all(store, head) == data
        assert (await store.get_bucket("b")).props == {"p": "v"}


async def test_store_in_use(config: StoreConfig) -> None:
    async with open_store(config):
        with pytest.raises(RuntimeError):
            async with open_store(config):
                pass


async def test_concurrent_puts_deletes_and_gc(store: Store, config: StoreConfig) -> None:
    await store.create_bucket("b", {"mirror.copies": 2})
    shared = rand(3 * CHUNK)
    own = {f"k{i}": rand(CHUNK + i) + shared for i in range(8)}

    async def writer(key: str, data: bytes) -> None:
        for _ in range(3):
            await store.put_object("b", key, body_of(data, 7000), ObjectMeta())
            await store.put_object("b", key + "-tmp", body_of(data), ObjectMeta())
            await store.delete_object("b", key + "-tmp")

    async def collector() -> None:
        for _ in range(10):
            await store.gc()
            await trio.sleep(0.01)

    async with trio.open_nursery() as nursery:
        for k, v in own.items():
            nursery.start_soon(writer, k, v)
        nursery.start_soon(collector)
    await store.gc()
    for k, v in own.items():
        assert await read_all(store, await store.head_object("b", k)) == v
    report = await store.fsck(rebuild=False)
    assert report.clean and not report.missing_chunks
    stats = await store.stats()
    assert stats["objects"] == 8
    # nothing but the live chunks (2 copies each) is left on disk
    assert len(chunk_files(config)) == 2 * stats["chunks"]


async def test_delete_renames_the_manifest_away_and_the_reaper_unlinks_it(
    tmp_path: Path,
) -> None:
    """A delete's manifest leaves its name at once (renamed into tmp, a durable removal)
    and the file itself is unlinked off the request path; gc() takes any leftover."""
    from aisfs.store.layout import manifest_path

    config = make_config(tmp_path, inline_max=1024, fsync=True, shelf_max=0)  # files
    async with open_store(config) as store:
        await store.create_bucket("b")
        await store.put_object("b", "k", body_of(b"x"), ObjectMeta())
        paths = [manifest_path(str(mp), "b", "k") for mp in config.mountpaths]
        assert any(os.path.exists(p) for p in paths)
        await store.delete_object("b", "k")
        assert not any(os.path.exists(p) for p in paths)
        store.reaper.close()  # drains its queue
        assert not any(os.listdir(mp / "tmp") for mp in config.mountpaths)
        leftover = config.mountpaths[0] / "tmp" / "deleted.1.feed"  # as after a crash
        leftover.write_bytes(b"{}")
        await store.gc()
        assert not leftover.exists()
