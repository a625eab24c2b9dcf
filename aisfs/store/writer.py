"""The PUT pipeline: a body cut into chunks, hashed in order, written; the final
worker-thread call that publishes it.

A body is cut into chunks as it arrives. One that ends within its first chunk (every
small PUT) costs one worker-thread call: hash, write the chunk, fsync it and its
directory, run ``before_commit``, stage the manifest, commit, fsync the manifest
directory. A longer one goes through a pipeline: receive (on the loop) -> hash in
order (MD5 and the whole-body checksums, one thread) -> write (chunk hash, temp file,
fsync, link: up to WRITERS chunks at once), then the same final call.

A remote object's write (a cold GET's fill, a write-through PUT: ``put_object`` with
``etag``) differs in three ways: no MD5 (the backend's ETag is the object's), no fsync
per chunk (every copy of every chunk is fdatasynced once the body is in, before the
manifest is staged: nothing refers to them before that), and an optional ``ready``
awaited between the durable body and the commit (the backend's acknowledgement). Its
chunks also take one worker-thread call each (``_InOrder``: the chunk id and the
whole-body checksum in one pass, in order, then the write), and a chunk joined from
pieces is joined into the buffer ``ChunkStore.direct_buffer`` gives (O_DIRECT writes
from it as it is).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
)
from dataclasses import dataclass
from typing import Any

import outcome
import trio

from ..errors import S3Error, unwrap
from . import layout
from .buckets import Buckets
from .chunks import ChunkStore, chunk_hash
from .config import StoreConfig
from .digest import Digest
from .generations import Generations
from .groups import Group
from .index import Index
from .inline_cache import remember_inline
from .manifest import inline_hash
from .preconditions import check_preconditions
from .publish import Publisher, Staged
from .put_group import Done, PutGroup, PutJob, PutSpec
from .space import insufficient_storage, is_full_error
from .spool import Spool, Spooled, spool_body
from .threads import R, ShortSteps, run_sync
from .types import ChunkRef, ObjectInfo, ObjectMeta, WriteResult
from .unnamed import discard
from .versions import Versions, new_version_id, versioning

WRITERS = 2  # chunks of one PUT written (and fsynced) at once
HASH_AHEAD = 1024 * 1024  # a one-chunk body declared longer is hashed while it arrives
AHEAD_PIECES = 16  # pieces received, not yet hashed (then receiving waits for hashing)
HASH_SLICE = 256 * 1024  # a remote copy's chunk is hashed twice per slice this long
GATHER_PASSES = 4  # scheduler passes a small-PUT batch waits for company (16 clients:
# batches of ~8 on average became ~14, the node's CPU per PUT -10..15 %)


@dataclass(slots=True)
class _Landed:
    """A write's body, received and durable, not yet published: what ``commit`` takes."""

    result: WriteResult
    value: str  # the bucket's checksum of the body
    inline: bytes | None = None  # the whole body, kept in the manifest (no chunk)


@dataclass(frozen=True, slots=True)
class RemoteCopy:
    """How the copy of a backend's object is written (a cold GET's fill, a write-through
    PUT): with the backend's ETag, no MD5 of the body, each chunk fdatasynced once at the
    end rather than fsynced as it is written, and ``ready`` awaited before the commit.

    The store's own integrity does not rest on the MD5: every chunk is addressed by its
    xxh3-128 and verified on every read, the whole body has the bucket's checksum.
    """

    etag: Callable[[], str] | None = None  # asked at commit; None: the MD5 is the ETag
    ready: Callable[[], Awaitable[None]] | None = None  # its error: nothing published
    # chunks written with O_DIRECT where the node installed it (aisfs/backend/direct_io.py:
    # a cache fills with what it relays, and keeps in RAM what is read); False: through the
    # page cache as a local PUT's (an encrypted PUT, whose first GET reads them back)
    direct: bool = True
    # each chunk's ref as its write lands (index, ref; on the event loop, in any order) -
    # a cold GET's followers read the chunks written so far (aisfs/backend/flights.py)
    written: Callable[[int, ChunkRef], None] | None = None


