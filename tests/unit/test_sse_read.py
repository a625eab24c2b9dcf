"""The encrypted read path's sans-IO pieces and its pipeline (aisfs_node/s3/sse_read.py,
``CtrStream.write_into``), on real files: the plaintext of a range whatever its pieces
- bytes or file segments, across CTR segments (parts), split into pieces, mid-block."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aisfs.crypto.ctr import BLOCK, CtrStream
from aisfs.store.reader import FileSegment
from aisfs_node.s3 import sse_read
from aisfs_node.s3.sse_read import PIECE, ShortRead, decrypted, slices

KEY = os.urandom(32)
NONCE = os.urandom(8)
MiB = 1024 * 1024


def encrypt(plain: bytes, segments: list[tuple[int, int]]) -> bytes:
    return CtrStream(KEY, NONCE, segments).update(plain)


@pytest.mark.parametrize("offset", [0, 1, 15, 16, 17, 999, 1000, 1001, 2500])
def test_write_into_is_update_across_segments(offset: int) -> None:
    segments = [(2, 1000), (5, 333), (9, 2000)]
    plain = os.urandom(3333)
    cipher = encrypt(plain, segments)
    stream = CtrStream(KEY, NONCE, segments, offset)
    out = memoryview(bytearray(len(plain) + BLOCK))
    pos = offset
    for step in (1, 7, 500, 1200, 4000):  # pieces that start and end anywhere
        piece = cipher[pos : pos + step]
        stream.write_into(piece, out)
        assert bytes(out[: len(piece)]) == plain[pos : pos + len(piece)]
        pos += len(piece)
    assert pos == len(plain)


def test_write_into_wants_openssl_slack() -> None:
    stream = CtrStream(KEY, NONCE, [(0, 100)])
    with pytest.raises(ValueError):
        stream.write_into(bytes(100), memoryview(bytearray(100)))


def test_slices() -> None:
    assert slices(0) == []
    assert slices(5, 2) == [(0, 2), (2, 2), (4, 1)]
    assert slices(PIECE) == [(0, PIECE)]
    assert slices(PIECE + 1) == [(0, PIECE), (PIECE, 1)]


async def pieces_of(cipher_file: Path, cipher: bytes, cuts: list[tuple[int, int, bool]],
                    closed: list[bool]) -> AsyncIterator[bytes | FileSegment]:
    """Segments as ``Reader.read_segments`` gives them: ``(start, count, as_file)``;
    a file segment's descriptor is closed once the next one is asked for."""
    try:
        for start, count, as_file in cuts:
            if not as_file:
                yield cipher[start : start + count]
                continue
            fd = os.open(cipher_file, os.O_RDONLY)
            try:
                yield FileSegment(fd, start, count)
            finally:
                os.close(fd)
    finally:
        closed.append(True)


async def collect(pieces: AsyncIterator[memoryview]) -> bytes:
    out = []
    async for piece in pieces:
        out.append(bytes(piece))  # copied before the next piece is taken
    return b"".join(out)


async def test_decrypted_range_across_parts_files_and_bytes(tmp_path: Path) -> None:
    segments = [(1, 5 * MiB + 5), (2, 9 * MiB + 3), (3, 777)]  # parts; one over PIECE
    plain = os.urandom(sum(n for _, n in segments))
    cipher = encrypt(plain, segments)
    path = tmp_path / "cipher"
    path.write_bytes(cipher)
    start, end = 17, len(plain) - 100  # mid-block at both ends
    cuts = [(start, MiB - start, True), (MiB, 4 * MiB, False),
            (5 * MiB, 9 * MiB + 100, True), (14 * MiB + 100, end + 1 - 14 * MiB - 100, False)]
    closed: list[bool] = []
    stream = CtrStream(KEY, NONCE, segments, start)
    got = await collect(decrypted(pieces_of(path, cipher, cuts, closed), stream,
                                  end - start + 1))
    assert got == plain[start : end + 1]
    assert closed == [True]


async def test_small_range_and_small_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.setattr(sse_read, "STEP", 1000)  # many steps per piece
    plain = os.urandom(100_000)
    cipher = encrypt(plain, [(0, len(plain))])
    path = tmp_path / "cipher"
    path.write_bytes(cipher)
    for start, count in ((0, 1), (15, 2), (31, 50_000), (99_999, 1)):
        stream = CtrStream(KEY, NONCE, [(0, len(plain))], start)
        got = await collect(decrypted(pieces_of(path, cipher, [(start, count, True)], []),
                                      stream, count))
        assert got == plain[start : start + count]


async def test_a_file_shorter_than_its_segment_raises(tmp_path: Path) -> None:
    plain = os.urandom(3 * MiB)
    cipher = encrypt(plain, [(0, len(plain))])
    path = tmp_path / "cipher"
    path.write_bytes(cipher[: 2 * MiB])  # cut under the reader
    closed: list[bool] = []
    stream = CtrStream(KEY, NONCE, [(0, len(plain))])
    with pytest.raises(ShortRead):
        await collect(decrypted(pieces_of(path, cipher, [(0, 3 * MiB, True)], closed),
                                stream, 3 * MiB))
    assert closed == [True]


async def test_a_reader_that_stops_early_closes_the_segments(tmp_path: Path) -> None:
    plain = os.urandom(3 * MiB)
    cipher = encrypt(plain, [(0, len(plain))])
    path = tmp_path / "cipher"
    path.write_bytes(cipher)
    closed: list[bool] = []
    cuts = [(0, MiB, True), (MiB, MiB, True), (2 * MiB, MiB, True)]
    pieces = decrypted(pieces_of(path, cipher, cuts, closed),
                       CtrStream(KEY, NONCE, [(0, len(plain))]), 3 * MiB)
    first = await pieces.__anext__()  # the second piece's job is running now
    assert bytes(first) == plain[:MiB]
    await pieces.aclose()  # type: ignore[attr-defined]
    assert closed == [True]
