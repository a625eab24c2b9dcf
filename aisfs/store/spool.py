"""A body's chunks written to temp files as its pieces arrive: no chunk held in memory.

A PUT (or part) of known length past ``HASH_AHEAD`` goes this way (writer.py). Its
pieces (each up to the server's 1 MiB receive) go to two tasks at once: one hashes them
in order into the write's ``Digest`` (MD5, the bucket's checksum, the flexible ones), the
other writes them to the current chunk's temp file (``Spool``, in a worker thread), the
chunk's xxh3-128 taken as they pass (a one-chunk body spooled beside others: one task
does both, see ``spool_body``). At each chunk boundary the file is handed to
``ChunkStore.store`` (up to ``WRITERS`` at once; the body's last chunk by the call that
wrote it): its id known now, the file becomes the
chunk's first copy by a hard link (same file system: no copy, no second write; another
file system: copied in the kernel, ``copy_file``), fsynced there; a chunk already stored
with these bytes (dedup) is compared file to file. Nothing refers to a chunk before the
manifest, and the manifest is staged only after every chunk is durable and its directory
fsynced (``_land_sync``): the store's crash order is unchanged.

What a write holds in memory: the pieces between the receive and the slower of the two
tasks - the run being gathered, at most ``AHEAD`` runs (``RUN``: 2 MiB of pieces, one more
piece at most) waiting in a channel and ``BATCH`` in the call a task works on: ~24 MiB at
most with the server's 1 MiB pieces, a part's own size at most (51 MiB of Python heap for
two 64 MiB PUTs under tracemalloc, was 98; 30 for 4 parts of 8 MiB in flight, was 68: up
to five 8 MiB chunk buffers per PUT - the join, the hash stage, two writers, the next
chunk's pieces). Runs of 2 MiB rather than 256 KiB: a worker-thread hand-off per 1 MiB
piece in each task cost the node ~8 % more CPU per GiB than the in-memory pipeline's three
per 8 MiB chunk. The slack is for a loaded machine, where the tasks' threads get the CPU
late: 8 runs waiting rather than 4 gave +12 % MiB/s to a 64 MiB PUT and +22 % to a
multipart upload (paired, same tree), on par with the in-memory pipeline then.

A temp file is the spool's until it is handed on, then the store call's: whichever holds
it removes it (a failure, a cancellation), and ``gc`` collects what a crash left.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from typing import Protocol

import trio

from ..errors import S3Error, unwrap
from . import layout
from .digest import Digest
from .files import FILE_MODE, fsync_file, write_all, write_tmp
from .mountpath import Mountpath
from .space import is_full_error
from .threads import run_sync
from .types import ChunkRef

AHEAD = 8  # runs of pieces received, not yet taken by the hashing (or the spooling) task
BATCH = 3  # runs at most in one worker-thread call
RUN = 2 * 1024 * 1024  # pieces go on in runs of at least this many bytes (the last less)
WRITERS = 2  # chunks of one write stored (linked, fsynced) at once
COMPARE = 1024 * 1024  # the block a dedup comparison reads of each file


def copy_file(src: str, dst: str, size: int, fsync: bool) -> None:
    """A new file ``dst`` holding the first ``size`` bytes of ``src``, copied in the
    kernel (copy_file_range, else sendfile), fsynced if asked; no file on failure."""
    write_tmp(dst, b"", fsync, write=lambda fd, _: _copy_range_from(src, fd, size))


def _copy_range(fd_in: int, fd_out: int, size: int) -> None:
    done = 0
    while done < size:
        try:
            n = os.copy_file_range(fd_in, fd_out, size - done, done, done)
        except OSError as e:  # across file systems on older kernels
            if e.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                raise
            n = os.sendfile(fd_out, fd_in, done, size - done)
        if n == 0:
            raise OSError(errno.EIO, f"short copy: {done} of {size} bytes")
        done += n


def same_bytes(a: str, b: str, size: int) -> bool:
    """Whether files ``a`` and ``b`` both hold exactly ``size`` bytes, the same (``b``
    missing: FileNotFoundError, before ``a`` is opened - a chunk not stored yet, the
    common case, costs one failed open per mountpath)."""
    with open(b, "rb", buffering=0) as fb, open(a, "rb", buffering=0) as fa:
        if os.fstat(fa.fileno()).st_size != size or os.fstat(fb.fileno()).st_size != size:
            return False
        while True:
            x, y = fa.read(COMPARE), fb.read(COMPARE)
            if x != y:
                return False
            if not x:
                return True


@dataclass(slots=True)
class Spooled:
    """A chunk's bytes in a temp file, ``h`` their xxh3-128: what ``ChunkStore.store``
    takes in place of the bytes themselves."""

    path: str
    size: int
    h: str
    linked: bool = False  # the file is a copy already (one link: two would share it)

    def same_as(self, path: str) -> bool:
        return same_bytes(self.path, path, self.size)

    def copy_to(self, tmp: str, fsync: bool) -> None:
        """``tmp`` made a copy of these bytes: the file itself (a hard link, then
        fsynced) the first time the file system allows it, else copied."""
        if not self.linked:
            try:
                os.link(self.path, tmp)
            except OSError as e:
                if e.errno != errno.EXDEV:
                    raise
            else:
                try:
                    if fsync:
                        fsync_file(tmp)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
                    raise
                self.linked = True
                return
        copy_file(self.path, tmp, self.size, fsync)

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class Places(Protocol):
    """Where a spool's temp files go (``ChunkStore``)."""

    def spool_mountpath(self, avoid: set[str]) -> Mountpath: ...

    def spool_failed(self, mp: Mountpath, exc: OSError) -> None: ...


