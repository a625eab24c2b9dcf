"""An encrypted object's GET where the server writes each body piece before it returns
(the node's own server on plain TCP: ``http.response.zerocopysend`` offered).

The chunk copies come from ``Reader.read_segments``, with its rules: a copy verified
lately and unchanged since (``aisfs/store/verified.py``) is an open descriptor, any
other is read and hashed (xxh3) by the reader in a worker thread and comes as its
bytes. Each piece of ``PIECE`` bytes is read from the descriptor (``preadv``) into one
buffer and decrypted into a second, both made once per GET, and handed to the server
as a view of the second: no fresh bytes per piece, no copy on the way but the read and
the socket's own. A piece is small enough for the read, the decryption and the send
to find it in the CPU's cache (docs/encryption.md, "Cost": measured against 1-8 MiB
pieces and against decrypting one 8 MiB piece ahead in a worker thread, which cost more
CPU per MiB: the bytes then cross between cores and the threads hand off).

The read runs on the event loop, as the plaintext GET's ``os.sendfile`` does: the
copy was opened with ``posix_fadvise(WILLNEED)`` read-ahead, and is in the page cache
as a rule. A chunk with no good copy raises before any of its bytes is decrypted: the
body is cut (or, for the first piece, a 500 goes out before the headers), never wrong.

The buffer is written again once the next piece is asked for, i.e. once the server has
written the one before into the socket: this is why the pieces go only to a server that
writes a piece before its ``send`` returns (``zero_copy``); others get the copying path
(``Sse.read_object``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from aisfs.crypto.ctr import BLOCK, CtrStream
from aisfs.store.reader import FileSegment

PIECE = 512 * 1024


class ShortRead(OSError):
    """A chunk file ended before its segment (changed under the reader)."""


def slices(length: int, piece: int = PIECE) -> list[tuple[int, int]]:
    """``(offset, count)`` of the pieces a segment of ``length`` bytes is sent in."""
    return [(off, min(piece, length - off)) for off in range(0, length, piece)]


class Buffers:
    """One GET's two buffers: the ciphertext read from a file, the plaintext (``BLOCK``
    bytes over: OpenSSL's slack)."""

    __slots__ = ("cipher", "plain")

    def __init__(self, length: int, piece: int = PIECE) -> None:
        size = max(1, min(piece, length))
        self.cipher = memoryview(bytearray(size))
        self.plain = memoryview(bytearray(size + BLOCK))

    def fill(self, source: bytes | FileSegment, offset: int, count: int,
             stream: CtrStream) -> memoryview:
        """``count`` (at most the buffers' size) bytes of ``source`` from ``offset``,
        decrypted by ``stream``; a view of them in ``plain``."""
        if isinstance(source, FileSegment):
            cipher = self.cipher[:count]
            _pread_full(source.fd, cipher, source.offset + offset)
        else:
            cipher = memoryview(source)[offset : offset + count]
        stream.write_into(cipher, self.plain)
        return self.plain[:count]


def _pread_full(fd: int, into: memoryview, offset: int) -> None:
    got = 0
    while got < len(into):
        n = os.preadv(fd, [into[got:]], offset + got)
        if n == 0:
            raise ShortRead(f"chunk file ended {len(into) - got} bytes early")
        got += n


async def decrypted(
    segments: AsyncIterator[bytes | FileSegment], stream: CtrStream, length: int,
    piece: int = PIECE,
) -> AsyncIterator[memoryview]:
    """The plaintext of ``segments`` (``Reader.read_segments`` of ``length`` bytes,
    starting where ``stream`` does) in pieces of at most ``piece`` bytes, each a view of
    one buffer written again when the next piece is asked for."""
    bufs = Buffers(length, piece)
    try:
        async for segment in segments:
            for offset, count in slices(len(segment), piece):
                yield bufs.fill(segment, offset, count, stream)
            # the reader may close this segment's descriptor once the next is asked for
    finally:
        await segments.aclose()  # type: ignore[attr-defined]
