"""A body of declared length past HASH_AHEAD is spooled (spool.py): written to its
chunk files as it arrives. The chunks are the same as the in-memory path's (ids the
xxh3-128 of their bytes, deduplicated), every copy a file of its own, no temp file left
behind by a stored, refused or deduplicated write."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest

from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, open_store
from aisfs.store.chunks import chunk_hash
from aisfs.store.writer import HASH_AHEAD

from .conftest import CHUNK, body_of, make_config, rand, read_all

SIZE = 2 * HASH_AHEAD + 12_345  # 33 chunks of 64 KiB, the last short


def temp_files(roots: list[Path]) -> list[str]:
    """The temp files left (not ``deleted.*``: removals the reaper finishes)."""
    return [n for r in roots for n in os.listdir(r / "tmp") if not n.startswith("deleted.")]


def chunk_files(roots: list[Path], cid: str) -> list[os.stat_result]:
    return [os.stat(p) for r in roots if (p := r / "chunks" / cid[:2] / cid).exists()]


@pytest.mark.parametrize("piece", [65_536, 100_000, 1 << 20])
async def test_spooled_put_chunks_copies_and_no_temp_left(tmp_path: Path, piece: int) -> None:
    config = make_config(tmp_path, fsync=True)
    async with open_store(config) as store:
        await store.create_bucket("b", {"mirror.copies": 2})
        data = rand(SIZE)
        info = await store.put_object("b", "k", body_of(data, piece), ObjectMeta(),
                                      expected_size=SIZE,
                                      content_md5=hashlib.md5(data).digest())
        assert info.etag == hashlib.md5(data).hexdigest() and info.size == SIZE
        assert [c.size for c in info.chunks] == [CHUNK] * (SIZE // CHUNK) + [SIZE % CHUNK]
        off = 0
        for c in info.chunks:
            assert c.id == chunk_hash(data[off:off + c.size])
            off += c.size
            copies = chunk_files(config.mountpaths, c.id)
            assert len(copies) == 2 and all(st.st_nlink == 1 for st in copies)
            assert copies[0].st_ino != copies[1].st_ino or copies[0].st_dev != copies[1].st_dev
        assert await read_all(store, await store.head_object("b", "k")) == data
        # the same bytes again: the same chunks (compared file to file), no new files
        again = await store.put_object("b", "k2", body_of(data, piece), ObjectMeta(),
                                       expected_size=SIZE)
        assert [c.id for c in again.chunks] == [c.id for c in info.chunks]
        assert not temp_files(config.mountpaths)
        assert (await store.fsck(rebuild=False)).clean


@pytest.mark.parametrize("declared, sent, md5, code", [
    (SIZE, SIZE - 1, None, "IncompleteBody"),
    (SIZE, SIZE + 1, None, "IncompleteBody"),
    (SIZE, SIZE, b"x" * 16, "BadDigest"),
])
async def test_spooled_put_refused_leaves_nothing(
    tmp_path: Path, declared: int, sent: int, md5: bytes | None, code: str
) -> None:
    config = make_config(tmp_path, fsync=True)
    async with open_store(config) as store:
        await store.create_bucket("b")
        with pytest.raises(S3Error) as e:
            await store.put_object("b", "k", body_of(rand(sent), 70_000), ObjectMeta(),
                                   expected_size=declared, content_md5=md5)
        assert e.value.code == code
        assert not temp_files(config.mountpaths)
        assert not [f for r in config.mountpaths for _, _, fs in os.walk(r / "chunks")
                    for f in fs]
        assert (await store.list_objects("b")).entries == []
        assert (await store.fsck(rebuild=False)).clean


async def test_spooled_part_and_complete(tmp_path: Path) -> None:
    config = make_config(tmp_path, fsync=True)
    async with open_store(config) as store:
        await store.create_bucket("b")
        up = await store.create_upload("b", "mp", ObjectMeta())
        parts = [rand(SIZE), rand(SIZE // 2)]
        etags = []
        for n, data in enumerate(parts, 1):
            p = await store.put_part(up.upload_id, "b", "mp", n, body_of(data, 65_536),
                                     expected_size=len(data))
            assert p.etag == hashlib.md5(data).hexdigest()
            etags.append((n, p.etag))
        info = await store.complete_upload(up.upload_id, "b", "mp", etags)
        assert await read_all(store, info) == b"".join(parts)
        assert not temp_files(config.mountpaths)
        assert (await store.fsck(rebuild=False)).clean


async def test_spooled_copy_to_another_file_system(tmp_path: Path) -> None:
    """A mountpath on another file system than the temp file's: copied, not linked."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system at hand")
    with tempfile.TemporaryDirectory(dir=shm) as other:
        (Path(other) / "mp1").mkdir()
        config = make_config(tmp_path, n=1, fsync=True)
        config.mountpaths.append(Path(other) / "mp1")
        async with open_store(config) as store:
            await store.create_bucket("b", {"mirror.copies": 2})
            data = rand(SIZE)
            info = await store.put_object("b", "k", body_of(data, 65_536), ObjectMeta(),
                                          expected_size=SIZE)
            for c in info.chunks:
                assert len(chunk_files(config.mountpaths, c.id)) == 2
            assert await read_all(store, info) == data
            assert not temp_files(config.mountpaths)
            assert (await store.fsck(rebuild=False)).clean


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a size-limited tmpfs needs root")
async def test_spool_moves_on_from_a_full_mountpath(tmp_path: Path) -> None:
    """A spool whose temp file's mountpath fills up (ENOSPC mid-chunk) moves the chunk's
    bytes so far to another and goes on: every PUT stored whole, none refused until
    both are full, then 507 and no temp file left."""
    from .test_full_mountpath import tmpfs

    config = make_config(tmp_path, n=2, fsync=True, chunk_size=256 * 1024)
    with tmpfs(config.mountpaths[0], "2m"), tmpfs(config.mountpaths[1], "24m"):
        async with open_store(config) as store:
            await store.create_bucket("b")
            stored = {}
            for i in range(8):  # 12 MiB: the 2 MiB one fills up early (mid-chunk too)
                data = rand(HASH_AHEAD + 500_000)
                await store.put_object("b", f"k{i}", body_of(data, 100_000), ObjectMeta(),
                                       expected_size=len(data))
                stored[f"k{i}"] = data
            assert store.chunks.full.full()  # the small one was marked full
            with pytest.raises(S3Error) as e:
                for i in range(8, 40):
                    data = rand(HASH_AHEAD + 500_000)
                    await store.put_object("b", f"k{i}", body_of(data, 100_000),
                                           ObjectMeta(), expected_size=len(data))
                    stored[f"k{i}"] = data
            assert e.value.code == "InsufficientStorage"
            assert not temp_files(config.mountpaths)
            for key, data in stored.items():  # a chunk moved mid-way holds its bytes
                assert await read_all(store, await store.head_object("b", key)) == data
            assert (await store.fsck(rebuild=False)).clean


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a size-limited tmpfs needs root")
async def test_spool_moves_a_chunk_begun_on_a_full_mountpath(tmp_path: Path) -> None:
    """ENOSPC in the middle of a chunk's temp file: the bytes so far are copied to a
    file on the next mountpath and the writing goes on there, at the right offset."""
    from aisfs.store.spool import Spool

    from .test_full_mountpath import tmpfs

    config = make_config(tmp_path, n=2, fsync=True)
    # two file systems of one type: the kernel's copy_file_range (which moves no offset)
    with tmpfs(config.mountpaths[0], "256k"), tmpfs(config.mountpaths[1], "16m"):
        async with open_store(config) as store:
            for _ in range(2):  # the spool's files rotate: one of them starts on the small one
                data = rand(1 << 20)
                spool = Spool(1 << 20, store.chunks)
                [spooled] = spool.feed([data[i:i + 100_000]
                                        for i in range(0, len(data), 100_000)])
                with open(spooled.path, "rb") as f:
                    assert f.read() == data
                assert (spooled.h, spooled.size) == (chunk_hash(data), len(data))
                spooled.discard()
            assert store.chunks.full.full()  # the small one answered ENOSPC mid-chunk