class Spool:
    """Pieces written to chunk-sized temp files, in order (one worker-thread call at a
    time: ``feed``, ``finish``, ``abort``)."""

    def __init__(self, chunk_size: int, places: Places) -> None:
        self.chunk_size = chunk_size
        self.places = places
        self.fd = -1
        self.path = ""
        self.mp: Mountpath | None = None
        self.have = 0  # bytes in the current file
        self.hasher = layout.chunk_hasher()

    def feed(self, pieces: list[bytes]) -> list[Spooled]:
        """Write ``pieces``; the chunks they completed (on a failure, none: removed)."""
        done: list[Spooled] = []
        try:
            for piece in pieces:
                self._feed_one(memoryview(piece), done)
        except BaseException:
            for spooled in done:
                spooled.discard()
            raise
        return done

    def _feed_one(self, view: memoryview, done: list[Spooled]) -> None:
        while view:
            if self.fd < 0:
                self._open(set())
            part = view[: self.chunk_size - self.have]
            self._write(part)
            self.hasher.update(part)
            view = view[len(part):]
            if self.have == self.chunk_size:
                done.append(self._close())

    def finish(self) -> Spooled | None:
        """The last (short) chunk; None when the body ended on a chunk boundary."""
        return self._close() if self.fd >= 0 else None

    def abort(self) -> None:
        """Close and remove the file being written, if any."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def _open(self, avoid: set[str]) -> None:
        while True:
            mp = self.places.spool_mountpath(avoid)
            path = layout.tmp_path(mp.root, "chunk")
            try:
                self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            except OSError as e:
                self.places.spool_failed(mp, e)  # raises unless full or failed
                avoid.add(mp.uuid)
                continue
            self.mp, self.path = mp, path
            return

    def _write(self, data: memoryview) -> None:
        while True:
            try:
                write_all(self.fd, data)
                self.have += len(data)
                return
            except OSError as e:
                assert self.mp is not None
                self.places.spool_failed(self.mp, e)
                self._move()

    def _move(self) -> None:
        """The bytes so far moved to a file on another mountpath (this one is full or
        failed), the write to go on there."""
        assert self.mp is not None
        old, avoid = self.path, {self.mp.uuid}
        os.close(self.fd)
        self.fd = -1
        try:
            while True:
                self._open(avoid)
                try:
                    _copy_range_from(old, self.fd, self.have)
                    os.lseek(self.fd, self.have, os.SEEK_SET)  # the copy moved no offset
                    return
                except OSError as e:
                    assert self.mp is not None
                    self.abort()
                    self.places.spool_failed(self.mp, e)
                    avoid.add(self.mp.uuid)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(old)

    def _close(self) -> Spooled:
        os.close(self.fd)
        self.fd = -1
        spooled = Spooled(self.path, self.have, self.hasher.hexdigest())
        self.have = 0
        self.hasher = layout.chunk_hasher()
        return spooled


def _copy_range_from(src: str, fd_out: int, size: int) -> None:
    fd_in = os.open(src, os.O_RDONLY)
    try:
        _copy_range(fd_in, fd_out, size)
    finally:
        os.close(fd_in)


_spooling = 0  # bodies being spooled (by this process's event loop; one thread)


def _too_long(resource: str) -> S3Error:
    return S3Error("IncompleteBody", "The body is longer than the declared Content-Length",
                   resource)


async def spool_body(
    body: AsyncIterable[bytes], expected_size: int, resource: str, dg: Digest,
    spool: Spool, store: Callable[[Spooled], str],
) -> list[ChunkRef]:
    """``body`` (``expected_size`` bytes, else IncompleteBody) hashed into ``dg`` and
    spooled into chunks, each stored by ``store`` (a worker thread; it owns the file
    from then on); their refs in order, once every one is stored.

    A body of one chunk (an 8 MiB part) spooled while another body is (parts in flight)
    is hashed and written by one task, each batch in one worker call (``_spool_stage``
    with ``dg``): its MD5 and its write no longer overlap, the other bodies keep the cores
    busy, and its hand-offs are halved (~7 -> ~4 for an 8 MiB part, the final call's
    included: node CPU per GiB of 8 MiB parts x4 -2..4 %). Alone (one client's 8 MiB PUT,
    whose MD5 and write overlapping took 10-15 % off its latency) and longer, by the two."""
    global _spooling
    refs: list[ChunkRef | None] = []
    one = expected_size <= spool.chunk_size and _spooling > 0
    to_spool, spool_in = trio.open_memory_channel[list[bytes]](AHEAD)
    outs = [to_spool]
    _spooling += 1
    try:
        async with trio.open_nursery() as nursery:
            if not one:
                to_hash, hash_in = trio.open_memory_channel[list[bytes]](AHEAD)
                outs.insert(0, to_hash)
                nursery.start_soon(_hash_stage, hash_in, dg)
            nursery.start_soon(_spool_stage, spool_in, spool, refs, store, expected_size,
                               dg if one else None)
            try:
                await _fan_out(body, expected_size, resource, outs)
            except BaseException:
                nursery.cancel_scope.cancel()  # nothing of a refused body is stored
                raise
    except BaseExceptionGroup as eg:
        raise unwrap(eg, alike=is_full_error) from None
    finally:
        _spooling -= 1
    stored = [ref for ref in refs if ref is not None]
    assert len(stored) == len(refs)  # every store call returned (else it raised)
    return stored


async def _fan_out(
    body: AsyncIterable[bytes], expected_size: int, resource: str,
    outs: list[trio.MemorySendChannel[list[bytes]]],
) -> None:
    """The pieces of ``body`` to each stage (``outs``), in runs of at least RUN bytes (small
    pieces from a slow network cost one hand-off per run, not each); the length checked
    as it comes."""
    total = 0
    run: list[bytes] = []
    have = 0
    try:
        async for piece in body:
            if not piece:
                continue
            total += len(piece)
            if total > expected_size:
                raise _too_long(resource)
            run.append(piece)
            have += len(piece)
            if have >= RUN or total == expected_size:
                for out in outs:
                    await out.send(run)
                run, have = [], 0
    finally:
        for out in outs:
            out.close()
    if total != expected_size:
        raise S3Error(
            "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length",
            resource,
        )


def _batch(first: list[bytes], runs: trio.MemoryReceiveChannel[list[bytes]]) -> list[bytes]:
    """The pieces of ``first`` and of the runs waiting behind it: one worker-thread call
    for them all."""
    batch = list(first)
    with contextlib.suppress(trio.WouldBlock, trio.EndOfChannel):
        for _ in range(BATCH - 1):
            batch += runs.receive_nowait()
    return batch


async def _hash_stage(pieces: trio.MemoryReceiveChannel[list[bytes]], dg: Digest) -> None:
    def update(batch: list[bytes]) -> None:
        for piece in batch:
            dg.update(piece)

    async with pieces:
        async for piece in pieces:
            await run_sync(update, _batch(piece, pieces))


async def _spool_stage(
    pieces: trio.MemoryReceiveChannel[list[bytes]], spool: Spool, refs: list[ChunkRef | None],
    store: Callable[[Spooled], str], expected_size: int, dg: Digest | None = None,
) -> None:
    """The pieces written by ``spool``; each chunk it completes stored, up to WRITERS at
    once (a slot is taken before the next batch is written). The batch that ends the body
    also ends and stores its last chunk in the same worker-thread call (``_feed_last``):
    a one-chunk body (an 8 MiB part) takes no hand-off of its own for the store. ``dg``:
    each batch hashed into it first, in the same call (``spool_body``'s one-chunk body)."""
    slots = trio.Semaphore(WRITERS)
    waiting: list[Spooled] = []  # completed, not yet handed to a store call
    fed = 0
    try:
        async with pieces, trio.open_nursery() as storing:
            async for piece in pieces:
                batch = _batch(piece, pieces)
                fed += sum(map(len, batch))
                if fed != expected_size:
                    waiting += await run_sync(_feed, spool, batch, dg)
                    await _hand_on(waiting, slots, refs, store, storing)
                    continue
                async with slots:  # the last chunk's store call is this one
                    done, last = await run_sync(_feed_last, spool, batch, store, dg)
                waiting += done
                await _hand_on(waiting, slots, refs, store, storing)
                refs.append(last)
            # a body that ended short stores no last chunk: _fan_out refuses it
    finally:
        spool.abort()
        for spooled in waiting:
            spooled.discard()


def _feed(spool: Spool, batch: list[bytes], dg: Digest | None) -> list[Spooled]:
    """``batch`` hashed into ``dg`` (if any), then written (in a worker thread)."""
    if dg is not None:
        for piece in batch:
            dg.update(piece)
    return spool.feed(batch)


def _feed_last(
    spool: Spool, batch: list[bytes], store: Callable[[Spooled], str], dg: Digest | None
) -> tuple[list[Spooled], ChunkRef]:
    """The body's last pieces written, its last chunk ended and stored (in a worker
    thread): the chunks completed before it (not yet stored), and the last one's ref."""
    done = _feed(spool, batch, dg)
    try:
        last = spool.finish() or done.pop()
        try:
            return done, ChunkRef(store(last), last.size)
        finally:
            last.discard()
    except BaseException:
        for spooled in done:
            spooled.discard()
        raise


async def _hand_on(
    waiting: list[Spooled], slots: trio.Semaphore, refs: list[ChunkRef | None],
    store: Callable[[Spooled], str], storing: trio.Nursery,
) -> None:
    while waiting:
        await slots.acquire()
        spooled = waiting.pop(0)
        refs.append(None)
        storing.start_soon(_store_one, spooled, len(refs) - 1, slots, refs, store)


async def _store_one(
    spooled: Spooled, i: int, slots: trio.Semaphore, refs: list[ChunkRef | None],
    store: Callable[[Spooled], str],
) -> None:
    ran = False

    def sync() -> str:
        nonlocal ran
        ran = True
        try:
            return store(spooled)
        finally:
            spooled.discard()

    try:
        refs[i] = ChunkRef(await run_sync(sync), spooled.size)
    finally:
        slots.release()
        if not ran:  # cancelled before the call: the file is still ours
            spooled.discard()
