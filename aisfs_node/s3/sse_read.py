"""An encrypted object's GET on a server that lets a worker thread write the socket
(the node's own server on plain TCP: ``aisfs.http.response.threadsend``,
``aisfs_node/threadsend.py``).

Two cores work on one GET: a worker thread reads chunk *n+1* in steps of ``STEP`` bytes
(``preadv`` into a small buffer, the step in that core's cache) and decrypts it (AES-CTR)
into one of two plaintext buffers, while the server's thread writes chunk *n* from the
other straight to the client's socket, ``SEND`` bytes at a time; the event loop hands out
one job per chunk (docs/encryption.md, "Cost"):

- the chunk copies come from ``Reader.read_segments(..., defer_check=True)``: a copy
  verified lately comes as its file; a whole chunk's copy not trusted yet comes with its
  check, hashed here step by step as it is decrypted - its plaintext is whole before any
  of it is sent, so a copy that does not match (``Mismatch``) is read again the usual way
  (every copy, repairs) and decrypted from its start by a fresh stream (``stream_at``);
  a part of a chunk (a range) is verified in place by the reader first. A chunk with no
  good copy raises before a byte of it is sent, and a chunk file that ends early raises
  ``ShortRead``: the body is cut, never wrong;
- a segment's descriptor is read only by its decryption, which ends before the next
  segment is asked for (the reader then closes it); a plaintext buffer is written again
  only once the server has run the job that sent it.

Measured (``python -m bench sse --against``): against one thread reading, decrypting and
writing each chunk in turn, repeated GETs of 256 MiB ran 76-83 % of plaintext's rate
against 66-68 % (load 1.2-2.9) at ~0.06 ms/MiB more node CPU (the socket's copy reads
memory the other core wrote).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import AsyncIterator, Callable

import trio

from aisfs.crypto.ctr import BLOCK, CtrStream
from aisfs.store.layout import chunk_hasher
from aisfs.store.reader import FileSegment, Unverified
from aisfs.store.threads import Pending, run_sync, start_soon
from aisfs_node.threadsend import ThreadSend, Writer

MiB = 1024 * 1024

STEP = 256 * 1024  # read and decrypted while in the core's cache (64 KiB-1 MiB: alike)
SEND = 4 * MiB  # decrypted steps written to the socket at once: the client's CPU falls
ON_LOOP = 64 * 1024  # bytes already in memory up to this size: decrypted on the loop


class ShortRead(OSError):
    """A chunk file ended before its segment (changed under the reader)."""


def _pread_full(fd: int, into: memoryview, offset: int) -> int:
    got = 0
    while got < len(into):
        n = os.preadv(fd, [into[got:]], offset + got)
        if n == 0:
            raise ShortRead(f"chunk file ended {len(into) - got} bytes early")
        got += n
    return got


class Mismatch(Exception):
    """A chunk copy handed out unverified did not hash to its id (``Unverified``)."""

    def __init__(self, check: Unverified) -> None:
        super().__init__("chunk copy does not match its id")
        self.check = check


def decrypt_segment(source: bytes | FileSegment, stream: CtrStream, out: memoryview,
                    raw: memoryview) -> memoryview:
    """(A worker thread.) ``source`` decrypted by ``stream`` into ``out`` (a file's bytes
    read ``len(raw)`` at a time); the view of the plaintext. A whole chunk handed out
    unverified (``source.check``) is hashed step by step as it is decrypted, and raises
    ``Mismatch`` (nothing of it used) when it is not its chunk's bytes."""
    if not isinstance(source, FileSegment):
        stream.write_into(memoryview(source), out)
        return out[: len(source)]
    check = source.check
    hasher = chunk_hasher() if check is not None else None
    pos, end, at = source.offset, source.offset + source.count, 0
    try:
        while pos < end:
            got = _pread_full(source.fd, raw[: min(len(raw), end - pos)], pos)
            if hasher is not None:
                hasher.update(raw[:got])
            stream.write_into(raw[:got], out[at:])
            at += got
            pos += got
        longer = check is not None and bool(os.pread(source.fd, 1, end))
    except ShortRead:
        if check is None:
            raise
        raise Mismatch(check) from None
    if check is not None and hasher is not None and (
            longer or not check.matches(source.fd, hasher.hexdigest())):
        raise Mismatch(check)
    return out[: source.count]


def send_plain(view: memoryview, writer: Writer) -> None:
    """(The server's worker thread.) ``view`` written ``SEND`` bytes at a time."""
    for pos in range(0, len(view), SEND):
        writer.send(view[pos : pos + SEND])


def _sent(view: memoryview) -> ThreadSend:
    """The job that writes the plaintext ``view`` to the socket (``send_plain``)."""
    return ThreadSend(len(view), functools.partial(send_plain, view))


class _Pieces:
    """Two plaintext buffers, each as long as the longest segment so far (``BLOCK`` over:
    OpenSSL's slack), taken in turn, and the step a file's bytes are read into."""

    __slots__ = ("bufs", "raw", "turn")

    def __init__(self) -> None:
        self.bufs: list[memoryview] = [memoryview(b""), memoryview(b"")]
        self.raw = memoryview(bytearray(STEP))
        self.turn = 0

    def next(self, size: int) -> memoryview:
        self.turn ^= 1
        if len(self.bufs[self.turn]) < size + BLOCK:
            self.bufs[self.turn] = memoryview(bytearray(size + BLOCK))
        return self.bufs[self.turn]


async def thread_sent(
    segments: AsyncIterator[bytes | FileSegment], stream_at: Callable[[int], CtrStream],
    start: int, length: int,
) -> AsyncIterator[bytes | ThreadSend]:
    """The plaintext of ``segments`` (``Reader.read_segments`` of ``length`` bytes from
    object byte ``start``; ``stream_at(offset)`` decrypts from an object byte), for a
    server that offers ``threadsend``: segment *n+1* (a chunk) read and decrypted by a
    worker thread while the server's thread writes segment *n* to the socket - two
    cores at work on one GET; bytes of a small object decrypted on the loop. A plaintext
    buffer is written again only once the server has run the job that sent it (it runs
    a job before asking for more)."""
    pieces = _Pieces()
    stream = stream_at(start)
    pos = start  # the object byte the next segment starts at
    ready: memoryview | None = None
    running: Pending[memoryview] | None = None
    try:
        async for segment in segments:
            at, pos = pos, pos + len(segment)
            if not isinstance(segment, FileSegment) and len(segment) <= ON_LOOP:
                if ready is not None:
                    yield _sent(ready)
                    ready = None
                yield stream.update(segment)
                continue
            if not len(segment):
                continue
            out = pieces.next(len(segment))
            running = await start_soon(decrypt_segment, segment, stream, out, pieces.raw)
            if ready is not None:
                yield _sent(ready)
            try:
                ready = await running.result()
            except Mismatch as bad:  # read the usual way (every copy, repairs), decrypted
                running = None  # from its start by a new stream (this one went past it)
                data = await run_sync(bad.check.fallback)
                stream = stream_at(at)
                running = await start_soon(decrypt_segment, data, stream, out, pieces.raw)
                ready = await running.result()
            running = None
            # decrypted: the reader may close the segment's descriptor now
        if ready is not None:
            yield _sent(ready)
    finally:
        if running is not None:
            await _settle(running)
        await segments.aclose()  # type: ignore[attr-defined]


async def _settle(pending: Pending[memoryview]) -> None:
    """Wait (shielded: one segment's read and decryption) for a job nobody will take, so
    the reader does not close a descriptor it still reads."""
    with trio.CancelScope(shield=True), contextlib.suppress(Exception):
        await pending.result()
