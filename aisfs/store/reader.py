"""Reads: ``head_object`` (with the bytes of a small object), ``read_object``, and
``read_segments`` for a server that sends a chunk file's bytes itself (sendfile)."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import trio

from ..errors import S3Error
from . import layout
from .buckets import Buckets
from .chunks import ChunkStore, StoreCorruption
from .config import MiB
from .index import Index
from .inline_cache import cache_for
from .manifest import info_from_json, inline_ok
from .manifests import load_inline, newer_copy
from .mountpaths import MountpathSet
from .threads import Pending, run_sync, start_soon
from .types import ChunkRef, ObjectInfo
from .verified import VerifiedCopies
from .version_files import read_version

READ_PIECE = MiB
INLINE_READ = MiB  # head_object(with_data=True) reads objects up to this size
SETTLE = 2.0  # seconds an inline read waits for a write between manifest and index


@dataclass(frozen=True, slots=True)
class Unverified:
    """A whole chunk copy handed out before its hash was checked (``read_segments(...,
    defer_check=True)``): the consumer hashes the bytes as it reads them (xxh3-128,
    ``chunk_hash``'s) and, before it uses any of them, asks ``matches``; on False it
    takes ``fallback()`` - the chunk's bytes read the usual way (every copy, repairs)."""

    expected: str
    path: str
    before: os.stat_result
    started_ns: int
    reader: Reader
    info: ObjectInfo
    ref: ChunkRef

    def matches(self, fd: int, digest: str) -> bool:
        """(A worker thread.) Whether ``digest`` of the copy read from ``fd`` is the
        chunk's id: remembered as verified then, forgotten otherwise."""
        if digest == self.expected:
            self.reader.verified.remember(self.path, self.before, os.fstat(fd),
                                          self.started_ns)
            return True
        self.reader.verified.forget(self.path)
        return False

    def fallback(self) -> bytes:
        """(A worker thread.) The chunk's bytes, read and verified the usual way."""
        return self.reader._read_chunk_sync(self.info, self.ref)


@dataclass(frozen=True, slots=True)
class FileSegment:
    """``count`` bytes at ``offset`` of the open file ``fd`` (a chunk copy verified
    lately and unchanged since: ``verified.py``, or verified in place), for the server
    to send as they are (``os.sendfile``). The descriptor is the reader's: valid until
    the reader is resumed or closed, and closed by it. ``check``: a whole chunk not
    verified yet, which its consumer must verify (``Unverified``)."""

    fd: int
    offset: int
    count: int
    check: Unverified | None = None

    def __len__(self) -> int:
        return self.count


# what a read-ahead of read_segments gives: a chunk's bytes, an open copy, or an open copy
# its consumer verifies
Opened = bytes | int | tuple[int, Unverified]


class Reader:
    """Object reads: the index row, then the chunks (or the inline bytes)."""

    def __init__(
        self, index: Index, mps: MountpathSet, chunks: ChunkStore, buckets: Buckets
    ) -> None:
        self.index = index
        self.mps = mps
        self.chunks = chunks
        self.buckets = buckets
        self.cache = cache_for(index)  # inline objects' verified bytes (inline_cache.py)
        self.verified = VerifiedCopies()  # chunk copies read and verified lately

    def _record(self, bucket: str, key: str) -> ObjectInfo:
        """The object's record from its index row (NoSuchKey / NoSuchBucket if none)."""
        row = self.index.row(
            "SELECT manifest FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
        )
        if row is None:
            self.buckets.get_sync(bucket)
            raise S3Error("NoSuchKey", "The specified key does not exist.", key)
        return info_from_json(json.loads(row[0]))

    def _from_memory(self, info: ObjectInfo, with_data: bool) -> bool:
        """True when ``info`` needs nothing from the disks: not inline and no bytes
        wanted, or inline with its bytes (this generation's) in the cache."""
        if info.inline_xxh3:
            data = self.cache.get(info.bucket, info.key, info.generation, info.inline_xxh3)
            if data is None:
                return False
            info.inline = data
            if with_data:
                info.data = data
            return True
        return not (with_data and 0 < info.size <= INLINE_READ)

    def _from_disks(self, info: ObjectInfo, with_data: bool) -> ObjectInfo:
        """The bytes ``_from_memory`` lacked, read and verified (in a worker thread)."""
        if info.inline_xxh3:
            # an inline object: its bytes are in its manifest files; read for a HEAD too,
            # since callers (node's locate) tell an inline object by ``inline``
            info = self._inline_of_row(info)
            if with_data:
                info.data = info.inline
        elif with_data and 0 < info.size <= INLINE_READ:
            # no pin: a chunk removed meanwhile (the object was replaced) is just not
            # prefetched, and read_object takes the usual path (and its error)
            with contextlib.suppress(StoreCorruption):
                info.data = b"".join(self.chunks.read(c.id, c.size) for c in info.chunks)
        return info

    def _inline_of_row(self, info: ObjectInfo) -> ObjectInfo:
        """``info`` with its bytes from a manifest copy that verifies; if none does
        because the object was replaced since its row was read (its copies are of a newer
        generation now), the record of the row now, with its bytes: a read that overlaps
        a PUT gets either version, never an error. A newer copy while the row is unchanged
        is a write between installing its manifest and committing the index (under the
        writer lock, an fsync or two): waited for, up to ``SETTLE`` seconds. None good and
        no write in flight: ``inline`` stays None (``read_object`` raises
        StoreCorruption)."""
        deadline = time.monotonic() + SETTLE
        pause = 0.001
        while True:
            try:
                self.load_inline(info)
                return info
            except StoreCorruption:
                fresh = self._record(info.bucket, info.key)  # NoSuchKey: deleted meanwhile
                if fresh.generation == info.generation:
                    if time.monotonic() > deadline or not newer_copy(self.mps, info):
                        return info
                    time.sleep(pause)  # a worker thread's: the write commits meanwhile
                    pause = min(2 * pause, 0.05)
                    continue
                info = fresh
                if not info.inline_xxh3 or self._from_memory(info, False):
                    return info  # now chunked (read_object reads it), or in the cache
                if time.monotonic() > deadline:
                    return info

    def head_sync(self, bucket: str, key: str, with_data: bool = False) -> ObjectInfo:
        info = self._record(bucket, key)
        if self._from_memory(info, with_data):
            return info
        return self._from_disks(info, with_data)

    def load_inline(self, info: ObjectInfo) -> None:
        """``info.inline`` from a manifest copy that verifies (then kept in the cache)."""
        load_inline(self.mps, info)
        self.cache.remember(info)

    async def head_object(self, bucket: str, key: str, *, with_data: bool = False) -> ObjectInfo:
        """The object's record. ``with_data``: for a small object (<= 1 MiB) its bytes
        too, read and verified in one worker call (``read_object`` serves them).

        The index row is read on the event loop (one point read of the SQLite index,
        as ``get_bucket``'s): a HEAD, and a GET of an inline object whose bytes are in
        the cache, take no worker-thread hand-off; the rest take one for the disks."""
        await trio.lowlevel.checkpoint_if_cancelled()
        info = self._record(bucket, key)
        if self._from_memory(info, with_data):
            # a checkpoint all the same: a loop of HEADs (a lifecycle pass, a copy job)
            # lets the requests in between run
            await trio.lowlevel.cancel_shielded_checkpoint()
            return info
        return await run_sync(self._from_disks, info, with_data)

    def version_sync(
        self, bucket: str, key: str, version_id: str, with_data: bool = False
    ) -> ObjectInfo:
        """The record of one version (the current, a non-current one or a delete marker:
        ``delete_marker`` says); with ``with_data``, a small one's bytes. NoSuchVersion
        if the key has no such version."""
        row = self.index.row(
            "SELECT version_id FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
        if row is not None and (row[0] or "null") == version_id:
            return self.head_sync(bucket, key, with_data)
        vrow = self.index.row(
            "SELECT manifest FROM versions WHERE bucket = ? AND key = ? AND version_id = ?",
            (bucket, key, version_id))
        if vrow is None:
            self.buckets.get_sync(bucket)
            raise S3Error("NoSuchVersion", "The specified version does not exist.", key,
                          status=404, extra={"Key": key, "VersionId": version_id})
        info = info_from_json(json.loads(vrow[0]))
        if info.delete_marker:
            return info
        if info.inline_xxh3:
            found = read_version(self.mps, bucket, key, version_id)
            if found is not None and found.inline_xxh3 == info.inline_xxh3:
                info.inline = found.inline  # else read_object raises StoreCorruption
                if with_data:
                    info.data = found.inline
        elif with_data and 0 < info.size <= INLINE_READ:
            with contextlib.suppress(StoreCorruption):
                info.data = b"".join(self.chunks.read(c.id, c.size) for c in info.chunks)
        return info

    async def head_version(
        self, bucket: str, key: str, version_id: str, *, with_data: bool = False
    ) -> ObjectInfo:
        """``version_sync`` in a worker thread."""
        return await run_sync(self.version_sync, bucket, key, version_id, with_data)

    def _read_chunk_sync(self, info: ObjectInfo, ref: ChunkRef) -> bytes:
        try:
            return self.chunks.read(ref.id, ref.size)
        except StoreCorruption:
            if not self.index.referenced([ref.id]):
                # deleted or overwritten between head and read (the chunk went with it)
                raise S3Error(
                    "NoSuchKey", "The object changed while it was being read", info.key
                ) from None
            raise

    async def _inline_bytes(self, info: ObjectInfo) -> bytes:
        """An inline object's bytes: those of ``info``, else of the cache, else of a
        manifest copy that verifies; checked against ``inline_xxh3`` (StoreCorruption)."""
        if info.inline is None:  # a record without its bytes
            data = self.cache.get(info.bucket, info.key, info.generation, info.inline_xxh3)
            if data is not None:
                info.inline = data
            else:
                await run_sync(self.load_inline, info)
        if info.inline is None or not inline_ok(info):
            raise StoreCorruption(
                f"inline:{info.bucket}/{info.key}", "inline data does not match its checksum"
            )
        return info.inline

    async def read_object(
        self, info: ObjectInfo, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """Yield bytes ``start..end`` (inclusive) of ``info`` in pieces of at most 1 MiB.

        Whole chunks are read and verified; a bad or missing copy is replaced by another
        (and repaired). Raises StoreCorruption when no good copy is left. The next chunk
        is read (in a worker thread) while the current one is being yielded.
        """
        if end is None or end >= info.size:
            end = info.size - 1
        if info.inline_xxh3 or info.inline is not None:
            data = await self._inline_bytes(info)
            if info.size == 0 or start > end:
                return
            view = memoryview(data)[start : end + 1]
            for i in range(0, len(view), READ_PIECE):
                yield bytes(view[i : i + READ_PIECE])
            return
        if info.size == 0 or start > end:
            return
        if info.data is not None and len(info.data) == info.size:
            view = memoryview(info.data)[start : end + 1]
            for i in range(0, len(view), READ_PIECE):
                yield bytes(view[i : i + READ_PIECE])
            return
        wanted = _wanted(info, start, end)
        if not wanted:
            return
        ids = [c.id for c in info.chunks]
        for cid in ids:
            self.chunks.pin(cid)
        try:
            ahead = await start_soon(self._read_chunk_sync, info, wanted[0][0])
            for n, (ref, c_start) in enumerate(wanted):
                data = await ahead.result()
                if n + 1 < len(wanted):
                    ahead = await start_soon(self._read_chunk_sync, info, wanted[n + 1][0])
                lo = max(start, c_start) - c_start
                hi = min(end, c_start + ref.size - 1) - c_start + 1
                view = memoryview(data)[lo:hi]
                for i in range(0, len(view), READ_PIECE):
                    yield bytes(view[i : i + READ_PIECE])
                del data, view
        finally:
            self.chunks.unpin(ids)

    # -- zero-copy reads --------------------------------------------------------------

    async def read_segments(
        self, info: ObjectInfo, start: int = 0, end: int | None = None,
        defer_check: bool = False,
    ) -> AsyncIterator[bytes | FileSegment]:
        """``read_object`` for a server that can send a file's bytes itself: a chunk
        copy verified lately and unchanged since (``verified.py``) comes as a
        ``FileSegment`` of its open file, its bytes never read by Python; any other chunk
        is verified in place (hashed in steps, then remembered as verified) and comes as
        a ``FileSegment`` too; a copy that does not verify sends the read the usual way
        (every copy, repairs: its bytes, whole). Inline and small objects:
        ``read_object``'s pieces. ``defer_check``: a whole chunk's copy not trusted yet
        comes unverified, its ``check`` for the consumer to do as it reads (one pass over
        the bytes instead of two: an encrypted GET's decryption)."""
        if end is None or end >= info.size:
            end = info.size - 1
        wanted = _wanted(info, start, end)
        if info.inline_xxh3 or info.inline is not None or not wanted or (
                info.data is not None and len(info.data) == info.size):
            async for piece in self.read_object(info, start, end):
                yield piece
            return
        ids = [c.id for c in info.chunks]
        for cid in ids:
            self.chunks.pin(cid)
        ahead: Pending[Opened] | None = None

        def whole(i: int) -> bool:
            ref, c_start = wanted[i]
            return defer_check and start <= c_start and c_start + ref.size - 1 <= end

        try:
            ahead = await start_soon(self._open_verified, info, wanted[0][0], whole(0))
            for n, (ref, c_start) in enumerate(wanted):
                assert ahead is not None
                got = await ahead.result()
                ahead = None
                if n + 1 < len(wanted):
                    ahead = await start_soon(self._open_verified, info, wanted[n + 1][0],
                                             whole(n + 1))
                lo = max(start, c_start) - c_start
                hi = min(end, c_start + ref.size - 1) - c_start + 1
                check = None
                if isinstance(got, tuple):
                    got, check = got
                if isinstance(got, int):
                    try:
                        yield FileSegment(got, lo, hi - lo, check)
                    finally:
                        os.close(got)
                else:
                    yield got if lo == 0 and hi == len(got) else got[lo:hi]
                del got
        finally:
            if ahead is not None:
                await _close_pending(ahead)
            self.chunks.unpin(ids)

    def _open_verified(self, info: ObjectInfo, ref: ChunkRef, defer: bool = False) -> Opened:
        """(A worker thread.) An open descriptor of a copy of ``ref`` verified lately
        and unchanged since, its read-ahead started, or verified now (hashed in place,
        then remembered as verified). A copy that is not good sends the read the usual
        way (``_read_chunk_sync``: every copy, repairs, errors: its bytes)."""
        for mp in self.mps.order(ref.id):
            path = layout.chunk_path(mp.root, ref.id)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # a copy off its first place: the next mountpath
            except OSError:
                break
            try:
                found = self._trusted_or_read(fd, path, ref, info if defer else None)
            except OSError:
                found = None
            if found is None:
                os.close(fd)
                break
            return found
        return self._read_chunk_sync(info, ref)

    def _trusted_or_read(
        self, fd: int, path: str, ref: ChunkRef, defer_for: ObjectInfo | None = None
    ) -> int | tuple[int, Unverified] | None:
        """``fd`` when its copy is trusted (verified lately, same stamp) or verifies now
        (hashed in place, remembered then); None if it does not. ``defer_for``: a copy
        not trusted comes with the check its consumer does (``Unverified``)."""
        st = os.fstat(fd)
        if st.st_size == ref.size and self.verified.trusted(path, st):
            os.posix_fadvise(fd, 0, ref.size, os.POSIX_FADV_WILLNEED)
            return fd
        started = time.time_ns()
        if defer_for is not None and st.st_size == ref.size:
            return fd, Unverified(layout.chunk_base(ref.id), path, st, started, self,
                                  defer_for, ref)
        if st.st_size != ref.size or _hash_fd(fd, ref.size) != layout.chunk_base(ref.id):
            self.verified.forget(path)
            return None
        self.verified.remember(path, st, os.fstat(fd), started)
        return fd


def _wanted(info: ObjectInfo, start: int, end: int) -> list[tuple[ChunkRef, int]]:
    """The chunks that hold bytes ``start..end``, each with its offset in the object."""
    wanted: list[tuple[ChunkRef, int]] = []
    off = 0
    for ref in info.chunks:
        if off + ref.size > start and off <= end:
            wanted.append((ref, off))
        off += ref.size
    return wanted


HASH_STEP = 1024 * 1024  # a copy verified in place is read in steps this long
_hash_buffers = threading.local()


def _hash_fd(fd: int, size: int) -> str | None:
    """(A worker thread.) The chunk id (xxh3-128) of ``fd``'s first ``size`` bytes, read
    in cache-sized steps into this thread's buffer; None when the file is shorter or
    longer. The copy is then sent from its file (sendfile, or an encrypted GET's job
    reading it in steps): no chunk-sized buffer, and the bytes are hashed while cached."""
    buf: memoryview | None = getattr(_hash_buffers, "buf", None)
    if buf is None:
        buf = _hash_buffers.buf = memoryview(bytearray(HASH_STEP))
    h = layout.chunk_hasher()
    got = 0
    while True:
        n = os.preadv(fd, [buf], got)
        if not n:
            break
        h.update(buf[:n])
        got += n
        if got > size:
            return None
    return h.hexdigest() if got == size else None


async def _close_pending(pending: Pending[Opened]) -> None:
    """Wait (shielded: a few file operations at most) for a read-ahead nobody will
    take, and close the descriptor it may have opened."""
    with trio.CancelScope(shield=True), contextlib.suppress(Exception):
        got = await pending.result()
        if isinstance(got, tuple):
            got = got[0]
        if isinstance(got, int):
            os.close(got)