def _joined(parts: list[bytes | memoryview]) -> bytes:
    """The parts as one buffer: a lone ``bytes`` (or a fill's ``bytearray``) as it is."""
    if len(parts) == 1 and isinstance(parts[0], bytes | bytearray):
        return parts[0]
    return b"".join(parts)


def _joined_into(parts: list[bytes | memoryview], size: int,
                 into: Callable[[int], bytearray]) -> bytes:
    """The parts copied into ``into(size)`` (a remote copy's aligned buffer, which
    O_DIRECT writes from as it is: the join is the only copy)."""
    buf = into(size)
    at = 0
    for part in parts:
        buf[at:at + len(part)] = part
        at += len(part)
    return buf  # type: ignore[return-value]  # a bytearray, as a fill's piece is


JOIN_ON_LOOP = 256 * 1024  # a longer join runs in a worker thread


async def _joined_off_loop(parts: list[bytes | memoryview], size: int,
                           into: Callable[[int], bytearray] | None = None) -> bytes:
    """``_joined``, a chunk's worth (~8 MiB, ~1 ms of memcpy and page faults) in a worker
    thread (the join lets go of the GIL): the loop goes on receiving the other bodies.
    ``into``: joined into a buffer it gives (``_joined_into``)."""
    if size <= JOIN_ON_LOOP or (len(parts) == 1 and isinstance(parts[0], bytes | bytearray)):
        return _joined(parts)
    if into is not None:
        return await run_sync(_joined_into, parts, size, into)
    return await run_sync(_joined, parts)


class _Tee:
    """``body``'s pieces, each sent to ``send`` (the hashing task) as it is received."""

    def __init__(self, body: AsyncIterable[bytes], send: trio.MemorySendChannel[bytes]) -> None:
        self.body = aiter(body)
        self.send = send

    def __aiter__(self) -> _Tee:
        return self

    async def __anext__(self) -> bytes:
        piece = await anext(self.body)
        if piece:
            await self.send.send(piece)
        return piece


async def _hash_in_order(pieces: trio.MemoryReceiveChannel[bytes], dg: Digest) -> None:
    """Hash ``pieces`` into ``dg`` in order, in worker threads: the pieces waiting at
    once go in one thread call (MD5 ~1.4 CPU s/GiB runs beside the receiving loop)."""

    def update(batch: list[bytes]) -> None:
        for piece in batch:
            dg.update(piece)

    async with pieces:
        async for piece in pieces:
            batch = [piece]
            with contextlib.suppress(trio.WouldBlock, trio.EndOfChannel):
                while len(batch) < AHEAD_PIECES:
                    batch.append(pieces.receive_nowait())
            await run_sync(update, batch)


async def _hash_stage(
    hash_in: trio.MemoryReceiveChannel[tuple[int, bytes]],
    to_write: trio.MemorySendChannel[tuple[int, bytes]], dg: Digest | None,
) -> None:
    """The pipeline's hashing stage: each chunk into ``dg`` in order, then on."""
    async with hash_in, to_write:
        async for item in hash_in:
            if dg is not None:
                await run_sync(dg.update, item[1])
            await to_write.send(item)


