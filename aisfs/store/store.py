"""open_store(): the node's one facade over chunks, manifests and the index.

Every blocking step (file I/O, hashing, SQLite) runs in a worker thread, one hand-off per
chunk or per commit. Mutations of the index happen under ``Index.wlock`` in one thread
call that also checks preconditions and writes the manifest files, so a check and the
commit it guards are atomic.

Publication order (see docs/store.md): chunks durable (files and their directories
fsynced) -> manifest files (temp, fsync, rename, fsync dir) -> index commit (with the
chunk refcount changes) -> return. Delete: manifest files removed -> index commit.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import secrets
import shutil
import threading
import time
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import trio
import xxhash

from ..errors import S3Error
from . import layout
from .chunks import ChunkStore, StoreCorruption
from .config import MiB, StoreConfig
from .files import fsync_dir, read_file, replace_durably, unlink_durably, write_tmp
from .index import Index
from .manifest import (
    dumps,
    encode,
    info_from_json,
    info_to_json,
    inline_hash,
    inline_ok,
    part_to_json,
    upload_to_json,
)
from .mountpaths import Mountpath, MountpathSet, open_mountpath
from .types import (
    BucketInfo,
    ChunkRef,
    FsckReport,
    ListEntry,
    ListPage,
    ObjectInfo,
    ObjectMeta,
    PartInfo,
    UploadInfo,
    WriteResult,
)

if TYPE_CHECKING:
    from .admin import StoreAdmin

log = logging.getLogger(__name__)

R = TypeVar("R")
READ_PIECE = MiB
WRITERS = 2  # chunks of one PUT written (and fsynced) at once
INLINE_READ = MiB  # head_object(with_data=True) reads objects up to this size
DIRTY_MARKER = "dirty"
LOCK_FILE = "store.lock"
DB_FILE = "index.db"


async def _run(fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    return await trio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


def _unwrap(eg: BaseExceptionGroup[BaseException]) -> BaseException:
    leaves: list[BaseException] = []

    def walk(e: BaseException) -> None:
        if isinstance(e, BaseExceptionGroup):
            for sub in e.exceptions:
                walk(sub)
        else:
            leaves.append(e)

    walk(eg)
    return leaves[0] if len(leaves) == 1 else eg


def _etags(header: str) -> list[str]:
    out = []
    for item in header.split(","):
        item = item.strip()
        if item.startswith("W/"):
            item = item[2:]
        out.append(item.strip('"'))
    return out


def _check_preconditions(
    current_etag: str | None, if_match: str | None, if_none_match: str | None, res: str
) -> None:
    if if_none_match is not None and current_etag is not None:
        tags = _etags(if_none_match)
        if "*" in tags or current_etag in tags:
            raise S3Error("PreconditionFailed", "At least one of the preconditions failed", res)
    if if_match is not None:
        tags = _etags(if_match)
        if current_etag is None or ("*" not in tags and current_etag not in tags):
            raise S3Error("PreconditionFailed", "At least one of the preconditions failed", res)


def _chunks_of(manifest_json: str) -> list[str]:
    return [c[0] for c in json.loads(manifest_json).get("chunks") or []]


@asynccontextmanager
async def open_store(config: StoreConfig) -> AsyncIterator[Store]:
    """Open the store (reconciling the index with the disks after an unclean stop)."""
    store = await _run(Store.open_sync, config)
    try:
        yield store
    finally:
        with trio.CancelScope(shield=True):
            await _run(store.close_sync)


class Store:
    config: StoreConfig
    index: Index
    mps: MountpathSet
    chunks: ChunkStore

    def __init__(self, config: StoreConfig, index: Index, mps: MountpathSet, lock_fd: int):
        self.config = config
        self.index = index
        self.mps = mps
        self.chunks = ChunkStore(mps, config.fsync)
        self._lock_fd = lock_fd
        self._gen_lock = threading.Lock()
        self._last_gen = 0
        self.recovered = False  # True if this open followed an unclean stop
        self._closed = False
        # bucket records for get_bucket, without a thread hop; every change of the buckets
        # table goes through this Store and bumps the epoch (a read that raced one is not
        # kept). Commits still check the bucket in the index under the writer lock.
        self._buckets: dict[str, BucketInfo] = {}
        self._buckets_epoch = 0
        self._buckets_lock = threading.Lock()

    # == open / close ====================================================================

    @classmethod
    def open_sync(cls, config: StoreConfig) -> Store:
        config.index_dir.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(config.index_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise RuntimeError(f"store index {config.index_dir} is in use") from None
        try:
            db = config.index_dir / DB_FILE
            fresh = not db.exists()
            index = Index(db)
            known = dict(index.w.execute("SELECT path, uuid FROM mountpaths").fetchall())
            mps: list[Mountpath] = []
            from .admin import effective_mountpaths  # config + added - detached at run time

            for p in effective_mountpaths(config):
                mp = open_mountpath(p, known.get(str(p)), config.fsync)
                if mp is None:
                    continue
                if any(m.uuid == mp.uuid for m in mps):
                    log.warning("mountpath %s duplicates another's identity: skipped", p)
                    continue
                mps.append(mp)
            if not mps:
                index.close(checkpoint=False)
                raise OSError(f"no usable mountpath among {config.mountpaths}")
            with index.wlock:
                index.w.executemany(
                    "INSERT OR REPLACE INTO mountpaths (path, uuid) VALUES (?, ?)",
                    [(mp.root, mp.uuid) for mp in mps],
                )
            store = cls(config, index, MountpathSet(mps, config.weight_refresh_seconds), lock_fd)
        except BaseException:
            os.close(lock_fd)
            raise
        dirty = config.index_dir / DIRTY_MARKER
        try:
            if dirty.exists() or fresh:
                if not fresh:
                    log.warning("unclean stop detected: rebuilding the index from the disks")
                store.recovered = not fresh
                store.fsck_sync(rebuild=True, check_chunks=False)
            replace_durably(
                str(config.index_dir / f"{DIRTY_MARKER}.tmp"),
                str(dirty),
                str(os.getpid()).encode(),
                config.fsync,
            )
            row = index.w.execute("SELECT max(generation) FROM objects").fetchone()
            store._last_gen = int(row[0] or 0)
        except BaseException:
            index.close(checkpoint=False)
            os.close(lock_fd)
            raise
        store.admin.restore()  # recorded mountpath states (admin.py)
        return store

    def close_sync(self) -> None:
        if self._closed:
            return
        self._closed = True
        if "admin" in self.__dict__:
            self.admin.close()  # resilver/scrub threads stop before the index closes
        self.index.close()
        unlink_durably(str(self.config.index_dir / DIRTY_MARKER), self.config.fsync)
        os.close(self._lock_fd)

    @functools.cached_property
    def admin(self) -> StoreAdmin:
        """Mountpath lifecycle, resilver and scrub (admin.py)."""
        from .admin import StoreAdmin

        return StoreAdmin(self)

    def _next_gen(self) -> int:
        with self._gen_lock:
            self._last_gen = max(time.time_ns(), self._last_gen + 1)
            return self._last_gen

    # == buckets =========================================================================

    def _copies(self, props: dict[str, Any]) -> int:
        try:
            return max(1, int(props.get("mirror.copies", self.config.default_copies)))
        except (TypeError, ValueError):
            return max(1, self.config.default_copies)

    def _bucket_sync(self, name: str, conn: Any = None) -> BucketInfo:
        """The bucket's record; ``conn``: the writer connection, for callers holding wlock
        (no separate read transaction)."""
        sql = "SELECT created_ns, props FROM buckets WHERE name = ?"
        if conn is None:
            row = self.index.row(sql, (name,))
        else:
            row = conn.execute(sql, (name,)).fetchone()
        if row is None:
            raise S3Error("NoSuchBucket", "The specified bucket does not exist", name)
        return BucketInfo(name, int(row[0]), json.loads(row[1]))

    def _write_bucket_files(self, info: BucketInfo) -> None:
        data = encode(
            {"v": 1, "name": info.name, "created_ns": info.created_ns, "props": info.props,
             "updated_ns": time.time_ns()}
        )
        for mp in self.mps.live():
            try:
                replace_durably(
                    layout.tmp_path(mp.root, "bucket"),
                    layout.bucket_path(mp.root, info.name),
                    data,
                    self.config.fsync,
                )
            except OSError as e:
                if self.mps.check(mp):
                    raise
                log.warning("bucket %s not written to failed %s: %s", info.name, mp.root, e)

    def _buckets_changed(self) -> None:
        with self._buckets_lock:
            self._buckets_epoch += 1
            self._buckets.clear()

    def _create_bucket_sync(self, name: str, props: dict[str, Any] | None) -> BucketInfo:
        with self.index.wlock:
            if self.index.w.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
                raise S3Error(
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded",
                    name,
                )
            info = BucketInfo(name, time.time_ns(), dict(props or {}))
            self._write_bucket_files(info)
            self.index.w.execute(
                "INSERT INTO buckets (name, created_ns, props) VALUES (?, ?, ?)",
                (name, info.created_ns, dumps(info.props)),
            )
            self._buckets_changed()
            return info

    def _delete_bucket_sync(self, name: str) -> None:
        with self.index.wlock:
            w = self.index.w
            if not w.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
                raise S3Error("NoSuchBucket", "The specified bucket does not exist", name)
            if w.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone() or (
                w.execute("SELECT 1 FROM uploads WHERE bucket = ? LIMIT 1", (name,)).fetchone()
            ):
                raise S3Error("BucketNotEmpty", "The bucket you tried to delete is not empty", name)
            for mp in self.mps.live():
                with contextlib.suppress(OSError):
                    unlink_durably(layout.bucket_path(mp.root, name), self.config.fsync)
            w.execute("DELETE FROM buckets WHERE name = ?", (name,))
            self._buckets_changed()

    def _update_bucket_sync(self, name: str, patch: dict[str, Any]) -> BucketInfo:
        with self.index.wlock:
            info = self._bucket_sync(name)
            props = dict(info.props)
            for k, v in patch.items():
                if v is None:
                    props.pop(k, None)
                else:
                    props[k] = v
            info = BucketInfo(name, info.created_ns, props)
            self._write_bucket_files(info)
            self.index.w.execute(
                "UPDATE buckets SET props = ? WHERE name = ?", (dumps(props), name)
            )
            self._buckets_changed()
            return info

    async def create_bucket(self, name: str, props: dict[str, Any] | None = None) -> BucketInfo:
        return await _run(self._create_bucket_sync, name, props)

    async def delete_bucket(self, name: str) -> None:
        await _run(self._delete_bucket_sync, name)

    async def get_bucket(self, name: str) -> BucketInfo:
        info = self._buckets.get(name)
        if info is None:
            epoch = self._buckets_epoch
            info = await _run(self._bucket_sync, name)
            with self._buckets_lock:
                if epoch == self._buckets_epoch:
                    self._buckets[name] = info
        return BucketInfo(info.name, info.created_ns, dict(info.props))

    async def list_buckets(self) -> list[BucketInfo]:
        rows = await _run(
            self.index.rows, "SELECT name, created_ns, props FROM buckets ORDER BY name"
        )
        return [BucketInfo(r[0], int(r[1]), json.loads(r[2])) for r in rows]

    async def update_bucket_props(self, name: str, patch: dict[str, Any]) -> BucketInfo:
        info = await _run(self._update_bucket_sync, name, patch)
        if "mirror.copies" in patch:  # existing objects get the new number of copies
            self.admin.request_resilver([name], reason=f"mirror.copies of {name}")
        return info

    # == manifests and publication =======================================================

    def _stage_manifest(self, info: ObjectInfo, copies: int) -> list[_Staged]:
        """Write ``info``'s manifest to temp files (fsynced) on its first mountpaths.

        Needs no lock: nothing is visible until ``_install_manifest`` renames them.
        """
        text = dumps(info_to_json(info))
        data = text.encode("utf-8", "surrogatepass")
        name = layout.manifest_name(info.bucket, info.key)
        final = f"{layout.MANIFESTS}/{name[:2]}/{name}.json"
        staged: list[_Staged] = []
        try:
            for mp in self.mps.order(name):
                if len(staged) >= max(copies, 1):
                    break
                tmp = layout.tmp_path(mp.root, "manifest")
                try:
                    write_tmp(tmp, data, self.config.fsync)
                except OSError as e:
                    if self.mps.check(mp):
                        raise
                    log.warning("manifest not written to failed %s: %s", mp.root, e)
                    continue
                staged.append(_Staged(mp, tmp, f"{mp.root}/{final}", text))
        except BaseException:
            _discard(staged)
            raise
        if not staged:
            raise OSError("no mountpath took the manifest")
        return staged

    def _install_manifest(
        self, info: ObjectInfo, staged: list[_Staged], dirs: set[str]
    ) -> None:
        """Rename staged manifests into place (caller holds ``index.wlock``); the directories
        to fsync go to ``dirs``. Copies of the name on other mountpaths are removed."""
        written: list[Mountpath] = []
        try:
            for st in staged:
                try:
                    os.replace(st.tmp, st.final)
                except OSError as e:
                    if self.mps.check(st.mp):
                        raise
                    log.warning("manifest not written to failed %s: %s", st.mp.root, e)
                    continue
                st.tmp = ""
                written.append(st.mp)
                dirs.add(os.path.dirname(st.final))
        finally:
            _discard(staged)
        if not written:
            raise OSError("no mountpath took the manifest")
        for mp in self.mps.live():
            if mp not in written:
                with contextlib.suppress(OSError):
                    unlink_durably(
                        layout.manifest_path(mp.root, info.bucket, info.key), self.config.fsync
                    )

    def _sync_dirs(self, dirs: Iterable[str]) -> None:
        if self.config.fsync:
            for d in sorted(dirs):
                fsync_dir(d)

    def _write_manifest(self, info: ObjectInfo, copies: int) -> None:
        dirs: set[str] = set()
        self._install_manifest(info, self._stage_manifest(info, copies), dirs)
        self._sync_dirs(dirs)

    def _remove_manifest(self, bucket: str, key: str) -> None:
        for mp in self.mps.live():
            try:
                unlink_durably(layout.manifest_path(mp.root, bucket, key), self.config.fsync)
            except OSError:
                if self.mps.check(mp):
                    raise

    def _publish(
        self,
        new: list[ObjectInfo],
        removed: list[tuple[str, str]],
        copies: int,
        before_tx: Callable[[], None] | None = None,
        in_tx: Callable[[], Counter[str]] | None = None,
        staged: list[_Staged] | None = None,
        staged_dirs: set[str] | None = None,
        began: bool = False,
    ) -> list[str]:
        """Write manifests, remove others, commit the index; ids whose refcount hit 0.

        The caller holds ``index.wlock`` and has checked what must be checked. With
        ``staged`` (the manifest of the one object in ``new``, already in temp files) the
        manifest is renamed into place and its directories are left in ``staged_dirs`` for
        the caller to fsync (after the lock, before it acknowledges). ``began``: the
        caller has opened the index transaction already.
        """
        for info in new:
            if staged is not None and staged_dirs is not None:
                self._install_manifest(info, staged, staged_dirs)
            else:
                self._write_manifest(info, copies)
        new_names = {(i.bucket, i.key) for i in new}
        for bucket, key in removed:
            if (bucket, key) not in new_names:
                self._remove_manifest(bucket, key)
        if before_tx is not None:
            before_tx()
        w = self.index.w
        if not began:
            self.index.begin()
        try:
            delta: Counter[str] = Counter()
            sizes: dict[str, int] = {}
            touched = list(dict.fromkeys([*removed, *((i.bucket, i.key) for i in new)]))
            for bucket, key in touched:
                row = w.execute(
                    "SELECT manifest FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
                ).fetchone()
                if row is not None:
                    delta.subtract(_chunks_of(row[0]))
                    w.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
            for info in new:
                for c in info.chunks:
                    delta[c.id] += 1
                    sizes[c.id] = c.size
                extra = dumps(info.meta.extra) if info.meta.extra else None
                w.execute(
                    "INSERT INTO objects (bucket, key, size, etag, mtime_ns, generation, extra, "
                    "manifest) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (info.bucket, info.key, info.size, info.etag, info.mtime_ns,
                     info.generation, extra,
                     staged[0].text if staged and len(new) == 1
                     else dumps(info_to_json(info))),
                )
            if in_tx is not None:
                delta.update(in_tx())
            dropped = self.index.apply_refs(_nonzero(delta), sizes)
            self.index.commit()
        except BaseException:
            self.index.rollback()
            raise
        return dropped

    def _drop_chunks(self, ids: Iterable[str]) -> int:
        ids = list(ids)
        if not ids:
            return 0
        return self.chunks.remove_unreferenced(ids, self.index.referenced)

    async def _release_async(self, pinned: list[str], drop: list[str]) -> None:
        self.chunks.unpin(pinned)  # a dict update under a lock: fine on the loop
        if drop:
            with trio.CancelScope(shield=True):
                await _run(self._drop_chunks, drop)

    # == objects: write ==================================================================
    #
    # A body is cut into chunks as it arrives. One that ends within its first chunk (every
    # small PUT) costs one worker-thread call: hash, write the chunk, fsync it and its
    # directory, run ``before_commit``, stage the manifest, commit, fsync the manifest
    # directory. A longer one goes through a pipeline: receive (on the loop) -> hash in
    # order (MD5 and the whole-body checksums, one thread) -> write (chunk hash, temp file,
    # fsync, link: up to WRITERS chunks at once), then the same final call.

    async def _cut(
        self, body: AsyncIterable[bytes], expected_size: int | None, resource: str
    ) -> AsyncIterator[tuple[bytes, bool]]:
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
        dg: _Digest,
        expected_size: int | None,
        resource: str,
        pinned: list[str],
        finish: Callable[[bytes | None, list[ChunkRef], set[str]], R],
    ) -> R:
        """Receive ``body`` into chunks; ``finish(tail, chunks, dirs)`` in a worker thread.

        ``tail`` is the whole body when it fits in one chunk (not yet hashed nor written),
        else None and every chunk is in ``chunks`` (hashed into ``dg``, written, its
        directory in ``dirs``).
        """
        chunks: list[ChunkRef] = []
        dirs: set[str] = set()
        cuts = self._cut(body, expected_size, resource)
        async with contextlib.aclosing(cuts):
            first, last = await anext(cuts)
            if last:
                return await _run(finish, first, chunks, dirs)
            await self._pipeline(first, cuts, copies, dg, pinned, dirs, chunks)
        return await _run(finish, None, chunks, dirs)

    async def _pipeline(
        self,
        first: bytes,
        rest: AsyncIterator[tuple[bytes, bool]],
        copies: int,
        dg: _Digest,
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
                    await _run(dg.update, item[1])
                    await to_write.send(item)

        async def write_one(i: int, buf: bytes, slot: trio.Semaphore) -> None:
            try:
                refs[i] = await _run(store, buf)
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
            raise _unwrap(eg) from None
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
        dg: _Digest,
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
        """Publish: manifest staged (temp, fsync) before the lock; under it, preconditions,
        rename, index commit; after it, the manifest directories fsynced."""
        info = ObjectInfo(
            bucket=bucket,
            key=key,
            size=result.size,
            etag=result.md5.hex(),
            mtime_ns=time.time_ns(),
            generation=self._next_gen(),
            meta=meta,
            chunks=list(result.chunks),
            checksum_type=checksum_type,
            checksum_value=value,
            inline=inline,
            inline_xxh3=inline_hash(inline) if inline is not None else "",
        )
        staged = self._stage_manifest(info, copies)
        dirs: set[str] = set()
        try:
            with self.index.wlock:
                # one transaction from the checks to the commit: no read transaction (and
                # its file locks) per statement
                self.index.begin()
                try:
                    binfo = self._bucket_sync(bucket, self.index.w)
                    row = self.index.w.execute(
                        "SELECT etag, generation FROM objects WHERE bucket = ? AND key = ?",
                        (bucket, key),
                    ).fetchone()
                    _check_preconditions(row[0] if row else None, if_match, if_none_match, key)
                    want = self._copies(binfo.props)
                    if want != copies or (row is not None and row[1] >= info.generation):
                        # rare: the bucket's copies changed, or a PUT of this key that
                        # started later committed first (generations grow per key in
                        # commit order)
                        _discard(staged)
                        info.generation = self._next_gen()
                        staged = self._stage_manifest(info, want)
                    dropped = self._publish(
                        [info], [], want, staged=staged, staged_dirs=dirs, began=True
                    )
                except BaseException:
                    self.index.rollback()
                    raise
        finally:
            _discard(staged)
        self._sync_dirs(dirs)
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
        ``before_commit`` runs in a worker thread (it must not call into trio), after
        the whole body is hashed and durable, before the manifest is written.
        """
        binfo = await self.get_bucket(bucket)
        cktype = str(binfo.props.get("checksum.type", "xxhash"))
        copies = self._copies(binfo.props)
        dg = _Digest(cktype, hashers)
        pinned: list[str] = []
        dropped: list[str] = []
        ok = False
        commit = functools.partial(
            self._commit_put_sync, bucket=bucket, key=key, meta=meta, checksum_type=cktype,
            copies=copies, if_match=if_match, if_none_match=if_none_match,
        )
        finish = functools.partial(
            self._finish_sync, copies=copies, dg=dg, content_md5=content_md5, resource=key,
            pinned=pinned, before_commit=before_commit, commit=commit,
            inline_max=self.config.inline_max,
        )
        try:
            info, dropped = await self._write(
                body, copies, dg, expected_size, key, pinned, finish
            )
            ok = True
            return info
        finally:
            await self._release_async(pinned, dropped if ok else pinned)

    # == objects: read ===================================================================

    def _head_sync(self, bucket: str, key: str, with_data: bool = False) -> ObjectInfo:
        row = self.index.row(
            "SELECT manifest FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
        )
        if row is None:
            self._bucket_sync(bucket)
            raise S3Error("NoSuchKey", "The specified key does not exist.", key)
        info = info_from_json(json.loads(row[0]))
        if info.inline is not None:
            if not inline_ok(info):  # the index row is damaged: a good manifest copy?
                good = self.inline_from_disk(info.bucket, info.key, info.generation)
                if good is not None:
                    info.inline = good.inline
            if with_data and inline_ok(info):
                info.data = info.inline
        elif with_data and 0 < info.size <= INLINE_READ:
            # no pin: a chunk removed meanwhile (the object was replaced) is just not
            # prefetched, and read_object takes the usual path (and its error)
            with contextlib.suppress(StoreCorruption):
                info.data = b"".join(self.chunks.read(c.id, c.size) for c in info.chunks)
        return info

    def inline_from_disk(self, bucket: str, key: str, generation: int) -> ObjectInfo | None:
        """A manifest copy of this inline object (same generation) whose bytes verify."""
        for mp in self.mps.live():
            path = layout.manifest_path(mp.root, bucket, key)
            try:
                cand = info_from_json(json.loads(read_file(path)))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if (cand.bucket, cand.key, cand.generation) == (bucket, key, generation) and (
                cand.inline is not None and inline_ok(cand)
            ):
                return cand
        return None

    async def head_object(self, bucket: str, key: str, *, with_data: bool = False) -> ObjectInfo:
        """The object's record. ``with_data``: for a small object (<= 1 MiB) its bytes
        too, read and verified in the same worker call (``read_object`` serves them)."""
        return await _run(self._head_sync, bucket, key, with_data)

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
        if info.inline is not None:
            if not inline_ok(info):
                raise StoreCorruption(
                    f"inline:{info.bucket}/{info.key}", "inline data does not match its checksum"
                )
            data = info.inline
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
        wanted: list[tuple[ChunkRef, int]] = []
        off = 0
        for ref in info.chunks:
            if off + ref.size > start and off <= end:
                wanted.append((ref, off))
            off += ref.size
        if not wanted:
            return
        ids = [c.id for c in info.chunks]
        for cid in ids:
            self.chunks.pin(cid)
        try:
            ahead = _ReadAhead(self._read_chunk_sync, info, wanted[0][0])
            for n, (ref, c_start) in enumerate(wanted):
                data = await ahead.result()
                if n + 1 < len(wanted):
                    ahead = _ReadAhead(self._read_chunk_sync, info, wanted[n + 1][0])
                lo = max(start, c_start) - c_start
                hi = min(end, c_start + ref.size - 1) - c_start + 1
                view = memoryview(data)[lo:hi]
                for i in range(0, len(view), READ_PIECE):
                    yield bytes(view[i : i + READ_PIECE])
                del data, view
        finally:
            self.chunks.unpin(ids)

    # == objects: delete, list ===========================================================

    def _delete_sync(self, bucket: str, key: str) -> list[str]:
        with self.index.wlock:
            binfo = self._bucket_sync(bucket)
            if not self.index.w.execute(
                "SELECT 1 FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
            ).fetchone():
                raise S3Error("NoSuchKey", "The specified key does not exist.", key)
            return self._publish([], [(bucket, key)], self._copies(binfo.props))

    async def delete_object(self, bucket: str, key: str) -> None:
        dropped = await _run(self._delete_sync, bucket, key)
        with trio.CancelScope(shield=True):
            await _run(self._drop_chunks, dropped)

    def _list_sync(
        self,
        bucket: str,
        prefix: str,
        delimiter: str,
        start_after: str,
        max_keys: int,
        with_extra: bool,
    ) -> ListPage:
        self._bucket_sync(bucket)
        entries: list[ListEntry] = []
        prefixes: list[str] = []
        if max_keys <= 0:
            return ListPage(entries, prefixes, False, None)
        upper = layout.prefix_successor(prefix) if prefix else None
        if prefix > start_after:
            lo, lo_incl = prefix, True
        else:
            lo, lo_incl = start_after, False
        cols = "key, size, etag, mtime_ns"
        if with_extra:  # the user metadata straight from the manifest JSON, in SQLite
            cols += ", extra, json_extract(manifest, '$.meta.user')"
        n = 0
        last: str | None = None
        truncated = False
        done = False
        conn = self.index.r
        plen = len(prefix)
        dlen = len(delimiter)
        while not (truncated or done):
            want = max_keys - n + 1
            op = ">=" if lo_incl else ">"
            sql = f"SELECT {cols} FROM objects WHERE bucket = ? AND key {op} ?"
            params: list[Any] = [bucket, lo]
            if upper is not None:
                sql += " AND key < ?"
                params.append(upper)
            sql += " ORDER BY key LIMIT ?"
            params.append(want)
            rows = conn.execute(sql, params).fetchall()
            if not rows:
                break
            jumped = False
            for row in rows:
                key = row[0]
                if delimiter:
                    i = key.find(delimiter, plen)
                    if i >= 0:
                        cp = key[: i + dlen]
                        if cp > start_after:
                            if n == max_keys:
                                truncated = True
                                break
                            prefixes.append(cp)
                            n += 1
                            last = cp
                        nxt = layout.prefix_successor(cp)
                        if nxt is None or (upper is not None and nxt >= upper):
                            done = True
                        else:
                            lo, lo_incl = nxt, True
                        jumped = True
                        break
                if n == max_keys:
                    truncated = True
                    break
                extra = user = None
                if with_extra:
                    extra = json.loads(row[4]) if row[4] else {}
                    user = json.loads(row[5]) if row[5] else {}
                entries.append(ListEntry(key, row[1], row[2], row[3], extra, user))
                n += 1
                last = key
                lo, lo_incl = key, False
            if not jumped and not truncated and len(rows) < want:
                break
        return ListPage(entries, prefixes, truncated, last if truncated else None)

    async def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        start_after: str = "",
        max_keys: int = 1000,
        with_extra: bool = False,
    ) -> ListPage:
        return await _run(
            self._list_sync, bucket, prefix, delimiter, start_after, max_keys, with_extra
        )

    # == objects: metadata-only changes ==================================================

    def _get_row_sync(self, bucket: str, key: str) -> ObjectInfo:
        row = self.index.w.execute(
            "SELECT manifest FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
        ).fetchone()
        if row is None:
            self._bucket_sync(bucket)
            raise S3Error("NoSuchKey", "The specified key does not exist.", key)
        return info_from_json(json.loads(row[0]))

    def _copy_sync(
        self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str,
        meta: ObjectMeta | None,
    ) -> tuple[ObjectInfo, list[str]]:
        with self.index.wlock:
            src = self._get_row_sync(src_bucket, src_key)
            dbinfo = self._bucket_sync(dst_bucket)
            info = ObjectInfo(
                bucket=dst_bucket,
                key=dst_key,
                size=src.size,
                etag=src.etag,
                mtime_ns=time.time_ns(),
                generation=self._next_gen(),
                meta=src.meta if meta is None else meta,
                chunks=list(src.chunks),
                part_sizes=src.part_sizes,
                checksum_type=src.checksum_type,
                checksum_value=src.checksum_value,
                inline=src.inline,
                inline_xxh3=src.inline_xxh3,
            )
            return info, self._publish([info], [], self._copies(dbinfo.props))

    async def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        meta: ObjectMeta | None = None,
    ) -> ObjectInfo:
        """A new manifest sharing the source's chunks (no data is copied)."""
        info, dropped = await _run(self._copy_sync, src_bucket, src_key, dst_bucket, dst_key, meta)
        with trio.CancelScope(shield=True):
            await _run(self._drop_chunks, dropped)
        return info

    def _update_meta_sync(self, bucket: str, key: str, meta: ObjectMeta) -> ObjectInfo:
        with self.index.wlock:
            cur = self._get_row_sync(bucket, key)
            binfo = self._bucket_sync(bucket)
            cur.meta = meta
            cur.generation = self._next_gen()
            self._publish([cur], [], self._copies(binfo.props))
            return cur

    async def update_object_meta(self, bucket: str, key: str, meta: ObjectMeta) -> ObjectInfo:
        return await _run(self._update_meta_sync, bucket, key, meta)

    def _rename_sync(
        self, bucket: str, pairs: list[tuple[ObjectInfo, str]]
    ) -> tuple[list[ObjectInfo], list[str]]:
        binfo = self._bucket_sync(bucket)
        new: list[ObjectInfo] = []
        removed: list[tuple[str, str]] = []
        for src, dst_key in pairs:
            removed.append((bucket, src.key))
            src.key = dst_key
            src.generation = self._next_gen()
            new.append(src)
        dropped = self._publish(new, removed, self._copies(binfo.props))
        return new, dropped

    def _rename_object_sync(
        self, bucket: str, src_key: str, dst_key: str
    ) -> tuple[ObjectInfo, list[str]]:
        with self.index.wlock:
            src = self._get_row_sync(bucket, src_key)
            if src_key == dst_key:
                return src, []
            new, dropped = self._rename_sync(bucket, [(src, dst_key)])
            return new[0], dropped

    async def rename_object(self, bucket: str, src_key: str, dst_key: str) -> ObjectInfo:
        """Move ``src_key`` to ``dst_key`` (replacing it), metadata only, one transaction."""
        info, dropped = await _run(self._rename_object_sync, bucket, src_key, dst_key)
        with trio.CancelScope(shield=True):
            await _run(self._drop_chunks, dropped)
        return info

    def _rename_prefix_sync(
        self, bucket: str, src_prefix: str, dst_prefix: str
    ) -> tuple[int, list[str]]:
        with self.index.wlock:
            self._bucket_sync(bucket)
            if src_prefix == dst_prefix:
                return 0, []
            sql = "SELECT manifest FROM objects WHERE bucket = ? AND key >= ?"
            params: list[Any] = [bucket, src_prefix]
            upper = layout.prefix_successor(src_prefix)
            if upper is not None:
                sql += " AND key < ?"
                params.append(upper)
            rows = self.index.w.execute(sql, params).fetchall()
            pairs = []
            for (m,) in rows:
                info = info_from_json(json.loads(m))
                pairs.append((info, dst_prefix + info.key[len(src_prefix) :]))
            if not pairs:
                return 0, []
            _, dropped = self._rename_sync(bucket, pairs)
            return len(pairs), dropped

    async def rename_prefix(self, bucket: str, src_prefix: str, dst_prefix: str) -> int:
        """Rename every key under ``src_prefix``; existing destinations are replaced."""
        n, dropped = await _run(self._rename_prefix_sync, bucket, src_prefix, dst_prefix)
        with trio.CancelScope(shield=True):
            await _run(self._drop_chunks, dropped)
        return n

    # == multipart =======================================================================

    def _upload_row(self, upload_id: str, bucket: str, key: str, conn: Any = None) -> UploadInfo:
        conn = conn or self.index.r
        row = conn.execute(
            "SELECT bucket, key, initiated_ns, meta FROM uploads WHERE upload_id = ?",
            (upload_id,),
        ).fetchone()
        if row is None or row[0] != bucket or row[1] != key:
            self._bucket_sync(bucket)
            raise S3Error(
                "NoSuchUpload", "The specified multipart upload does not exist.", upload_id
            )
        return UploadInfo(upload_id, row[0], row[1], int(row[2]),
                          ObjectMeta.from_json(json.loads(row[3])))

    def _upload_targets(self, upload_id: str, copies: int) -> list[Mountpath]:
        return self.mps.order(upload_id)[: max(copies, 1)]

    def _write_upload_file(
        self, upload_id: str, copies: int, name: str, data: bytes
    ) -> None:
        written = 0
        for mp in self._upload_targets(upload_id, copies):
            d = layout.upload_dir(mp.root, upload_id)
            try:
                if not os.path.isdir(d):
                    os.makedirs(d, exist_ok=True)
                    if self.config.fsync:
                        fsync_dir(os.path.dirname(d))
                replace_durably(layout.tmp_path(mp.root, "upload"), f"{d}/{name}", data,
                                self.config.fsync)
                written += 1
            except OSError as e:
                if self.mps.check(mp):
                    raise
                log.warning("upload record not written to failed %s: %s", mp.root, e)
        if not written:
            raise OSError("no mountpath took the upload record")

    def _remove_upload_files(self, upload_id: str) -> None:
        for mp in self.mps.live():
            d = layout.upload_dir(mp.root, upload_id)
            if os.path.isdir(d):
                shutil.rmtree(d, ignore_errors=True)
                if self.config.fsync:
                    with contextlib.suppress(OSError):
                        fsync_dir(os.path.dirname(d))

    def _create_upload_sync(self, bucket: str, key: str, meta: ObjectMeta) -> UploadInfo:
        with self.index.wlock:
            binfo = self._bucket_sync(bucket)
            info = UploadInfo(secrets.token_urlsafe(24), bucket, key, time.time_ns(), meta)
            self._write_upload_file(
                info.upload_id, self._copies(binfo.props), "upload.json",
                encode(upload_to_json(info)),
            )
            self.index.w.execute(
                "INSERT INTO uploads (upload_id, bucket, key, initiated_ns, meta) "
                "VALUES (?, ?, ?, ?, ?)",
                (info.upload_id, bucket, key, info.initiated_ns, dumps(meta.to_json())),
            )
            return info

    async def create_upload(self, bucket: str, key: str, meta: ObjectMeta) -> UploadInfo:
        return await _run(self._create_upload_sync, bucket, key, meta)

    async def get_upload(self, upload_id: str, bucket: str, key: str) -> UploadInfo:
        return await _run(self._upload_row, upload_id, bucket, key)

    def _commit_part_sync(
        self, upload_id: str, bucket: str, key: str, part_number: int, result: WriteResult
    ) -> tuple[PartInfo, list[str]]:
        with self.index.wlock:
            self._upload_row(upload_id, bucket, key, self.index.w)
            binfo = self._bucket_sync(bucket)
            part = PartInfo(part_number, result.md5.hex(), result.size, time.time_ns())
            self._write_upload_file(
                upload_id, self._copies(binfo.props), layout.part_file(part_number),
                encode(part_to_json(upload_id, part, result.chunks)),
            )
            w = self.index.w
            self.index.begin()
            try:
                delta: Counter[str] = Counter(c.id for c in result.chunks)
                row = w.execute(
                    "SELECT chunks FROM parts WHERE upload_id = ? AND part_number = ?",
                    (upload_id, part_number),
                ).fetchone()
                if row is not None:
                    delta.subtract(c[0] for c in json.loads(row[0]))
                w.execute(
                    "INSERT OR REPLACE INTO parts (upload_id, part_number, etag, size, mtime_ns,"
                    " chunks) VALUES (?, ?, ?, ?, ?, ?)",
                    (upload_id, part_number, part.etag, part.size, part.mtime_ns,
                     dumps([[c.id, c.size] for c in result.chunks])),
                )
                dropped = self.index.apply_refs(
                    _nonzero(delta), {c.id: c.size for c in result.chunks}
                )
                self.index.commit()
            except BaseException:
                self.index.rollback()
                raise
            return part, dropped

    async def put_part(
        self,
        upload_id: str,
        bucket: str,
        key: str,
        part_number: int,
        body: AsyncIterable[bytes],
        *,
        content_md5: bytes | None = None,
        expected_size: int | None = None,
        hashers: dict[str, Any] | None = None,
        before_commit: Callable[[WriteResult], None] | None = None,
    ) -> PartInfo:
        if not 1 <= part_number <= 10000:
            raise S3Error(
                "InvalidArgument", "Part number must be an integer between 1 and 10000",
                str(part_number),
            )
        await self.get_upload(upload_id, bucket, key)
        binfo = await self.get_bucket(bucket)
        copies = self._copies(binfo.props)
        dg = _Digest("none", hashers)
        pinned: list[str] = []
        dropped: list[str] = []
        ok = False

        def commit(result: WriteResult, _value: str) -> tuple[PartInfo, list[str]]:
            return self._commit_part_sync(upload_id, bucket, key, part_number, result)

        finish = functools.partial(
            self._finish_sync, copies=copies, dg=dg, content_md5=content_md5, resource=key,
            pinned=pinned, before_commit=before_commit, commit=commit,
        )
        try:
            part, dropped = await self._write(
                body, copies, dg, expected_size, key, pinned, finish
            )
            ok = True
            return part
        finally:
            await self._release_async(pinned, dropped if ok else pinned)

    async def list_parts(self, upload_id: str, bucket: str, key: str) -> list[PartInfo]:
        def sync() -> list[PartInfo]:
            self._upload_row(upload_id, bucket, key)
            rows = self.index.rows(
                "SELECT part_number, etag, size, mtime_ns FROM parts WHERE upload_id = ? "
                "ORDER BY part_number",
                (upload_id,),
            )
            return [PartInfo(int(r[0]), r[1], int(r[2]), int(r[3])) for r in rows]

        return await _run(sync)

    async def list_uploads(self, bucket: str) -> list[UploadInfo]:
        def sync() -> list[UploadInfo]:
            self._bucket_sync(bucket)
            rows = self.index.rows(
                "SELECT upload_id, bucket, key, initiated_ns, meta FROM uploads "
                "WHERE bucket = ? ORDER BY key, initiated_ns",
                (bucket,),
            )
            return [
                UploadInfo(r[0], r[1], r[2], int(r[3]), ObjectMeta.from_json(json.loads(r[4])))
                for r in rows
            ]

        return await _run(sync)

    def _forget_upload_tx(self, upload_id: str) -> Counter[str]:
        """Inside a transaction: delete the upload's rows; the refcount delta of its parts."""
        w = self.index.w
        delta: Counter[str] = Counter()
        for (chunks,) in w.execute(
            "SELECT chunks FROM parts WHERE upload_id = ?", (upload_id,)
        ).fetchall():
            delta.subtract(c[0] for c in json.loads(chunks))
        w.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
        w.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
        return delta

    def _abort_sync(self, upload_id: str, bucket: str, key: str) -> list[str]:
        with self.index.wlock:
            self._upload_row(upload_id, bucket, key, self.index.w)
            self._remove_upload_files(upload_id)
            self.index.begin()
            try:
                dropped = self.index.apply_refs(_nonzero(self._forget_upload_tx(upload_id)), {})
                self.index.commit()
            except BaseException:
                self.index.rollback()
                raise
            return dropped

    async def abort_upload(self, upload_id: str, bucket: str, key: str) -> None:
        dropped = await _run(self._abort_sync, upload_id, bucket, key)
        with trio.CancelScope(shield=True):
            await _run(self._drop_chunks, dropped)

    def _complete_sync(
        self,
        upload_id: str,
        bucket: str,
        key: str,
        parts: list[tuple[int, str]],
        if_match: str | None,
        if_none_match: str | None,
    ) -> tuple[ObjectInfo, list[str]]:
        with self.index.wlock:
            w = self.index.w
            upload = self._upload_row(upload_id, bucket, key, w)
            binfo = self._bucket_sync(bucket)
            if not parts:
                raise S3Error(
                    "MalformedXML", "You must specify at least one part", upload_id
                )
            prev = 0
            for number, _ in parts:
                if number <= prev:
                    raise S3Error(
                        "InvalidPartOrder", "The list of parts was not in ascending order.",
                        upload_id,
                    )
                prev = number
            stored = {
                int(r[0]): (r[1], int(r[2]), r[3])
                for r in w.execute(
                    "SELECT part_number, etag, size, chunks FROM parts WHERE upload_id = ?",
                    (upload_id,),
                ).fetchall()
            }
            md5s = []
            chunks: list[ChunkRef] = []
            sizes: list[int] = []
            for i, (number, etag) in enumerate(parts):
                have = stored.get(number)
                if have is None or have[0] != etag.strip().strip('"').lower():
                    raise S3Error(
                        "InvalidPart",
                        "One or more of the specified parts could not be found or the "
                        "specified entity tag might not have matched the part's entity tag.",
                        upload_id,
                        extra={"PartNumber": str(number), "ETag": etag},
                    )
                if i < len(parts) - 1 and have[1] < self.config.min_part_size:
                    raise S3Error(
                        "EntityTooSmall",
                        "Your proposed upload is smaller than the minimum allowed object size.",
                        upload_id,
                        extra={"PartNumber": str(number)},
                    )
                md5s.append(bytes.fromhex(have[0]))
                sizes.append(have[1])
                chunks.extend(ChunkRef(c[0], int(c[1])) for c in json.loads(have[2]))
            row = w.execute(
                "SELECT etag FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
            ).fetchone()
            _check_preconditions(row[0] if row else None, if_match, if_none_match, key)
            info = ObjectInfo(
                bucket=bucket,
                key=key,
                size=sum(sizes),
                etag=f"{hashlib.md5(b''.join(md5s)).hexdigest()}-{len(parts)}",
                mtime_ns=time.time_ns(),
                generation=self._next_gen(),
                meta=upload.meta,
                chunks=chunks,
                part_sizes=sizes,
                checksum_type=str(binfo.props.get("checksum.type", "xxhash")),
                checksum_value="",
            )
            dropped = self._publish(
                [info],
                [],
                self._copies(binfo.props),
                before_tx=lambda: self._remove_upload_files(upload_id),
                in_tx=lambda: self._forget_upload_tx(upload_id),
            )
            return info, dropped

    async def complete_upload(
        self,
        upload_id: str,
        bucket: str,
        key: str,
        parts: list[tuple[int, str]],
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> ObjectInfo:
        """Publish the listed parts as one object; their chunks are reused, not copied."""
        info, dropped = await _run(
            self._complete_sync, upload_id, bucket, key, parts, if_match, if_none_match
        )
        with trio.CancelScope(shield=True):
            await _run(self._drop_chunks, dropped)
        return info

    async def reclaim_uploads(self, older_than_seconds: float) -> int:
        cutoff = time.time_ns() - int(older_than_seconds * 1e9)
        rows = await _run(
            self.index.rows,
            "SELECT upload_id, bucket, key FROM uploads WHERE initiated_ns < ?",
            (cutoff,),
        )
        n = 0
        for upload_id, bucket, key in rows:
            try:
                await self.abort_upload(upload_id, bucket, key)
                n += 1
            except S3Error:
                pass
        return n

    # == maintenance =====================================================================

    def gc_sync(self) -> int:
        removed = 0
        for mp in self.mps.live():
            for fan in layout.FANOUT:
                try:
                    names = os.listdir(f"{mp.root}/{layout.CHUNKS}/{fan}")
                except OSError:
                    continue
                if names:
                    removed += self.chunks.remove_unreferenced(names, self.index.referenced)
            cutoff = time.time() - self.config.gc_grace_seconds
            try:
                tmps = list(os.scandir(f"{mp.root}/{layout.TMP}"))
            except OSError:
                continue
            for entry in tmps:
                try:
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                except OSError:
                    pass
        return removed

    async def gc(self) -> int:
        """Remove orphan chunk files (and stale temp files); the number of chunks removed."""
        return await _run(self.gc_sync)

    def fsck_sync(self, rebuild: bool, check_chunks: bool = True) -> FsckReport:
        from .fsck import run_fsck

        try:
            return run_fsck(self, rebuild=rebuild, check_chunks=check_chunks)
        finally:
            self._buckets_changed()

    async def fsck(self, rebuild: bool = False) -> FsckReport:
        """Compare the index with the manifests on disk; with ``rebuild``, rebuild it."""
        return await _run(self.fsck_sync, rebuild)

    def stats_sync(self) -> dict[str, Any]:
        objects, logical = self.index.row("SELECT count(*), coalesce(sum(size), 0) FROM objects")
        chunks, unique = self.index.row("SELECT count(*), coalesce(sum(size), 0) FROM chunks")
        uploads = self.index.row("SELECT count(*) FROM uploads")[0]
        mps = []
        for mp in self.mps.all:
            entry: dict[str, Any] = {"path": mp.root, "uuid": mp.uuid, "enabled": mp.enabled,
                                     "state": mp.state, "io_errors": mp.io_errors}
            if mp.enabled:
                with contextlib.suppress(OSError):
                    entry.update(mp.capacity())
                    entry["weight"] = mp.weight
            mps.append(entry)
        return {
            "objects": objects,
            "chunks": chunks,
            "uploads": uploads,
            "logical_bytes": logical,
            "stored_bytes": unique,
            "dedup_savings_bytes": max(0, logical - unique),
            "mountpaths": mps,
        }

    async def stats(self) -> dict[str, Any]:
        return await _run(self.stats_sync)

    # == helpers for fsck ================================================================

    def read_json(self, path: str) -> dict[str, Any] | None:
        try:
            return json.loads(read_file(path))
        except (OSError, ValueError) as e:
            log.warning("unreadable record %s: %s", path, e)
            return None


class _ReadAhead:
    """``fn(*args)`` started now in a worker thread; ``await result()`` for its value.

    Not tied to a nursery (read_object is an async generator, which may not hold one
    across a yield): if nobody awaits the result, the thread finishes and it is dropped.
    """

    def __init__(self, fn: Callable[..., bytes], *args: Any) -> None:
        self._done = trio.Event()
        self._outcome: Any = None
        token = trio.lowlevel.current_trio_token()

        def deliver(outcome: Any) -> None:
            self._outcome = outcome
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(self._done.set)

        trio.lowlevel.start_thread_soon(functools.partial(fn, *args), deliver)

    async def result(self) -> bytes:
        await self._done.wait()
        return self._outcome.unwrap()  # type: ignore[no-any-return]


class _Digest:
    """The whole-body hashes of a write, fed in order: MD5 (the ETag), the bucket's
    checksum, the caller's extra hashers."""

    def __init__(self, checksum_type: str, hashers: dict[str, Any] | None) -> None:
        self.checksum_type = checksum_type
        self.md5 = hashlib.md5()
        self.whole: Any = None
        if checksum_type == "xxhash":
            self.whole = xxhash.xxh3_64()
        elif checksum_type == "sha256":
            self.whole = hashlib.sha256()
        self.extra = list((hashers or {}).values())
        self.size = 0

    def update(self, buf: bytes) -> None:
        self.size += len(buf)
        self.md5.update(buf)
        if self.whole is not None:
            self.whole.update(buf)
        for h in self.extra:
            h.update(buf)

    def value(self) -> str:
        if self.checksum_type == "md5":
            return self.md5.hexdigest()
        return self.whole.hexdigest() if self.whole is not None else ""


@dataclass(slots=True)
class _Staged:
    """A manifest in a temp file, waiting to be renamed to ``final``."""

    mp: Mountpath
    tmp: str  # "" once renamed or removed
    final: str
    text: str  # the manifest's JSON (the index row keeps the same text)


def _discard(staged: list[_Staged]) -> None:
    for st in staged:
        if st.tmp:
            with contextlib.suppress(OSError):
                os.unlink(st.tmp)
            st.tmp = ""


def _nonzero(delta: Counter[str]) -> Counter[str]:
    return Counter({k: v for k, v in delta.items() if v})


__all__ = ["Store", "StoreConfig", "StoreCorruption", "open_store"]
