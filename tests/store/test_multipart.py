from __future__ import annotations

import hashlib
import time

import pytest

from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, Store, StoreConfig, open_store

from .conftest import CHUNK, body_of, chunk_files, rand, read_all


async def test_complete(store: Store) -> None:
    await store.create_bucket("b")
    u = await store.create_upload("b", "k", ObjectMeta(content_type="x/y"))
    assert (await store.get_upload(u.upload_id, "b", "k")).meta.content_type == "x/y"
    parts = [rand(CHUNK + 10), rand(2 * CHUNK), rand(5)]
    infos = []
    for i, data in enumerate(parts, 1):
        infos.append(await store.put_part(u.upload_id, "b", "k", i, body_of(data)))
    # re-upload of part 2 replaces it
    parts[1] = rand(CHUNK)
    infos[1] = await store.put_part(u.upload_id, "b", "k", 2, body_of(parts[1]))
    listed = await store.list_parts(u.upload_id, "b", "k")
    assert [(p.part_number, p.etag, p.size) for p in listed] == [
        (p.part_number, p.etag, p.size) for p in infos
    ]
    n_before = len(chunk_files(store.config))
    info = await store.complete_upload(
        u.upload_id, "b", "k", [(p.part_number, f'"{p.etag}"') for p in infos]
    )
    md5s = b"".join(hashlib.md5(d).digest() for d in parts)
    assert info.etag == hashlib.md5(md5s).hexdigest() + "-3"
    assert info.part_sizes == [len(d) for d in parts]
    assert info.meta.content_type == "x/y"
    whole = b"".join(parts)
    assert await read_all(store, await store.head_object("b", "k")) == whole
    assert await read_all(store, info, CHUNK, CHUNK + 20) == whole[CHUNK : CHUNK + 21]
    assert len(chunk_files(store.config)) == n_before  # nothing copied
    assert await store.list_uploads("b") == []
    with pytest.raises(S3Error) as e:
        await store.get_upload(u.upload_id, "b", "k")
    assert e.value.code == "NoSuchUpload"


async def test_complete_errors(store: Store) -> None:
    await store.create_bucket("b")
    u = await store.create_upload("b", "k", ObjectMeta())
    p1 = await store.put_part(u.upload_id, "b", "k", 1, body_of(rand(10)))
    p2 = await store.put_part(u.upload_id, "b", "k", 2, body_of(rand(10)))

    async def code(parts, **kw) -> str:
        with pytest.raises(S3Error) as e:
            await store.complete_upload(u.upload_id, "b", "k", parts, **kw)
        return e.value.code

    assert await code([(2, p2.etag), (1, p1.etag)]) == "InvalidPartOrder"
    assert await code([(1, p1.etag), (1, p1.etag)]) == "InvalidPartOrder"
    assert await code([(1, p2.etag)]) == "InvalidPart"
    assert await code([(3, p2.etag)]) == "InvalidPart"
    assert await code([(1, p1.etag), (2, p2.etag)]) == "EntityTooSmall"
    assert await code([(1, p1.etag)], if_match="*") == "PreconditionFailed"
    with pytest.raises(S3Error) as e:
        await store.put_part("nope", "b", "k", 1, body_of(b"x"))
    assert e.value.code == "NoSuchUpload"
    with pytest.raises(S3Error) as e:
        await store.put_part(u.upload_id, "b", "other", 1, body_of(b"x"))
    assert e.value.code == "NoSuchUpload"
    info = await store.complete_upload(u.upload_id, "b", "k", [(2, p2.etag)])
    assert info.size == 10 and info.etag.endswith("-1")
    # part 1 was not used: its chunk is gone
    assert len(chunk_files(store.config)) == 1


async def test_abort_and_list_and_reclaim(store: Store) -> None:
    await store.create_bucket("b")
    u1 = await store.create_upload("b", "z", ObjectMeta())
    u2 = await store.create_upload("b", "a", ObjectMeta())
    u3 = await store.create_upload("b", "a", ObjectMeta())
    assert [u.upload_id for u in await store.list_uploads("b")] == [
        u2.upload_id, u3.upload_id, u1.upload_id
    ]
    await store.put_part(u1.upload_id, "b", "z", 1, body_of(rand(CHUNK * 2)))
    await store.abort_upload(u1.upload_id, "b", "z")
    assert chunk_files(store.config) == []
    with pytest.raises(S3Error) as e:
        await store.abort_upload(u1.upload_id, "b", "z")
    assert e.value.code == "NoSuchUpload"
    assert await store.reclaim_uploads(3600) == 0
    assert await store.reclaim_uploads(0) == 2
    assert await store.list_uploads("b") == []


async def test_uploads_survive_restart(config: StoreConfig) -> None:
    async with open_store(config) as store:
        await store.create_bucket("b")
        u = await store.create_upload("b", "k", ObjectMeta())
        data = rand(CHUNK + 1)
        p = await store.put_part(u.upload_id, "b", "k", 1, body_of(data))
    (config.index_dir / "dirty").write_text("1")  # as if the node had been killed
    async with open_store(config) as store:
        assert store.recovered
        info = await store.complete_upload(u.upload_id, "b", "k", [(1, p.etag)])
        assert await read_all(store, info) == data
        assert (await store.fsck(rebuild=False)).clean


async def test_thousand_parts(store: Store, capsys) -> None:
    await store.create_bucket("b")
    u = await store.create_upload("b", "big", ObjectMeta())
    parts = []
    for i in range(1, 1001):
        # a small chunk per part: the completion cost is what is measured
        parts.append(await store.put_part(u.upload_id, "b", "big", i, body_of(i.to_bytes(4))))
    store.config.min_part_size = 1
    t = time.perf_counter()
    listed = [(p.part_number, p.etag) for p in parts]
    info = await store.complete_upload(u.upload_id, "b", "big", listed)
    dt = time.perf_counter() - t
    with capsys.disabled():
        print(f"\ncomplete_upload of 1,000 parts: {dt * 1000:.1f} ms")
    assert len(info.chunks) == 1000 and info.size == 4000
    assert await read_all(store, info, 3996) == (1000).to_bytes(4)
