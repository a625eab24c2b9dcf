"""An encrypted object's GET on a server that lets a worker thread write the socket
(the node's own server on plain TCP: ``aisfs.http.response.threadsend``,
``aisfs_node/threadsend.py``).

Each chunk of the object is one job of a worker thread, which goes through it in steps
of ``STEP`` bytes: ``preadv`` of the step into a small buffer and AES-CTR from there
(the step stays in that core's cache) into a buffer of ``SEND`` bytes, written to the
client's socket by the same thread when full - on one core from the read to the
socket's copy, and the event loop only hands out one job per chunk and waits for it
(docs/encryption.md, "Cost"):

- the chunk copies come from ``Reader.read_segments``, with its rules: a copy verified
  lately and unchanged since (``aisfs/store/verified.py``) is an open descriptor, read
  here; any other copy is read and verified (xxh3) by the reader, and its bytes are
  decrypted as they are. A chunk with no good copy raises before a byte of it is
  decrypted, and a chunk file that ends early raises ``ShortRead`` in the job: the
  body is cut, never wrong;
- the descriptor stays open while the job runs: the server runs a job before it asks
  for the next piece, and waits for the thread even when the request is cancelled.

Measured against the pieces read and decrypted one ahead by a worker thread into two
8 MiB buffers, sent by the loop (the previous way): ~30-40 % less node CPU per MiB (the
socket's copy reads memory this core wrote, not the other's; two hand-offs per piece
gone) and almost nothing on the loop. Writes of 4 MiB rather than of each 256 KiB step
cost the node no more and the client (on loopback) ~20 % less.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator

from aisfs.crypto.ctr import BLOCK, CtrStream
from aisfs.store.reader import FileSegment
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


class _Steps:
    """The buffers of one GET: a step of ciphertext read, and the plaintext of up to
    ``SEND`` bytes of steps (``BLOCK`` bytes over: OpenSSL's slack)."""

    __slots__ = ("raw", "out")

    def __init__(self, length: int) -> None:
        self.raw = memoryview(bytearray(min(STEP, length)))
        self.out = memoryview(bytearray(min(SEND, length) + BLOCK))


def send_segment(source: bytes | FileSegment, stream: CtrStream, steps: _Steps,
                 writer: Writer) -> None:
    """(A worker thread.) ``source`` decrypted by ``stream`` and written to ``writer``:
    a file's bytes read and decrypted step by step (each step in the cache), the
    plaintext written ``SEND`` bytes at a time."""
    out = steps.out
    room = len(out) - BLOCK
    if not isinstance(source, FileSegment):
        view = memoryview(source)
        for pos in range(0, len(view), room):
            piece = view[pos : pos + room]
            stream.write_into(piece, out)
            writer.send(out[: len(piece)])
        return
    raw = steps.raw
    pos, end = source.offset, source.offset + source.count
    fill = 0
    while pos < end:
        got = _pread_full(source.fd, raw[: min(len(raw), end - pos, room - fill)], pos)
        stream.write_into(raw[:got], out[fill:])
        fill += got
        pos += got
        if fill == room or pos == end:
            writer.send(out[:fill])
            fill = 0


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
