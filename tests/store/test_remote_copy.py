"""The write of a backend object's copy (``Writer.put_object(remote=RemoteCopy(...))``: a
cold GET's fill, a write-through PUT): the backend's ETag kept and no MD5 computed, the
chunks synced once at the end, ``ready`` awaited between the durable body and the commit,
and a body cut into chunks the same way whatever its pieces."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import xxhash

from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, Store, StoreConfig, open_store
from aisfs.store.digest import Digest
from aisfs.store.writer import RemoteCopy

from .conftest import CHUNK, body_of, chunk_files, make_config, rand, read_all


@pytest.mark.parametrize(
    ("size", "piece"),
    [
        (3 * CHUNK, CHUNK),  # a fill's pieces: whole chunks, passed on without a copy
        (3 * CHUNK + 5, CHUNK),
        (CHUNK, CHUNK),
        (5 * CHUNK // 2, CHUNK + 7),  # pieces across chunk boundaries
        (4 * CHUNK, 3 * CHUNK),
        (2 * CHUNK + 1, 10_000),
        (0, CHUNK),
    ],
)
async def test_chunks_are_whole_whatever_the_pieces(store: Store, size: int, piece: int) -> None:
    data = rand(size)
    await store.create_bucket("b")
    info = await store.put_object("b", "k", body_of(data, piece), ObjectMeta())
    assert await read_all(store, info) == data
    assert info.etag == hashlib.md5(data).hexdigest()
    sizes = [c.size for c in info.chunks]
    assert sum(sizes) == size
    assert all(s == CHUNK for s in sizes[:-1]), sizes


async def test_the_backends_etag_is_kept_and_no_md5_computed(store: Store) -> None:
    data = rand(3 * CHUNK + 100)
    await store.create_bucket("b")
    info = await store.writer.put_object(
        "b", "k", body_of(data, CHUNK), ObjectMeta(), expected_size=len(data),
        remote=RemoteCopy(etag=lambda: "0123abcd-2"),
    )
    assert info.etag == "0123abcd-2"
    assert info.checksum_type == "xxhash"
    assert info.checksum_value == xxhash.xxh3_64_hexdigest(data)
    again = await store.head_object("b", "k")
    assert again.etag == "0123abcd-2"
    assert await read_all(store, again) == data


def test_digest_without_md5() -> None:
    dg = Digest("xxhash", None, md5=False)
    dg.update(b"abc")
    assert dg.md5 is None and dg.md5_digest() == b""
    assert dg.value() == xxhash.xxh3_64_hexdigest(b"abc")
    # a bucket whose checksum is MD5 computes it whatever the caller says
    dg = Digest("md5", None, md5=False)
    dg.update(b"abc")
    assert dg.value() == hashlib.md5(b"abc").hexdigest()


async def test_a_content_md5_is_still_checked(store: Store) -> None:
    data = rand(2 * CHUNK)
    await store.create_bucket("b")
    with pytest.raises(S3Error) as e:
        await store.writer.put_object(
            "b", "k", body_of(data), ObjectMeta(), content_md5=hashlib.md5(b"x").digest(),
            remote=RemoteCopy(etag=lambda: "e"),
        )
    assert e.value.code == "BadDigest"


async def test_no_etag_from_the_backend_falls_back_to_the_checksum(store: Store) -> None:
    data = rand(2 * CHUNK)
    await store.create_bucket("b")
    info = await store.writer.put_object(
        "b", "k", body_of(data), ObjectMeta(), remote=RemoteCopy(etag=lambda: ""),
    )
    assert info.etag == xxhash.xxh3_64_hexdigest(data)


async def test_ready_runs_once_the_body_is_durable_before_the_commit(tmp_path: Path) -> None:
    config = make_config(tmp_path, fsync=True)
    data = rand(3 * CHUNK + 1)
    seen: list[int] = []
    async with open_store(config) as store:
        await store.create_bucket("b")

        async def ready() -> None:
            with pytest.raises(S3Error):  # not published yet
                await store.head_object("b", "k")
            seen.append(len(chunk_files(config)))
            # every chunk written without its own fsync has been fdatasynced by now
            assert not store.chunks._unsynced

        info = await store.writer.put_object(
            "b", "k", body_of(data, CHUNK), ObjectMeta(),
            remote=RemoteCopy(etag=lambda: "tag", ready=ready),
        )
        assert seen == [4]
        assert info.etag == "tag"
        assert await read_all(store, await store.head_object("b", "k")) == data
        assert (await store.fsck(rebuild=False)).clean


async def test_a_failed_ready_publishes_nothing(store: Store, config: StoreConfig) -> None:
    data = rand(3 * CHUNK)
    await store.create_bucket("b")
    old = await store.put_object("b", "k", body_of(b"old"), ObjectMeta())

    async def ready() -> None:
        raise S3Error("ServiceUnavailable", "the backend failed", status=503)

    with pytest.raises(S3Error) as e:
        await store.writer.put_object(
            "b", "k", body_of(data, CHUNK), ObjectMeta(),
            remote=RemoteCopy(etag=lambda: "new", ready=ready),
        )
    assert e.value.code == "ServiceUnavailable"
    now = await store.head_object("b", "k")
    assert now.etag == old.etag
    assert await read_all(store, now) == b"old"
    assert len(chunk_files(config)) == 1  # the new body's chunks went


async def test_a_dedup_onto_an_unsynced_chunk_syncs_it(tmp_path: Path) -> None:
    """A plain PUT that finds its chunk written by a remote copy that has not synced it
    yet fdatasyncs it itself (its acknowledgement cannot rest on a file another writer
    has still to sync: not observable short of a power cut - this runs that branch)."""
    config = make_config(tmp_path, fsync=True)
    data = rand(2 * CHUNK)
    async with open_store(config) as store:
        await store.create_bucket("b")

        async def ready() -> None:
            # the copy's chunks are synced by now; mark one unsynced again as it was
            # between its write and the sync, and let a plain PUT dedup onto it
            cid = (await _chunk_ids(store, config))[0]
            store.chunks._unsynced.add(cid)
            await store.put_object("b", "plain", body_of(data, CHUNK), ObjectMeta())

        await store.writer.put_object(
            "b", "copy", body_of(data, CHUNK), ObjectMeta(),
            remote=RemoteCopy(etag=lambda: "t", ready=ready),
        )
        assert await read_all(store, await store.head_object("b", "plain")) == data


async def _chunk_ids(store: Store, config: StoreConfig) -> list[str]:
    return sorted(p.name for p in chunk_files(config))


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("size", [3 * CHUNK + 100, CHUNK // 2])
async def test_direct_names_which_copies_bypass_the_page_cache(
    store: Store, direct: bool, size: int
) -> None:
    """A backend object's copy goes through ``direct_writer`` (O_DIRECT: a cache keeps in
    RAM what is read, not what it fills); ``direct=False`` (an encrypted PUT, whose first
    GET reads it back) writes through the page cache as a local PUT does - synced once
    at the end either way."""
    written: list[int] = []
    plain = store.chunks.direct_writer

    def recording(tmp: str, data: bytes | bytearray, fsync: bool) -> None:
        written.append(len(data))
        plain(tmp, data, fsync)

    store.chunks.direct_writer = recording
    data = rand(size)
    await store.create_bucket("b")
    info = await store.writer.put_object(
        "b", "k", body_of(data, CHUNK), ObjectMeta(), expected_size=len(data),
        remote=RemoteCopy(etag=lambda: "e", direct=direct),
    )
    assert await read_all(store, info) == data
    expected = [c.size for c in info.chunks] if direct else []
    assert sorted(written) == sorted(expected)
    assert info.chunks or size <= CHUNK
