"""An encrypted object's GET on a server that lets a worker thread write the socket
(the node's own server on plain TCP: ``aisfs.http.response.threadsend``,
``aisfs_node/threadsend.py``).

Each chunk of the object is one job of a worker thread, which goes through it in steps
of ``STEP`` bytes: ``preadv`` of the step into a small buffer, AES-CTR into a second
one, and the plaintext written to the client's socket - the step stays in that core's
cache from the read to the socket's copy, and the event loop only hands out one job per
chunk and waits for it (docs/encryption.md, "Cost"):

- the chunk copies come from ``Reader.read_segments``, with its rules: a copy verified
  lately and unchanged since (``aisfs/store/verified.py``) is an open descriptor, read
  here; any other copy is read and verified (xxh3) by the reader, and its bytes are
  decrypted as they are. A chunk with no good copy raises before a byte of it is
  decrypted, and a chunk file that ends early raises ``ShortRead`` in the job: the
  body is cut, never wrong;
- the descriptor stays open while the job runs: the server runs a job before it asks
  for the next piece, and waits for the thread even when the request is cancelled.

Measured against the pieces read and decrypted one ahead by a worker thread into two
8 MiB buffers, sent by the loop (the previous way): ~30 % less node CPU per MiB (the
socket's copy reads a buffer in the cache instead of one written on the other core;
two hand-offs per piece gone) and almost nothing on the loop.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator

from aisfs.crypto.ctr import BLOCK, CtrStream
from aisfs.store.reader import FileSegment
from aisfs_node.threadsend import ThreadSend, Writer

STEP = 256 * 1024  # read, decrypted and sent while in the core's cache (64 KiB-1 MiB: alike)
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
    """The two step buffers of one GET: the ciphertext read, its plaintext (``BLOCK``
    bytes over: OpenSSL's slack)."""

    __slots__ = ("raw", "out")

    def __init__(self, length: int) -> None:
        step = min(STEP, length)
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
