"""An encrypted object's GET where the server writes each body piece before it returns
(the node's own server on plain TCP: ``http.response.zerocopysend`` offered).

The event loop only sends. A worker thread reads each piece of ciphertext and decrypts
it into one of two buffers made once per GET - piece *n+1* is read and decrypted while
piece *n* goes out - so the loop spends about what it spends on a plaintext GET's
sendfile, and the decryption runs on another core (docs/encryption.md, "Cost"):

- the chunk copies come from ``Reader.read_segments``, with its rules: a copy verified
  lately and unchanged since (``aisfs/store/verified.py``) is an open descriptor, read
  here with ``preadv`` in steps of ``STEP`` into a third, small buffer and decrypted
  from there (the step stays in the CPU's cache); any other copy is read and verified
  (xxh3) by the reader, its bytes decrypted as they are. A chunk with no good copy
  raises before a byte of it is decrypted: the body is cut, never wrong;
- pieces are at most ``PIECE`` bytes (a chunk is 8 MiB by default): a few hand-offs per
  GET, and at most two pieces (plus the step) per GET in memory.

Measured against doing the same on the loop in 512 KiB pieces (commit c94ffa7): this
costs ~10 % more CPU in all (the socket's copy reads a buffer written on the other
core; a hand-off per piece) and takes half as much of the loop's.

A buffer is written again once the loop has taken the next piece, i.e. once the server
has sent the one before: this is why the pieces go only to a server that writes a piece
before its ``send`` returns (``zero_copy``); others get ``Sse.read_object``'s bytes.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import AsyncIterator

import trio

from aisfs.crypto.ctr import BLOCK, CtrStream
from aisfs.store.reader import FileSegment
from aisfs.store.threads import Pending, start_soon
from aisfs_node.threadsend import ThreadSend, Writer

MiB = 1024 * 1024
PIECE = 8 * MiB
STEP = MiB


class ShortRead(OSError):
    """A chunk file ended before its segment (changed under the reader)."""


def slices(length: int, piece: int = PIECE) -> list[tuple[int, int]]:
    """``(offset, count)`` of the pieces a segment of ``length`` bytes is sent in."""
    return [(off, min(piece, length - off)) for off in range(0, length, piece)]


class _Buffers:
    """The two piece buffers of one GET (each ``BLOCK`` bytes over: OpenSSL's slack)
    and the step buffer a file's bytes are read into."""

    __slots__ = ("pieces", "step", "turn")

    def __init__(self, length: int) -> None:
        size = min(PIECE, length) + BLOCK
        self.pieces = (memoryview(bytearray(size)), memoryview(bytearray(size)))
        self.step = memoryview(bytearray(min(STEP, length)))
        self.turn = 0

    def next(self) -> memoryview:
        self.turn ^= 1
        return self.pieces[self.turn]


def fill(
    source: bytes | FileSegment, offset: int, count: int, stream: CtrStream,
    out: memoryview, step: memoryview,
) -> memoryview:
    """(A worker thread.) ``count`` bytes of ``source`` from ``offset``, decrypted by
    ``stream`` into ``out``; the view of them."""
    if not isinstance(source, FileSegment):
        stream.write_into(memoryview(source)[offset : offset + count], out)
        return out[:count]
    pos = 0
    while pos < count:
        want = min(len(step), count - pos)
        got = _pread_full(source.fd, step[:want], source.offset + offset + pos)
        stream.write_into(step[:got], out[pos:])
        pos += got
    return out[:count]


def _pread_full(fd: int, into: memoryview, offset: int) -> int:
    got = 0
    while got < len(into):
        n = os.preadv(fd, [into[got:]], offset + got)
        if n == 0:
            raise ShortRead(f"chunk file ended {len(into) - got} bytes early")
        got += n
    return got


async def decrypted(
    segments: AsyncIterator[bytes | FileSegment], stream: CtrStream, length: int
) -> AsyncIterator[memoryview]:
    """The plaintext of ``segments`` (``Reader.read_segments`` of ``length`` bytes,
    starting where ``stream`` does): piece *n+1* read and decrypted in a worker thread
    while piece *n* is sent. Each piece is a view of a buffer written again once the
    next piece has been taken."""
    bufs = _Buffers(max(1, length))
    ready: memoryview | None = None
    running: Pending[memoryview] | None = None
    try:
        async for segment in segments:
            for offset, count in slices(len(segment)):
                running = await start_soon(fill, segment, offset, count, stream,
                                           bufs.next(), bufs.step)
                if ready is not None:
                    yield ready
                ready = await running.result()
                running = None
            # the job on this segment is done: the reader may close its descriptor now
        if ready is not None:
            yield ready
    finally:
        if running is not None:
            await _settle(running)
        await segments.aclose()  # type: ignore[attr-defined]


async def _settle(pending: Pending[memoryview]) -> None:
    """Wait (shielded: one piece's read and decryption) for a job nobody will take, so
    the reader does not close a descriptor it still reads."""
    with trio.CancelScope(shield=True), contextlib.suppress(Exception):
        await pending.result()


# ---- one worker thread reads, decrypts and sends (``threadsend``) ----------------------

SEND_STEP = 256 * 1024  # a step read, decrypted and sent while in the core's cache
ON_LOOP = 64 * 1024  # bytes already in memory up to this size: decrypted on the loop


class _Steps:
    """The two step buffers of one GET: the ciphertext read, its plaintext (``BLOCK``
    bytes over: OpenSSL's slack)."""

    __slots__ = ("raw", "out")

    def __init__(self, length: int) -> None:
        step = min(SEND_STEP, length)
        self.raw = memoryview(bytearray(step))
        self.out = memoryview(bytearray(step + BLOCK))


def send_segment(source: bytes | FileSegment, stream: CtrStream, steps: _Steps,
                 writer: Writer) -> None:
    """(A worker thread.) ``source`` decrypted by ``stream`` and written to ``writer``
    step by step, each step read (a file's), decrypted and sent while in the cache."""
    out = steps.out
    if not isinstance(source, FileSegment):
        view = memoryview(source)
        step = len(steps.raw)
        for pos in range(0, len(view), step):
            piece = view[pos : pos + step]
            stream.write_into(piece, out)
            writer.send(out[: len(piece)])
        return
    raw = steps.raw
    pos, count = source.offset, source.count
    end = pos + count
    while pos < end:
        got = _pread_full(source.fd, raw[: min(len(raw), end - pos)], pos)
        stream.write_into(raw[:got], out)
        writer.send(out[:got])
        pos += got


async def thread_sent(
    segments: AsyncIterator[bytes | FileSegment], stream: CtrStream, length: int
) -> AsyncIterator[bytes | ThreadSend]:
    """The plaintext of ``segments`` (``Reader.read_segments`` of ``length`` bytes,
    starting where ``stream`` does), for a server that offers ``threadsend``: each
    segment (a chunk) one job of a worker thread that reads, decrypts and writes it to
    the socket step by step; bytes of a small object decrypted on the loop."""
    steps = _Steps(max(1, length))
    try:
        async for segment in segments:
            if not isinstance(segment, FileSegment) and len(segment) <= ON_LOOP:
                yield stream.update(segment)
            elif len(segment):
                yield ThreadSend(len(segment), functools.partial(
                    send_segment, segment, stream, steps))
            # the server ran the job before asking for the next piece: the reader may
            # close the segment's descriptor now
    finally:
        await segments.aclose()  # type: ignore[attr-defined]