class _InOrder:
    """A remote copy's chunks hashed into one digest in order from concurrent worker
    threads: chunk ``i``'s thread starts once ``i - 1``'s has hashed it (``wait``, on the
    event loop: no thread waits holding one of the node's thread slots). One pass over
    the bytes gives both hashes: each ``HASH_SLICE`` slice is fed to the chunk id's
    xxh3-128 and to ``dg`` while it is in the CPU's cache (two passes over an 8 MiB chunk
    read it from memory twice). A chunk that left without its turn (an error, a
    cancellation) fails every later one: ``dg`` would miss its bytes."""

    def __init__(self, dg: Digest | None) -> None:
        self.dg = dg
        self._token = trio.lowlevel.current_trio_token()
        self._turns: dict[int, trio.Event] = {}
        self._next = 0  # the first chunk not yet hashed into dg
        self._broken = False

    def _turn(self, i: int) -> trio.Event:
        return self._turns.setdefault(i, trio.Event())

    async def wait(self, i: int) -> None:
        """Until chunk ``i`` may be hashed (on the event loop)."""
        if self.dg is not None and self._next < i and not self._broken:
            await self._turn(i).wait()
        if self._broken:
            raise RuntimeError("an earlier chunk of this write failed")

    def hash(self, i: int, buf: bytes) -> str:
        """``buf``'s chunk id, ``buf`` fed to the digest (in a worker thread, after
        ``wait(i)``)."""
        if self.dg is None:
            return chunk_hash(buf)
        ok = False
        try:
            h = layout.chunk_hasher()
            with memoryview(buf) as view:
                for at in range(0, len(view), HASH_SLICE):
                    piece = view[at:at + HASH_SLICE]
                    h.update(piece)
                    self.dg.update(piece)  # type: ignore[arg-type]  # a buffer
            ok = True
        finally:
            self._token.run_sync_soon(self._hashed, i, ok)
        return h.hexdigest()

    def _hashed(self, i: int, ok: bool) -> None:
        self._next = i + 1
        self._turns.pop(i, None)  # waited for already: kept, one per chunk of the write
        if not ok:
            self._break()
        self._turn(i + 1).set()

    def _break(self) -> None:
        self._broken = True
        for turn in self._turns.values():
            turn.set()

    def leave(self, i: int) -> None:
        """Chunk ``i`` is done (on the event loop): if it was never hashed, the rest fail."""
        if self.dg is not None and self._next <= i:
            self._break()


