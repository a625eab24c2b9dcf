"""``Reader.read_segments``: a chunk copy is verified in place (hashed from its file) and
sent from its file (a FileSegment); once verified it is trusted, not hashed again, until
the file changes; a changed copy is verified again, and a bad one is never handed out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio

from aisfs.store import ObjectMeta, Store, StoreCorruption
from aisfs.store.layout import chunk_path
from aisfs.store.reader import FileSegment
from aisfs.store.types import ObjectInfo

from .conftest import CHUNK, body_of, rand


async def collect(store: Store, info: ObjectInfo, start: int = 0,
                  end: int | None = None) -> tuple[bytes, list[str]]:
    """The bytes ``read_segments`` gives (a segment read while it is valid) and the kind
    of each piece."""
    out, kinds = [], []
    async for piece in store.reader.read_segments(info, start, end):
        if isinstance(piece, FileSegment):
            out.append(os.pread(piece.fd, piece.count, piece.offset))
            kinds.append("file")
        else:
            out.append(piece)
            kinds.append("bytes")
    return b"".join(out), kinds


def copy_of(store: Store, cid: str) -> Path:
    [path] = [Path(chunk_path(mp.root, cid)) for mp in store.mps.all
              if Path(chunk_path(mp.root, cid)).exists()]
    return path


async def test_verified_once_then_sent_from_the_file(store: Store) -> None:
    data = rand(3 * CHUNK + 100)
    await store.create_bucket("b")
    info = await store.put_object("b", "k", body_of(data), ObjectMeta())
    paths = [str(copy_of(store, c.id)) for c in info.chunks]

    def trusted() -> list[bool]:
        return [store.reader.verified.trusted(p, os.stat(p)) for p in paths]

    # read in the second the files were written: verified, not remembered (racy)
    assert await collect(store, info) == (data, ["file"] * 4)
    assert trusted() == [False] * 4
    await trio.sleep(1.1)
    assert await collect(store, info) == (data, ["file"] * 4)  # verified, remembered
    assert trusted() == [True] * 4
    assert await collect(store, info) == (data, ["file"] * 4)
    got, kinds = await collect(store, info, CHUNK - 5, 2 * CHUNK + 5)
    assert got == data[CHUNK - 5 : 2 * CHUNK + 6] and kinds == ["file"] * 3


async def test_a_copy_changed_after_verification_is_read_again(store: Store) -> None:
    data = rand(2 * CHUNK)
    await store.create_bucket("b")
    info = await store.put_object("b", "k", body_of(data), ObjectMeta())
    await trio.sleep(1.1)
    await collect(store, info)
    assert (await collect(store, info))[1] == ["file", "file"]
    path = copy_of(store, info.chunks[1].id)
    st = path.stat()
    good = path.read_bytes()
    bad = bytearray(good)
    bad[7] ^= 1
    path.write_bytes(bytes(bad))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the mtime put back: ctime moved
    with pytest.raises(StoreCorruption):
        await collect(store, info)
    assert not store.reader.verified.trusted(str(path), path.stat())  # forgotten
    path.write_bytes(good)  # put back: verified again before it is sent from the file
    assert await collect(store, info) == (data, ["file", "file"])
