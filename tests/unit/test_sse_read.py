"""The encrypted read path's sans-IO pieces and its jobs (aisfs_node/s3/sse_read.py,
``CtrStream.write_into``), on real files: the plaintext of a range whatever its pieces
- bytes or file segments, across CTR segments (parts), split into steps, mid-block.
Each job is run as the server runs it (a worker thread), into a ``Collector``."""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from aisfs.crypto.ctr import BLOCK, CtrStream
from aisfs.store.reader import FileSegment
from aisfs_node.s3 import sse_read
from aisfs_node.s3.sse_read import ShortRead, thread_sent
from aisfs_node.threadsend import Collector, ThreadSend, TooLong

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


async def collect(pieces: AsyncIterator[bytes | ThreadSend]) -> bytes:
    """The body, each job run in a worker thread before the next piece is asked for;
    the pieces closed at the end, as ``send_response`` does."""
    out = []
    try:
        async for piece in pieces:
            if isinstance(piece, ThreadSend):
                writer = Collector(piece.count)
                await trio.to_thread.run_sync(piece.write, writer)
                assert writer.left == 0
                out += writer.pieces
            else:
                out.append(bytes(piece))
    finally:
        await pieces.aclose()  # type: ignore[attr-defined]
    return b"".join(out)


async def test_decrypted_range_across_parts_files_and_bytes(tmp_path: Path) -> None:
    segments = [(1, 5 * MiB + 5), (2, 9 * MiB + 3), (3, 777)]  # parts
    plain = os.urandom(sum(n for _, n in segments))
    cipher = encrypt(plain, segments)
    path = tmp_path / "cipher"
    path.write_bytes(cipher)
    start, end = 17, len(plain) - 100  # mid-block at both ends
    cuts = [(start, MiB - start, True), (MiB, 4 * MiB, False),
            (5 * MiB, 9 * MiB + 100, True), (14 * MiB + 100, end + 1 - 14 * MiB - 100, False)]
    closed: list[bool] = []
    got = await collect(thread_sent(pieces_of(path, cipher, cuts, closed),
                                    functools.partial(CtrStream, KEY, NONCE, segments),
                                    start, end - start + 1))
    assert got == plain[start : end + 1]
    assert closed == [True]


async def test_small_range_and_small_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.setattr(sse_read, "STEP", 1000)  # many steps per job, and sends of
    monkeypatch.setattr(sse_read, "SEND", 2500)  # two and a half steps
    plain = os.urandom(100_000)
    cipher = encrypt(plain, [(0, len(plain))])
    path = tmp_path / "cipher"
    path.write_bytes(cipher)
    for start, count in ((0, 1), (15, 2), (31, 50_000), (99_999, 1)):
        for as_file in (True, False):  # bytes of up to ON_LOOP: decrypted on the loop
            got = await collect(thread_sent(
                pieces_of(path, cipher, [(start, count, as_file)], []),
                functools.partial(CtrStream, KEY, NONCE, [(0, len(plain))]), start, count))
            assert got == plain[start : start + count]


async def test_a_file_shorter_than_its_segment_raises(tmp_path: Path) -> None:
    plain = os.urandom(3 * MiB)
    cipher = encrypt(plain, [(0, len(plain))])
    path = tmp_path / "cipher"
    path.write_bytes(cipher[: 2 * MiB])  # cut under the reader
    closed: list[bool] = []
    with pytest.raises(ShortRead):
        await collect(thread_sent(pieces_of(path, cipher, [(0, 3 * MiB, True)], closed),
                                  functools.partial(CtrStream, KEY, NONCE, [(0, len(plain))]),
                                  0, 3 * MiB))
    assert closed == [True]


async def test_a_reader_that_stops_early_closes_the_segments(tmp_path: Path) -> None:
    plain = os.urandom(3 * MiB)
    cipher = encrypt(plain, [(0, len(plain))])
    path = tmp_path / "cipher"
    path.write_bytes(cipher)
    closed: list[bool] = []
    cuts = [(0, MiB, True), (MiB, MiB, True), (2 * MiB, MiB, True)]
    pieces = thread_sent(pieces_of(path, cipher, cuts, closed),
                         functools.partial(CtrStream, KEY, NONCE, [(0, len(plain))]), 0,
                         3 * MiB)
    first = await pieces.__anext__()
    assert isinstance(first, ThreadSend) and first.count == MiB
    await pieces.aclose()  # type: ignore[attr-defined]
    assert closed == [True]


async def test_a_job_never_writes_past_its_count(tmp_path: Path) -> None:
    plain = os.urandom(MiB)
    cipher = encrypt(plain, [(0, len(plain))])
    path = tmp_path / "cipher"
    path.write_bytes(cipher)
    pieces = thread_sent(pieces_of(path, cipher, [(0, MiB, True)], []),
                         functools.partial(CtrStream, KEY, NONCE, [(0, len(plain))]), 0, MiB)
    job = await pieces.__anext__()
    assert isinstance(job, ThreadSend)
    with pytest.raises(TooLong):
        await trio.to_thread.run_sync(job.write, Collector(MiB - 1))
    await pieces.aclose()  # type: ignore[attr-defined]