class Writer:
    """``put_object`` and the write path ``put_part`` shares (``write_and_commit``)."""

    def __init__(
        self,
        config: StoreConfig,
        index: Index,
        chunks: ChunkStore,
        buckets: Buckets,
        publisher: Publisher,
        generations: Generations,
        short: ShortSteps,
        versions: Versions,
    ) -> None:
        self.config = config
        self.index = index
        self.chunks = chunks
        self.buckets = buckets
        self.publisher = publisher
        self.generations = generations
        self.short = short
        self.versions = versions  # a versioned bucket's overwrite keeps the current
        # small (inline) PUTs committed together: put_group.py
        self.group = PutGroup(index, buckets, publisher, generations, versions,
                              self._new_info)
        self.puts: Group[PutJob, Done] = Group(self._put_batch, self._gather)

    async def _gather(self, last: int) -> None:
        """Before a batch of small PUTs is taken: when others are in flight, or the last
        batch had company, ``GATHER_PASSES`` passes of the scheduler let the PUTs already
        received reach it (put_group.py); a lone client's PUT pays none of them."""
        if last > 1 or not self.short.uncontended():
            for _ in range(GATHER_PASSES):
                await trio.lowlevel.cancel_shielded_checkpoint()

    async def _put_batch(self, jobs: list[PutJob]) -> list[outcome.Outcome[Done]]:
        return await self.short.run(self.group.commit_sync, jobs)

    async def _cut(
        self, body: AsyncIterable[bytes], expected_size: int | None, resource: str,
        into: Callable[[int], bytearray] | None = None,
    ) -> AsyncGenerator[tuple[bytes, bool], None]:
        """``(chunk, is_last)`` pairs of ``body``: full chunks, then the (short) last one.

        A full chunk is yielded as soon as it is whole when more of the body is declared
        (a cold GET's followers read it from its file while the fill goes on), else once
        more of the body came. The last is yielded, possibly empty, only after the body
        ended with the declared length; a longer or shorter body raises
        ``IncompleteBody``. A piece that is a whole chunk (a fill's) is passed on as it
        is: no copy; a chunk joined from pieces is joined in a worker thread
        (``_joined_off_loop``): no copy on the event loop; ``into``: a remote copy's
        chunk is joined into the buffer it gives.
        """
        cs = self.config.chunk_size
        parts: list[bytes | memoryview] = []
        full: bytes | None = None  # a whole chunk, passed on once more of the body comes
        have = total = 0
        async for piece in body:
            if not piece:
                continue
            total += len(piece)
            if expected_size is not None and total > expected_size:
                raise S3Error(
                    "IncompleteBody", "The body is longer than the declared Content-Length",
                    resource,
                )
            view: bytes | memoryview = piece
            while view:
                if full is not None:
                    yield full, False
                    full = None
                take = cs - have
                if len(view) > take:
                    view = memoryview(view)
                    parts.append(view[:take])
                    view = view[take:]
                    have = cs
                else:
                    parts.append(view)
                    have += len(view)
                    view = b""
                if have == cs:
                    chunk, parts, have = await _joined_off_loop(parts, cs, into), [], 0
                    if expected_size is not None and total - len(view) < expected_size:
                        yield chunk, False  # more is declared: not the last, on its way
                    else:
                        full = chunk
        if expected_size is not None and total != expected_size:
            raise S3Error(
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length",
                resource,
            )
        yield (full if full is not None else await _joined_off_loop(parts, have, into)), True

    async def _write(
        self,
        body: AsyncIterable[bytes],
        copies: int,
        dg: Digest,
        expected_size: int | None,
        resource: str,
        pinned: list[str],
        land: Callable[..., _Landed],
        publish: Callable[[_Landed], R],
        short_max: int = -1,
        remote: RemoteCopy | None = None,
        grouped: PutSpec | None = None,
    ) -> R:
        """Receive ``body`` into chunks; ``land(tail, chunks, dirs)`` then ``publish`` in
        one worker-thread call (on the event loop, as a short step, for a body of at most
        ``short_max`` bytes) - in two, with ``remote.ready`` awaited between them.

        ``tail`` is the whole body when it fits in one chunk (not yet hashed nor written),
        else None and every chunk is in ``chunks`` (hashed into ``dg``, written, its
        directory in ``dirs``).
        """
        chunks: list[ChunkRef] = []
        dirs: set[str] = set()
        tail, hashed = await self._receive_body(body, copies, dg, expected_size, resource,
                                                pinned, dirs, chunks, short_max, remote)
        if hashed:
            land = functools.partial(land, hashed=True)
        inline = tail is not None and len(tail) <= short_max
        if remote is not None and remote.ready is not None:
            if not (inline and grouped is not None):
                landed = await run_sync(land, tail, chunks, dirs)
                await remote.ready()
                return await run_sync(publish, landed)
            await remote.ready()  # a small write-through: grouped below, once acknowledged

        def finish() -> R:
            return publish(land(tail, chunks, dirs))

        if tail is not None and inline:  # an inline object: a short step
            if grouped is not None:  # committed with the small PUTs beside it
                done = await self.puts.submit(PutJob(grouped, functools.partial(
                    self._land_inline, land, tail, chunks, dirs)))
                return done  # type: ignore[return-value]  # R is Done here
            return await self.short.run(finish)
        return await run_sync(finish)

    async def _receive_body(
        self, body: AsyncIterable[bytes], copies: int, dg: Digest, expected_size: int | None,
        resource: str, pinned: list[str], dirs: set[str], chunks: list[ChunkRef],
        short_max: int, remote: RemoteCopy | None,
    ) -> tuple[bytes | None, bool]:
        """``body`` received: ``(tail, hashed)`` - the whole body when it fits in one chunk
        (else None, its chunks on ``chunks``), and whether ``dg`` has it all already.

        A body of known length past ``max(short_max, HASH_AHEAD)`` is spooled (spool.py:
        written to its chunk files as it arrives, hashed beside); a remote object's copy
        (whole chunks from the backend, written without an fsync each) is cut into chunks
        in memory: one of one chunk hashed while it arrives, a longer one pipelined."""
        if remote is None and expected_size is not None and expected_size > max(
                short_max, HASH_AHEAD):
            def store(spooled: Spooled) -> str:
                return self.chunks.store(spooled, copies, pinned, dirs)

            chunks += await spool_body(body, expected_size, resource, dg,
                                       Spool(self.config.chunk_size, self.chunks), store)
            return None, True
        if (expected_size is not None
                and max(short_max, HASH_AHEAD) < expected_size <= self.config.chunk_size):
            return await self._receive_hashing(body, copies, dg, expected_size, resource,
                                               pinned, dirs, chunks, remote), True
        return await self._receive(body, copies, dg, expected_size, resource, pinned,
                                   dirs, chunks, remote), False

    async def _receive(
        self, body: AsyncIterable[bytes], copies: int, dg: Digest | None,
        expected_size: int | None, resource: str, pinned: list[str], dirs: set[str],
        chunks: list[ChunkRef], remote: RemoteCopy | None,
    ) -> bytes | None:
        """``body`` cut into chunks: a body within one chunk returned (the tail), else
        every chunk through the pipeline (hashed into ``dg`` unless None) onto ``chunks``."""
        direct = remote is not None and remote.direct
        cuts = self._cut(body, expected_size, resource,
                         self.chunks.direct_buffer if direct else None)
        async with contextlib.aclosing(cuts):
            first, last = await anext(cuts)
            if last:
                return first
            await self._pipeline(first, cuts, copies, dg, pinned, dirs, chunks,
                                 sync=remote is None, direct=direct,
                                 written=remote.written if remote is not None else None)
        return None

    async def _receive_hashing(
        self, body: AsyncIterable[bytes], copies: int, dg: Digest,
        expected_size: int | None, resource: str, pinned: list[str], dirs: set[str],
        chunks: list[ChunkRef], remote: RemoteCopy | None,
    ) -> bytes | None:
        """``_receive``, with every piece hashed into ``dg`` as it arrives (a task beside
        the receiving one), all of it hashed on return."""
        send, pieces = trio.open_memory_channel[bytes](AHEAD_PIECES)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_hash_in_order, pieces, dg)
                with send:
                    return await self._receive(_Tee(body, send), copies, None,
                                               expected_size, resource, pinned, dirs,
                                               chunks, remote)
        except BaseExceptionGroup as eg:
            raise unwrap(eg, alike=is_full_error) from None

    async def _pipeline(
        self,
        first: bytes,
        rest: AsyncIterator[tuple[bytes, bool]],
        copies: int,
        dg: Digest | None,
        pinned: list[str],
        dirs: set[str],
        chunks: list[ChunkRef],
        sync: bool = True,
        direct: bool = False,
        written: Callable[[int, ChunkRef], None] | None = None,
    ) -> None:
        """``first`` and ``rest``'s chunks hashed in order into ``dg`` (None: as they came),
        written (``_write_stage``; each ref to ``written``), refs in order onto ``chunks``.

        A remote copy's chunk (``sync`` False) takes one worker-thread call: its turn at
        ``dg`` (``_InOrder``), the chunk id and ``dg`` hashed over each cache-sized slice
        in one pass, then written - the next chunk's hashing overlaps this one's write."""
        refs: list[ChunkRef | None] = []

        def store(buf: bytes) -> ChunkRef:
            return ChunkRef(self.chunks.store(buf, copies, pinned, dirs, sync=sync,
                                              direct=direct), len(buf))

        to_write, write_in = trio.open_memory_channel[tuple[int, bytes]](0)
        in_order = _InOrder(dg) if not sync else None

        def store_in_order(i: int, buf: bytes) -> ChunkRef:
            assert in_order is not None
            h = in_order.hash(i, buf)
            return ChunkRef(self.chunks.store(buf, copies, pinned, dirs, h=h, sync=sync,
                                              direct=direct),
                            len(buf))

        try:
            async with trio.open_nursery() as nursery:
                if in_order is not None:
                    to_hash = to_write  # no hashing stage: the writers hash, in order
                    nursery.start_soon(self._write_stage, write_in, refs, store_in_order,
                                       in_order, written)
                else:
                    to_hash, hash_in = trio.open_memory_channel[tuple[int, bytes]](0)
                    nursery.start_soon(_hash_stage, hash_in, to_write, dg)
                    nursery.start_soon(self._write_stage, write_in, refs,
                                       lambda i, buf: store(buf), None, written)
                async with to_hash:
                    refs.append(None)
                    await to_hash.send((0, first))
                    async for buf, _last in rest:
                        if buf:
                            refs.append(None)
                            await to_hash.send((len(refs) - 1, buf))
        except BaseExceptionGroup as eg:
            # several writers failed at once (both found the disks full): the client's
            # answer is the first S3Error (a 507, say), a full disk as 507 too, else the group
            raise unwrap(eg, alike=is_full_error) from None
        for ref in refs:
            assert ref is not None
            chunks.append(ref)

    @staticmethod
    async def _write_stage(
        write_in: trio.MemoryReceiveChannel[tuple[int, bytes]],
        refs: list[ChunkRef | None],
        store: Callable[[int, bytes], ChunkRef],
        in_order: _InOrder | None = None,
        written: Callable[[int, ChunkRef], None] | None = None,
    ) -> None:
        """Each ``(i, chunk)`` of ``write_in`` stored (``store(i, chunk)``, in a worker
        thread) into ``refs[i]`` (and told to ``written``), up to WRITERS at once: a slot
        is taken before a chunk is taken, so at most WRITERS buffers are held here.
        ``in_order``: each chunk's thread started in its turn at the digest
        (``_InOrder``)."""

        async def write_one(i: int, buf: bytes, slot: trio.Semaphore) -> None:
            try:
                if in_order is not None:
                    await in_order.wait(i)
                ref = await run_sync(store, i, buf)
                refs[i] = ref
                if written is not None:
                    written(i, ref)
            finally:
                if in_order is not None:
                    in_order.leave(i)
                slot.release()

        slots = trio.Semaphore(WRITERS)
        async with write_in, trio.open_nursery() as writers:
            while True:
                await slots.acquire()
                try:
                    i, buf = await write_in.receive()
                except trio.EndOfChannel:
                    break
                writers.start_soon(write_one, i, buf, slots)

    def _land_sync(
        self,
        tail: bytes | None,
        chunks: list[ChunkRef],
        dirs: set[str],
        *,
        copies: int,
        dg: Digest,
        content_md5: bytes | None,
        resource: str,
        pinned: list[str],
        inline_max: int = 0,
        sync_once: bool = False,
        direct: bool = False,
        hashed: bool = False,
    ) -> _Landed:
        """The body made durable, in a worker thread: the tail chunk (if any) hashed and
        written, the chunks fdatasynced (``sync_once``: written without an fsync each),
        their directories fsynced. ``hashed``: ``dg`` has the whole body already.

        A whole body of at most ``inline_max`` bytes (``inline_max`` > 0) is written to no
        chunk: ``commit(result, value, body)`` keeps it in the manifest."""
        if tail is not None and not hashed:
            dg.update(tail)
        if content_md5 is not None and content_md5 != dg.md5_digest():
            raise S3Error(
                "BadDigest", "The Content-MD5 you specified did not match what we received",
                resource,
            )
        if tail is not None and inline_max > 0 and len(tail) <= inline_max:
            result = WriteResult(size=dg.size, md5=dg.md5_digest(), chunks=[])
            return _Landed(result, dg.value(), bytes(tail))
        if tail:
            chunks.append(ChunkRef(self.chunks.store(
                tail, copies, pinned, dirs, sync=not sync_once, direct=direct), len(tail)))
        if sync_once:
            self.chunks.sync_copies(c.id for c in chunks)
        self.chunks.sync_dirs(dirs)
        return _Landed(WriteResult(size=dg.size, md5=dg.md5_digest(), chunks=chunks), dg.value())

    @staticmethod
    def _land_inline(
        land: Callable[[bytes | None, list[ChunkRef], set[str]], _Landed],
        tail: bytes, chunks: list[ChunkRef], dirs: set[str],
    ) -> tuple[WriteResult, str, bytes]:
        landed = land(tail, chunks, dirs)
        assert landed.inline is not None  # a body of at most inline_max bytes
        return landed.result, landed.value, landed.inline

    @staticmethod
    def _publish_sync(
        landed: _Landed,
        *,
        before_commit: Callable[[WriteResult], None] | None,
        commit: Callable[..., R],
    ) -> R:
        """``before_commit``, then ``commit`` (in a worker thread)."""
        if before_commit is not None:
            before_commit(landed.result)
        if landed.inline is not None:
            return commit(landed.result, landed.value, landed.inline)
        return commit(landed.result, landed.value)

    def _commit_put_sync(
        self,
        result: WriteResult,
        value: str,
        inline: bytes | None = None,
        *,
        bucket: str,
        key: str,
        meta: ObjectMeta,
        checksum_type: str,
        copies: int,
        if_match: str | None,
        if_none_match: str | None,
        etag: Callable[[], str] | None = None,
        versioned: bool = False,
    ) -> tuple[ObjectInfo, list[str]]:
        """Publish: manifest staged (temp, fsync - or unnamed, see ``_stage_manifest``)
        before the lock; under it, preconditions, rename (or link), index commit; after it,
        the linked manifests and the manifest directories fsynced.

        The ETag: ``etag()`` (a backend's), else the body's MD5 - or, when neither is
        there (a backend that gave none), the bucket's checksum of the body."""
        info = self._new_info(result, value, inline, bucket, key, meta, checksum_type, etag)
        if versioned:
            info.version_id = new_version_id(info.generation)
        staged = self.publisher.stage_manifest(info, copies, lazy=True)
        dirs: set[str] = set()
        try:
            with self.index.wlock:
                # one transaction from the checks to the commit: no read transaction (and
                # its file locks) per statement
                self.index.begin()
                try:
                    binfo = self.buckets.get_locked(bucket)
                    row = self.index.w.execute(
                        "SELECT etag, generation, manifest, version_id, lock FROM objects "
                        "WHERE bucket = ? AND key = ?",
                        (bucket, key),
                    ).fetchone()
                    check_preconditions(row[0] if row else None, if_match, if_none_match, key)
                    want = self.buckets.copies(binfo.props)
                    if want != copies or (row is not None and row[1] >= info.generation):
                        # rare: the bucket's copies changed, or a PUT of this key that
                        # started later committed first (generations grow per key in
                        # commit order)
                        discard(staged)
                        info.generation = self.generations.next()
                        staged = self.publisher.stage_manifest(info, want, lazy=True)
                    dropped = self._publish_locked(info, binfo.props, row, want, staged,
                                                   dirs)
                except BaseException:
                    self.index.rollback()
                    raise
            self.publisher.sync_linked(staged)
        finally:
            discard(staged)
        self.publisher.sync_dirs(dirs)
        remember_inline(self.index, info)  # GET/HEAD then serve it from memory
        return info, dropped

    def _publish_locked(
        self, info: ObjectInfo, props: dict[str, Any], row: Any, copies: int,
        staged: list[Staged], dirs: set[str],
    ) -> list[str]:
        """Under the lock, in the open transaction: publish ``info`` over the current row
        ``row`` (etag, generation, manifest, version_id, lock; None: none), which a
        versioned bucket keeps as a version (versions.py)."""
        keep = self.versions.plan(
            props, info.bucket, info.key, info.version_id,
            self.versions.current_of(row[2:] if row is not None else None), read=False,
        )
        return self.publisher.publish(
            [info], [], copies, staged=staged, staged_dirs=dirs, began=True,
            known={(info.bucket, info.key): row[2] if row is not None else None},
            prepare=keep.prepare if keep is not None else None,
            in_tx=keep.in_tx if keep is not None else None, guarded=True,
        )

    def _new_info(
        self, result: WriteResult, value: str, inline: bytes | None, bucket: str, key: str,
        meta: ObjectMeta, checksum_type: str, etag: Callable[[], str] | None,
    ) -> ObjectInfo:
        """The record of a write about to be published, with the next generation."""
        return ObjectInfo(
            bucket=bucket,
            key=key,
            size=result.size,
            etag=(etag() if etag is not None else "") or result.md5.hex() or value,
            mtime_ns=time.time_ns(),
            generation=self.generations.next(),
            meta=meta,
            chunks=list(result.chunks),
            checksum_type=checksum_type,
            checksum_value=value,
            inline=inline,
            inline_xxh3=inline_hash(inline) if inline is not None else "",
        )

    async def put_object(
        self,
        bucket: str,
        key: str,
        body: AsyncIterable[bytes],
        meta: ObjectMeta,
        *,
        content_md5: bytes | None = None,
        expected_size: int | None = None,
        hashers: dict[str, Any] | None = None,
        before_commit: Callable[[WriteResult], None] | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        remote: RemoteCopy | None = None,
    ) -> ObjectInfo:
        """Stream ``body`` into the store and publish it as ``bucket/key``.

        Nothing is visible until the commit; a failure or cancellation leaves the previous
        object (if any) untouched and the written chunks to be collected.
        ``before_commit`` runs in a worker thread, or on the event loop for a short step
        (threads.ShortSteps) - either way it must not call into trio - after the whole
        body is hashed and durable, before the manifest is written.
        ``remote``: the copy of a backend's object (``RemoteCopy``).
        """
        binfo = await self.buckets.get(bucket)
        cktype = str(binfo.props.get("checksum.type", "xxhash"))
        copies = self.buckets.copies(binfo.props)
        known = remote is not None and remote.etag is not None
        dg = Digest(cktype, hashers, md5=not known or content_md5 is not None)
        commit = functools.partial(
            self._commit_put_sync, bucket=bucket, key=key, meta=meta, checksum_type=cktype,
            copies=copies, if_match=if_match, if_none_match=if_none_match,
            etag=remote.etag if remote is not None else None,
            versioned=versioning(binfo.props) == "Enabled",
        )
        fill = remote is not None and remote.ready is None  # a cold GET's: not grouped
        grouped = None if fill or self.config.inline_max <= 0 else PutSpec(
            bucket, key, meta, cktype, copies, if_match, if_none_match,
            versioning(binfo.props) == "Enabled", before_commit,
            remote.etag if remote is not None else None,
        )
        return await self.write_and_commit(
            body, copies, dg, expected_size, key, content_md5, before_commit, commit,
            inline_max=self.config.inline_max, remote=remote, grouped=grouped,
        )

    async def write_and_commit(
        self,
        body: AsyncIterable[bytes],
        copies: int,
        dg: Digest,
        expected_size: int | None,
        key: str,
        content_md5: bytes | None,
        before_commit: Callable[[WriteResult], None] | None,
        commit: Callable[..., tuple[R, list[str]]],
        inline_max: int = 0,
        remote: RemoteCopy | None = None,
        grouped: PutSpec | None = None,
    ) -> R:
        """Receive ``body``, make it durable, ``commit`` it; then release every pin (and
        drop the chunks of a write that failed or was cancelled). Shared by PUT and parts."""
        pinned: list[str] = []
        dropped: list[str] = []
        ok = False
        land = functools.partial(
            self._land_sync, copies=copies, dg=dg, content_md5=content_md5, resource=key,
            pinned=pinned, inline_max=inline_max, sync_once=remote is not None,
            direct=remote is not None and remote.direct,
        )
        publish = functools.partial(self._publish_sync, before_commit=before_commit,
                                    commit=commit)
        try:
            try:
                result, dropped = await self._write(
                    body, copies, dg, expected_size, key, pinned, land, publish,
                    short_max=inline_max, remote=remote, grouped=grouped,
                )
            except OSError as e:
                if is_full_error(e):  # ENOSPC past the placement's fallback (a temp name)
                    raise insufficient_storage(key) from None
                raise
            ok = True
            return result
        finally:
            await self.publisher.release(pinned, dropped if ok else pinned)
