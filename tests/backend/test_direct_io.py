"""aisfs/backend/direct_io.py: a remote copy's chunk files written with O_DIRECT hold
exactly the bytes given (whole blocks, a short last block cut back), small ones and file
systems that refuse O_DIRECT go through the page cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aisfs.backend import direct_io
from aisfs.backend.direct_io import aligned
from aisfs.store.files import FILE_MODE

MiB = 1024 * 1024


@pytest.mark.parametrize("size", [MiB, MiB + 1, 8 * MiB - 7, 3 * MiB + 4096, 100, 0])
def test_bytes_and_length_kept(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    tmp = str(tmp_path / "chunk.tmp")
    direct_io.write_tmp_direct(tmp, data, True)
    assert Path(tmp).read_bytes() == data
    assert os.stat(tmp).st_mode & 0o777 == FILE_MODE


def test_memoryview_and_bytearray(tmp_path: Path) -> None:
    data = bytearray(os.urandom(2 * MiB + 3))
    direct_io.write_tmp_direct(str(tmp_path / "a"), data, False)
    direct_io.write_tmp_direct(str(tmp_path / "b"), memoryview(data)[1:], False)
    assert (tmp_path / "a").read_bytes() == data
    assert (tmp_path / "b").read_bytes() == data[1:]


def test_an_existing_file_is_not_overwritten(tmp_path: Path) -> None:
    tmp = tmp_path / "chunk.tmp"
    tmp.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        direct_io.write_tmp_direct(str(tmp), os.urandom(2 * MiB), False)
    assert tmp.read_bytes() == b"old"


def test_a_file_system_without_o_direct(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("no writable /dev/shm (tmpfs) here")
    where = shm / f"direct-io-{os.getpid()}"
    where.mkdir()
    try:
        data = os.urandom(2 * MiB + 1)
        direct_io.write_tmp_direct(str(where / "c"), data, True)
        assert (where / "c").read_bytes() == data
    finally:
        for p in where.iterdir():
            p.unlink()
        where.rmdir()


@pytest.mark.parametrize("size", [8 * MiB, 8 * MiB - 7, 2 * MiB + 4096])
def test_an_aligned_piece_written_from_itself(tmp_path: Path, size: int) -> None:
    """A fill's piece (lean.py's ``aligned`` buffer) starts on a block: its whole blocks
    go to the file straight from it, a short last block from a padded copy."""
    piece = aligned(size)
    assert len(piece) == size and direct_io.address(piece) % direct_io.BLOCK == 0
    piece[:] = os.urandom(size)
    tmp = str(tmp_path / "chunk.tmp")
    direct_io.write_tmp_direct(tmp, piece, True)
    assert Path(tmp).read_bytes() == piece
    piece += b"x"  # no export of it is left behind


def test_chunk_buffers_aligned_and_reused_only_once_free(tmp_path: Path) -> None:
    pool = direct_io.ChunkBuffers()
    a = pool.take(2 * MiB)
    assert len(a) == 2 * MiB and direct_io.address(a) % direct_io.BLOCK == 0
    b = pool.take(2 * MiB)
    assert b is not a  # a is held here
    a[:] = os.urandom(2 * MiB)
    data = bytes(a)
    direct_io.write_tmp_direct(str(tmp_path / "c"), a, False)  # straight from it
    assert (tmp_path / "c").read_bytes() == data
    ident = id(a)
    del a, b
    c = pool.take(2 * MiB)
    assert id(c) == ident  # nothing held it any more: taken again
    assert type(pool.take(100)) is bytearray  # small: a plain one, not kept
