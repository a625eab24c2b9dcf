"""The PUT pipeline: a body cut into chunks, hashed in order, written; the final
worker-thread call that publishes it.

A body is cut into chunks as it arrives. One that ends within its first chunk (every
small PUT) costs one worker-thread call: hash, write the chunk, fsync it and its
directory, run ``before_commit``, stage the manifest, commit, fsync the manifest
directory. A longer one goes through a pipeline: receive (on the loop) -> hash in
order (MD5 and the whole-body checksums, one thread) -> write (chunk hash, temp file,
fsync, link: up to WRITERS chunks at once), then the same final call.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from typing import Any

import trio

from ..errors import S3Error, unwrap
from .buckets import Buckets
from .chunks import ChunkStore
from .config import StoreConfig
from .digest import Digest
from .generations import Generations
from .index import Index
from .manifest import inline_hash
from .preconditions import check_preconditions
from .publish import Publisher, discard
from .space import insufficient_storage, is_full_error
from .threads import R, ShortSteps, run_sync
from .types import ChunkRef, ObjectInfo, ObjectMeta, WriteResult

WRITERS = 2  # chunks of one PUT written (and fsynced) at once


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
    ) -> None:
        self.config = config
        self.index = index
        self.chunks = chunks
        self.buckets = buckets
        self.publisher = publisher
        self.generations = generations
        self.short = short

    async def _cut(
        self, body: AsyncIterable[bytes], expected_size: int | None, resource: str
    ) -> AsyncGenerator[tuple[bytes, bool], None]:
        """``(chunk, is_last)`` pairs of ``body``: full chunks, then the (short) last one.

        The last is yielded, possibly empty, only after the body ended with the declared
        length; a longer or shorter body raises ``IncompleteBody``.
        """
        cs = self.config.chunk_size
        parts: list[bytes | memoryview] = []
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
            while len(view) > cs - have:
                take = cs - have
                view = memoryview(view)
                parts.append(view[:take])
                view = view[take:]
                yield b"".join(parts), False
                parts = []
                have = 0
            if view:
                parts.append(view)
                have += len(view)
        if expected_size is not None and total != expected_size:
            raise S3Error(
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length",
                resource,
            )
        yield b"".join(parts), True

    async def _write(
        self,
        body: AsyncIterable[bytes],
        copies: int,
        dg: Digest,
        expected_size: int | None,
        resource: str,
        pinned: list[str],
        finish: Callable[[bytes | None, list[ChunkRef], set[str]], R],
        short_max: int = -1,
    ) -> R:
        """Receive ``body`` into chunks; ``finish(tail, chunks, dirs)`` in a worker thread
        (on the event loop, as a short step, for a body of at most ``short_max`` bytes).

        ``tail`` is the whole body when it fits in one chunk (not yet hashed nor written),
        else None and every chunk is in ``chunks`` (hashed into ``dg``, written, its
        directory in ``dirs``).
        """
        chunks: list[ChunkRef] = []
        dirs: set[str] = set()
        cuts = self._cut(body, expected_size, resource)
        async with contextlib.aclosing(cuts):
            first, last = await anext(cuts)
            if last and len(first) <= short_max:  # an inline object: a short step
                return await self.short.run(finish, first, chunks, dirs)
            if last:
                return await run_sync(finish, first, chunks, dirs)
            await self._pipeline(first, cuts, copies, dg, pinned, dirs, chunks)
        return await run_sync(finish, None, chunks, dirs)

    async def _pipeline(
        self,
        first: bytes,
        rest: AsyncIterator[tuple[bytes, bool]],
        copies: int,
        dg: Digest,
        pinned: list[str],
        dirs: set[str],
        chunks: list[ChunkRef],
    ) -> None:
        refs: list[ChunkRef | None] = []

        def store(buf: bytes) -> ChunkRef:
            return ChunkRef(self.chunks.store(buf, copies, pinned, dirs), len(buf))

        to_hash, hash_in = trio.open_memory_channel[tuple[int, bytes]](0)
        to_write, write_in = trio.open_memory_channel[tuple[int, bytes]](0)

        async def hash_stage() -> None:
            async with hash_in, to_write:
                async for item in hash_in:
                    await run_sync(dg.update, item[1])
                    await to_write.send(item)

        async def write_one(i: int, buf: bytes, slot: trio.Semaphore) -> None:
            try:
                refs[i] = await run_sync(store, buf)
            finally:
                slot.release()

        async def write_stage() -> None:
            # a slot is taken before a chunk is taken: at most WRITERS buffers here
            slots = trio.Semaphore(WRITERS)
            async with write_in, trio.open_nursery() as writers:
                while True:
                    await slots.acquire()
                    try:
                        i, buf = await write_in.receive()
                    except trio.EndOfChannel:
                        break
                    writers.start_soon(write_one, i, buf, slots)

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(hash_stage)
                nursery.start_soon(write_stage)
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

    def _finish_sync(
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
        before_commit: Callable[[WriteResult], None] | None,
        commit: Callable[..., R],
        inline_max: int = 0,
    ) -> R:
        """The end of a PUT, in one worker thread: the tail chunk (if any) hashed and made
        durable, the chunk directories fsynced, ``before_commit``, then ``commit``.

        A whole body of at most ``inline_max`` bytes (``inline_max`` > 0) is written to no
        chunk: ``commit(result, value, body)`` keeps it in the manifest."""
        if tail is not None:
            dg.update(tail)
        if content_md5 is not None and content_md5 != dg.md5.digest():
            raise S3Error(
                "BadDigest", "The Content-MD5 you specified did not match what we received",
                resource,
            )
        if tail is not None and inline_max > 0 and len(tail) <= inline_max:
            result = WriteResult(size=dg.size, md5=dg.md5.digest(), chunks=[])
            if before_commit is not None:
                before_commit(result)
            return commit(result, dg.value(), bytes(tail))
        if tail:
            chunks.append(ChunkRef(self.chunks.store(tail, copies, pinned, dirs), len(tail)))
        self.chunks.sync_dirs(dirs)
        result = WriteResult(size=dg.size, md5=dg.md5.digest(), chunks=chunks)
        if before_commit is not None:
            before_commit(result)
        return commit(result, dg.value())

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
    ) -> tuple[ObjectInfo, list[str]]:
        """Publish: manifest staged (temp, fsync - or unnamed, see ``_stage_manifest``)
        before the lock; under it, preconditions, rename (or link), index commit; after it,
        the linked manifests and the manifest directories fsynced."""
        info = ObjectInfo(
            bucket=bucket,
            key=key,
            size=result.size,
            etag=result.md5.hex(),
            mtime_ns=time.time_ns(),
            generation=self.generations.next(),
            meta=meta,
            chunks=list(result.chunks),
            checksum_type=checksum_type,
            checksum_value=value,
            inline=inline,
            inline_xxh3=inline_hash(inline) if inline is not None else "",
        )
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
                        "SELECT etag, generation, manifest FROM objects "
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
                    dropped = self.publisher.publish(
                        [info], [], want, staged=staged, staged_dirs=dirs, began=True,
                        known={(bucket, key): row[2] if row is not None else None},
                    )
                except BaseException:
                    self.index.rollback()
                    raise
            self.publisher.sync_linked(staged)
        finally:
            discard(staged)
        self.publisher.sync_dirs(dirs)
        return info, dropped

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
    ) -> ObjectInfo:
        """Stream ``body`` into the store and publish it as ``bucket/key``.

        Nothing is visible until the commit; a failure or cancellation leaves the previous
        object (if any) untouched and the written chunks to be collected.
        ``before_commit`` runs in a worker thread, or on the event loop for a short step
        (threads.ShortSteps) - either way it must not call into trio - after the whole
        body is hashed and durable, before the manifest is written.
        """
        binfo = await self.buckets.get(bucket)
        cktype = str(binfo.props.get("checksum.type", "xxhash"))
        copies = self.buckets.copies(binfo.props)
        dg = Digest(cktype, hashers)
        commit = functools.partial(
            self._commit_put_sync, bucket=bucket, key=key, meta=meta, checksum_type=cktype,
            copies=copies, if_match=if_match, if_none_match=if_none_match,
        )
        return await self.write_and_commit(
            body, copies, dg, expected_size, key, content_md5, before_commit, commit,
            inline_max=self.config.inline_max,
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
    ) -> R:
        """Receive ``body``, make it durable, ``commit`` it; then release every pin (and
        drop the chunks of a write that failed or was cancelled). Shared by PUT and parts."""
        pinned: list[str] = []
        dropped: list[str] = []
        ok = False
        finish = functools.partial(
            self._finish_sync, copies=copies, dg=dg, content_md5=content_md5, resource=key,
            pinned=pinned, before_commit=before_commit, commit=commit, inline_max=inline_max,
        )
        try:
            try:
                result, dropped = await self._write(
                    body, copies, dg, expected_size, key, pinned, finish, short_max=inline_max
                )
            except OSError as e:
                if is_full_error(e):  # ENOSPC past the placement's fallback (a temp name)
                    raise insufficient_storage(key) from None
                raise
            ok = True
            return result
        finally:
            await self.publisher.release(pinned, dropped if ok else pinned)
