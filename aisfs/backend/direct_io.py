"""Chunk files of a remote object's copy written with O_DIRECT (the store's hook
``ChunkStore.direct_writer``, installed by ``install``).

A cold GET's fill writes every byte it relays into the store. Through the page cache that
write was most of the front's CPU (``copy_folio_from_iter_atomic``: 51 % of a 256 MiB cold
GET's profile, ~1.5 CPU s/GiB on this VM, and the writeback after it); with O_DIRECT the
device reads the bytes from our buffer and the kernel copies nothing (~0.25 CPU s/GiB,
2-5x the throughput here). The copy is fdatasynced once before it is published
(writer.py's ``sync_once``), as before: O_DIRECT only changes how the bytes get there.

O_DIRECT wants the buffer, the length and the file offset aligned to the device's block:
a fill's piece is received into a block-aligned buffer (``aligned``, lean.py's pool) and its
whole blocks are written straight from it; other bytes are copied into a page-aligned
anonymous mmap first (a user-space copy, ~0.07 CPU s/GiB: 7 % of a cold GET's front).
A short last block is written padded with zeros, then cut back with ``ftruncate``. Small
chunks (< ``DIRECT_MIN``) gain nothing and would wait for the device on every write: they
go through the page cache as before, as does everything on a file system that refuses
O_DIRECT (tmpfs: EINVAL at open).

The trade: a chunk written so is not in the page cache, the first warm GET reads it from
the device (a cache node's data is larger than its RAM anyway; the page cache keeps what
is read, not what is filled).
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import sys
import threading

from ..store.chunks import ChunkStore
from ..store.files import write_all, write_tmp

DIRECT_MIN = 1024 * 1024  # bytes: smaller chunks are written through the page cache
BLOCK = 4096  # the alignment O_DIRECT is given (a multiple of every device's block here)
KEPT = 4  # aligned buffers kept for reuse (more are made when more writers run at once)
_O_DIRECT = getattr(os, "O_DIRECT", 0)


class _Buffers:
    """Page-aligned buffers, reused: at most ``KEPT`` kept between writes."""

    def __init__(self) -> None:
        self._free: list[mmap.mmap] = []
        self._lock = threading.Lock()

    def take(self, size: int) -> mmap.mmap:
        with self._lock:
            for i, buf in enumerate(self._free):
                if len(buf) >= size:
                    return self._free.pop(i)
        return mmap.mmap(-1, size)

    def give(self, buf: mmap.mmap) -> None:
        with self._lock:
            if len(self._free) < KEPT:
                self._free.append(buf)
                return
        buf.close()


_buffers = _Buffers()
_refused: set[str] = set()  # directories whose file system refused O_DIRECT


def write_tmp_direct(tmp: str, data: bytes | bytearray | memoryview, fsync: bool) -> None:
    """``files.write_tmp`` with O_DIRECT for a chunk of at least ``DIRECT_MIN`` bytes."""
    where = os.path.dirname(tmp)
    if len(data) < DIRECT_MIN or not _O_DIRECT or where in _refused:
        write_tmp(tmp, data, fsync)
        return
    try:
        write_tmp(tmp, data, fsync, flags=_O_DIRECT, write=_write_aligned)
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise
        _refused.add(where)  # O_DIRECT refused (EINVAL; write_tmp left no file): buffered
        write_tmp(tmp, data, fsync)


def address(buf: bytearray) -> int:
    """Where ``buf``'s data starts in memory (a non-empty ``bytearray``)."""
    probe = ctypes.c_char.from_buffer(buf)
    try:
        return ctypes.addressof(probe)
    finally:
        del probe  # its export of ``buf`` ends: ``buf`` may be resized again


