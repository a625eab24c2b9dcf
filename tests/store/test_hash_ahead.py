"""A one-chunk body declared longer than HASH_AHEAD is hashed while it arrives
(writer.py): the same ETag, checksum and refusals as one hashed after it (and as a
longer body's, hashed chunk by chunk), for PUTs and parts; nothing published when it is
refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, Store, open_store
from aisfs.store.writer import HASH_AHEAD

from .conftest import body_of, make_config, rand, read_all


@pytest.mark.parametrize("chunk", [64 * 1024, 8 * 1024 * 1024])  # many chunks; one: ahead
@pytest.mark.parametrize("size", [HASH_AHEAD + 1, 3 * HASH_AHEAD + 12_345])
async def test_put_hashed_ahead_has_its_md5_and_bytes(
    tmp_path: Path, size: int, chunk: int
) -> None:
    async with open_store(make_config(tmp_path, chunk_size=chunk, fsync=True)) as store:
        await store.create_bucket("b")
        data = rand(size)
        info = await store.put_object("b", "k", body_of(data, 65_536), ObjectMeta(),
                                      expected_size=size,
                                      content_md5=hashlib.md5(data).digest())
        assert info.etag == hashlib.md5(data).hexdigest() and info.size == size
        assert await read_all(store, await store.head_object("b", "k")) == data
        # the same bytes with no declared size (hashed after each chunk): the same record
        again = await store.put_object("b", "k2", body_of(data, 65_536), ObjectMeta())
        assert (again.etag, again.checksum_value) == (info.etag, info.checksum_value)
        assert (await store.fsck(rebuild=False)).clean


async def test_put_hashed_ahead_refused_publishes_nothing(tmp_path: Path) -> None:
    async with open_store(make_config(tmp_path, chunk_size=4 * HASH_AHEAD)) as store:
        await _refused(store)


async def _refused(store: Store) -> None:
    await store.create_bucket("b")
    data = rand(2 * HASH_AHEAD)
    with pytest.raises(S3Error, match="BadDigest"):
        await store.put_object("b", "k", body_of(data), ObjectMeta(), expected_size=len(data),
                               content_md5=hashlib.md5(b"other").digest())
    with pytest.raises(S3Error, match="IncompleteBody"):
        await store.put_object("b", "k", body_of(data[:-1]), ObjectMeta(),
                               expected_size=len(data))
    with pytest.raises(S3Error, match="IncompleteBody"):
        await store.put_object("b", "k", body_of(data + b"x"), ObjectMeta(),
                               expected_size=len(data))
    with pytest.raises(S3Error, match="NoSuchKey"):
        await store.head_object("b", "k")


async def test_part_hashed_ahead_etag_and_complete(tmp_path: Path) -> None:
    async with open_store(make_config(tmp_path, chunk_size=4 * HASH_AHEAD)) as store:
        await _parts(store)


async def _parts(store: Store) -> None:
    await store.create_bucket("b")
    up = await store.create_upload("b", "mp", ObjectMeta())
    one, two = rand(HASH_AHEAD + 7), rand(HASH_AHEAD // 2)
    p1 = await store.put_part(up.upload_id, "b", "mp", 1, body_of(one, 300_000),
                              expected_size=len(one))
    p2 = await store.put_part(up.upload_id, "b", "mp", 2, body_of(two), expected_size=len(two))
    assert p1.etag == hashlib.md5(one).hexdigest()
    assert p2.etag == hashlib.md5(two).hexdigest()
    with pytest.raises(S3Error, match="BadDigest"):
        await store.put_part(up.upload_id, "b", "mp", 3, body_of(one), expected_size=len(one),
                             content_md5=hashlib.md5(two).digest())
    info = await store.complete_upload(up.upload_id, "b", "mp", [(1, p1.etag), (2, p2.etag)])
    assert await read_all(store, info) == one + two