def _write_aligned(fd: int, data: bytes | bytearray | memoryview) -> None:
    """``data`` written at the file's start: its whole blocks straight from it when it
    starts on a block (a fill's piece, ``aligned``: no copy), else from a
    copy in an aligned buffer; a short last block from a padded copy."""
    n = len(data)
    done = 0
    if isinstance(data, bytearray) and address(data) % BLOCK == 0:
        done = n - n % BLOCK
        with memoryview(data) as view:
            write_all(fd, view[:done])
    if done < n:
        _write_copied(fd, memoryview(data)[done:])
    if n % BLOCK:
        os.ftruncate(fd, n)


def _write_copied(fd: int, data: memoryview) -> None:
    """``data`` copied into an aligned buffer, padded to whole blocks, written."""
    n = len(data)
    padded = -(-n // BLOCK) * BLOCK
    buf = _buffers.take(padded)
    try:
        with memoryview(buf) as view:
            view[:n] = data
            if padded > n:
                view[n:padded] = bytes(padded - n)
            write_all(fd, view[:padded])
    finally:
        _buffers.give(buf)
        data.release()


def aligned(n: int) -> bytearray:
    """A ``bytearray`` of ``n`` bytes whose data starts on a ``BLOCK`` boundary: a chunk
    written with O_DIRECT straight from it (no copy into an aligned buffer first). One
    ``BLOCK`` more is allocated and the start cut off: CPython's ``del buf[:k]`` moves the
    buffer's logical start (no copy), and a cut of less than half at the end only sets its
    length."""
    buf = bytearray(n + BLOCK)
    del buf[:-address(buf) % BLOCK]
    del buf[n:]
    return buf


def free_refs() -> int:
    """The reference count a pool's ``take`` sees of a buffer only its list holds,
    measured with the same code (not assumed: the interpreter decides what its loop
    holds)."""
    kept = [bytearray(1)]
    for buf in kept:
        return sys.getrefcount(buf)
    raise AssertionError("unreachable")


FREE_REFS = free_refs()


class AlignedPool:
    """Aligned buffers (``aligned``) reused once nothing holds one any more - its
    reference count says so: every holder (a channel, the store's chunker, a write in a
    worker thread, a memoryview of it) holds a reference - at most ``KEPT`` kept: a new
    8 MiB buffer costs its page faults and clears. Sizes ``pooled`` rejects are plain new
    ``bytearray``s. Taken on the event loop or in worker threads: under a lock."""

    KEPT = 6

    def __init__(self) -> None:
        self._kept: list[bytearray] = []
        self._lock = threading.Lock()

    def pooled(self, n: int) -> bool:
        """Whether a buffer of ``n`` bytes comes from the pool."""
        return True

    def take(self, n: int) -> bytearray:
        """A buffer of ``n`` bytes (its old contents: the caller fills it)."""
        if not self.pooled(n):
            return bytearray(n)
        with self._lock:
            for buf in self._kept:
                if sys.getrefcount(buf) == FREE_REFS and len(buf) == n:
                    return buf
            buf = aligned(n)
            if len(self._kept) < self.KEPT:
                self._kept.append(buf)
            return buf


class ChunkBuffers(AlignedPool):
    """Aligned buffers a remote copy's chunk is joined into from the pieces it came in (a
    write-through PUT's: writer.py ``_cut``), so the join is its only copy: O_DIRECT then
    writes straight from it (before: joined into ``bytes``, then copied again into an
    aligned buffer - two copies of every byte, 20 % of a write-through's front CPU with
    the kernel's). Chunks under ``DIRECT_MIN`` (written through the page cache) get a
    plain one."""

    KEPT = 6  # one write-through holds ~4 (one joined, one waiting, WRITERS being written)

    def pooled(self, n: int) -> bool:
        return n >= DIRECT_MIN


def install(chunks: ChunkStore) -> None:
    """Remote copies' chunks (``store(..., sync=False)``) written with O_DIRECT, joined
    into aligned buffers."""
    chunks.direct_writer = write_tmp_direct
    chunks.direct_buffer = ChunkBuffers().take
