"""open_store(): the node's one facade over chunks, manifests and the index.

``Store`` opens and closes the store and builds its parts, each a small object given its
collaborators explicitly; every operation is delegated to one of them:

    Buckets    buckets.py    bucket records, the get_bucket cache, mirror.copies
    Publisher  publish.py    manifests staged / installed / removed, the index commit
    Writer     writer.py     the PUT pipeline (put_object; parts reuse it)
    Reader     reader.py     head_object, read_object
    Lister     listing.py    list_objects
    Objects    objects.py    delete, copy, rename, metadata updates
    Multipart  multipart.py  uploads and parts
    StoreAdmin admin.py      mountpath lifecycle, resilver and scrub jobs

Every blocking step (file I/O, hashing, SQLite) runs in a worker thread (threads.py), one
hand-off per chunk or per commit. Mutations of the index happen under ``Index.wlock`` in
one thread call that also checks preconditions and writes the manifest files, so a check
and the commit it guards are atomic.

Publication order (see docs/store.md): chunks durable (files and their directories
fsynced) -> manifest files (temp, fsync, rename, fsync dir) -> index commit (with the
chunk refcount changes) -> return. Delete: manifest files removed -> index commit.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from ..errors import S3Error
from .admin import StoreAdmin, effective_mountpaths
from .buckets import Buckets
from .chunks import ChunkStore, StoreCorruption
from .config import StoreConfig
from .core import StoreCore
from .files import DIR_MODE, FILE_MODE, read_json, replace_durably, unlink_durably
from .fsck import run_fsck
from .gc import collect_garbage
from .generations import Generations
from .index import Index
from .journal import boot_id
from .listing import Lister
from .manifests import inline_copy
from .mountpath import Mountpath, open_mountpath
from .mountpaths import MountpathSet
from .multipart import Multipart
from .objects import Objects
from .publish import Publisher, RemovalGuard
from .reader import Reader
from .reaper import Reaper
from .reconcile import ReconcileReport, reconcile
from .shelf import close_shelves
from .stats import store_stats
from .threads import ShortSteps, run_sync
from .types import (
    BucketInfo,
    DeleteOutcome,
    FsckReport,
    ListPage,
    ObjectInfo,
    ObjectMeta,
    PartInfo,
    UploadInfo,
    VersionPage,
    WriteResult,
)
from .version_listing import VersionLister
from .versions import Versions, versioning
from .writer import RemoteCopy, Writer

log = logging.getLogger(__name__)

DIRTY_MARKER = "dirty"
LOCK_FILE = "store.lock"
DB_FILE = "index.db"


@asynccontextmanager
async def open_store(config: StoreConfig, read_only: bool = False) -> AsyncIterator[Store]:
    """Open the store (reconciling the index with the disks after an unclean stop);
    ``read_only``: a running node's, for a read worker (``Store.open_read_only_sync``)."""
    store = await run_sync(Store.open_read_only_sync if read_only else Store.open_sync, config)
    try:
        yield store
    finally:
        with trio.CancelScope(shield=True):
            await run_sync(store.close_sync)


class Store:
    """The facade: open/close and fsck here; every operation delegated to a part."""

    def __init__(self, config: StoreConfig, index: Index, mps: MountpathSet, lock_fd: int):
        self.config = config
        self.index = index
        self.mps = mps
        self.chunks = ChunkStore(mps, config.fsync)
        self.reaper = Reaper()  # unlinks removed manifests off the request path
        self._lock_fd = lock_fd
        self.recovered = False  # True if this open followed an unclean stop
        self.reconciled = ReconcileReport()  # what the open reconciled (reconcile.py)
        self._closed = False
        self.generations = Generations()
        self.short_steps = ShortSteps(index.wlock, config)
        self.buckets = Buckets(config, index, mps)
        self.publisher = Publisher(config, index, mps, self.chunks, self.reaper)
        self.versions = Versions(index, self.buckets, self.publisher, self.generations)
        self.writer = Writer(
            config, index, self.chunks, self.buckets, self.publisher, self.generations,
            self.short_steps, self.versions,
        )
        self.reader = Reader(index, mps, self.chunks, self.buckets)
        self.lister = Lister(index, self.buckets)
        self.version_lister = VersionLister(index, self.buckets)
        self.objects = Objects(
            index, self.buckets, self.publisher, self.generations, self.short_steps,
            self.versions,
        )
        self.multipart = Multipart(
            config, index, mps, self.chunks, self.buckets, self.publisher, self.writer,
            self.generations,
        )
        self.core = StoreCore(config, index, mps, self.chunks, self.buckets)
        self.admin = StoreAdmin(self.core)  # mountpath lifecycle, resilver, scrub

    @property
    def version_removal_guard(self) -> RemovalGuard | None:
        """Object lock's veto on removing a version for good: called with (bucket, key,
        version id, lock JSON or None) by every path that removes or replaces a version
        (a DELETE of a version, a delete in an unversioned bucket, an overwrite of the null
        version, DeleteObjects, lifecycle, the native API, the mount, a rename's
        replaced destination); it raises (an S3Error) to refuse. GC removes chunks that
        no version references only, never a version."""
        return self.publisher.removal_guard

    @version_removal_guard.setter
    def version_removal_guard(self, guard: RemovalGuard | None) -> None:
        self.publisher.removal_guard = guard

    @property
    def uncontended(self) -> Callable[[], bool]:
        """Set by the server: True while the caller's request is the only one in flight
        (short steps run on the event loop then, threads.ShortSteps); by default never."""
        return self.short_steps.uncontended

    @uncontended.setter
    def uncontended(self, fn: Callable[[], bool]) -> None:
        self.short_steps.uncontended = fn

    # == open / close ====================================================================

    # long: the open sequence in its order - lock, index, mountpaths, then recovery (rebuild
    # or reconcile), dirty marker, generation mark; each step's cleanup needs the ones before
    @classmethod
    def open_sync(cls, config: StoreConfig) -> Store:
        config.index_dir.mkdir(0o700, parents=True, exist_ok=True)
        lock_fd = os.open(config.index_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise RuntimeError(f"store index {config.index_dir} is in use") from None
        try:
            db = config.index_dir / DB_FILE
            fresh = not db.exists()
            _private_index(config.index_dir, fresh)
            index = Index(db)
            known = dict(index.w.execute("SELECT path, uuid FROM mountpaths").fetchall())
            mps: list[Mountpath] = []
            for p in effective_mountpaths(config):  # config + added - detached at run time
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
            marker = _read_marker(dirty)
            if fresh or (marker is not None and marker.get("boot_id") != boot_id()):
                # a new index, or a machine crash (another boot, or a marker from before
                # boot ids): commits not yet synced (synchronous=NORMAL) may be lost, so the
                # journal cannot be trusted: rebuild from the disks
                if not fresh:
                    log.warning("unclean stop of an earlier boot: rebuilding the index "
                                "from the disks")
                store.recovered = not fresh
                store.fsck_sync(rebuild=True, check_chunks=False)
                index.journal.clear()
            else:
                # a clean stop, or a process crash (same boot: the WAL and the journal
                # are in the page cache): the index holds every committed change; only
                # the names journaled by the change in flight are reconciled
                store.recovered = marker is not None
                store.reconciled = reconcile(store.core, crashed=marker is not None)
                if store.reconciled.entries:
                    log.warning(
                        "%s: %d journaled names reconciled (%d manifests read, %d objects "
                        "fixed)", "unclean stop" if marker is not None else "open",
                        store.reconciled.entries, store.reconciled.manifests_read,
                        store.reconciled.objects_fixed,
                    )
            replace_durably(
                str(config.index_dir / f"{DIRTY_MARKER}.tmp"),
                str(dirty),
                json.dumps({"pid": os.getpid(), "boot_id": boot_id()}).encode(),
                config.fsync,
            )
            hw = index.generation_hw
            if hw is None:  # an index from before the mark: one scan, then the mark
                row = index.w.execute("SELECT max(generation) FROM objects").fetchone()
                hw = int(row[0] or 0)
                with index.wlock:
                    index.begin()
                    index.note_generation(hw)
                    index.commit()
            store.generations.reset(hw)
        except BaseException:
            index.close(checkpoint=False)
            os.close(lock_fd)
            raise
        store.admin.restore()  # recorded mountpath states (admin.py)
        return store

    @classmethod
    def open_read_only_sync(cls, config: StoreConfig) -> Store:
        """The store of a running node, for one of its read workers (aisfs_node/workers.py):
        no lock, no reconcile, no marker, no writes of any kind (the index connections are
        query_only, a bad chunk copy is not repaired); the node's process owns all that."""
        index = Index(config.index_dir / DB_FILE, read_only=True)
        try:
            known = dict(index.rows("SELECT path, uuid FROM mountpaths"))
            mps = [Mountpath(path=Path(p), uuid=known[str(p)])
                   for p in effective_mountpaths(config)
                   if str(p) in known and os.path.isdir(p)]
            if not mps:
                raise OSError(f"no usable mountpath among {config.mountpaths}")
            store = cls(config, index, MountpathSet(mps, config.weight_refresh_seconds), -1)
        except BaseException:
            index.close()
            raise
        store.chunks.read_only = True
        return store

    def close_sync(self) -> None:
        if self._closed:
            return
        self._closed = True
        roots = [mp.root for mp in self.mps.all]
        if self.index.read_only:
            self.index.close()
            close_shelves(roots)
            return
        self.admin.close()  # resilver/scrub threads stop before the index closes
        self.reaper.close()
        self.index.close()
        close_shelves(roots)
        unlink_durably(str(self.config.index_dir / DIRTY_MARKER), self.config.fsync)
        os.close(self._lock_fd)

    # == fsck, gc, stats =================================================================

    def fsck_sync(self, rebuild: bool, check_chunks: bool = True) -> FsckReport:
        try:
            return run_fsck(self.core, rebuild=rebuild, check_chunks=check_chunks)
        finally:
            self.buckets.changed()

    async def fsck(self, rebuild: bool = False) -> FsckReport:
        """Compare the index with the manifests on disk; with ``rebuild``, rebuild it."""
        return await run_sync(self.fsck_sync, rebuild)

    def gc_sync(self) -> int:
        return collect_garbage(self.index, self.mps, self.chunks, self.config.gc_grace_seconds)

    async def gc(self) -> int:
        """Remove orphan chunk files (and stale temp files); the number of chunks removed."""
        return await run_sync(self.gc_sync)

    def stats_sync(self) -> dict[str, Any]:
        return store_stats(self.index, self.mps)

    async def stats(self) -> dict[str, Any]:
        return await run_sync(self.stats_sync)

    def read_json(self, path: str) -> dict[str, Any] | None:
        return read_json(path)

    # == buckets =========================================================================

    async def create_bucket(self, name: str, props: dict[str, Any] | None = None) -> BucketInfo:
        return await self.buckets.create(name, props)

    async def delete_bucket(self, name: str) -> None:
        await self.buckets.delete(name)

    async def get_bucket(self, name: str) -> BucketInfo:
        return await self.buckets.get(name)

    async def list_buckets(self) -> list[BucketInfo]:
        return await self.buckets.list_all()

    async def update_bucket_props(self, name: str, patch: dict[str, Any]) -> BucketInfo:
        info = await self.buckets.update(name, patch)
        if "mirror.copies" in patch:  # existing objects get the new number of copies
            self.admin.request_resilver([name], reason=f"mirror.copies of {name}")
        return info

    # == objects =========================================================================

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
        """Stream ``body`` into the store and publish it as ``bucket/key`` (writer.py);
        ``remote``: the copy of a backend's object (``writer.RemoteCopy``)."""
        return await self.writer.put_object(
            bucket, key, body, meta, content_md5=content_md5, expected_size=expected_size,
            hashers=hashers, before_commit=before_commit, if_match=if_match,
            if_none_match=if_none_match, remote=remote,
        )

    async def head_object(self, bucket: str, key: str, *, with_data: bool = False) -> ObjectInfo:
        """The object's record; ``with_data``: a small object's bytes too (reader.py)."""
        return await self.reader.head_object(bucket, key, with_data=with_data)

    def read_object(
        self, info: ObjectInfo, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """Bytes ``start..end`` (inclusive) of ``info``, verified (reader.py)."""
        return self.reader.read_object(info, start, end)

    def inline_from_disk(self, bucket: str, key: str, generation: int) -> ObjectInfo | None:
        """A manifest copy of this inline object (same generation) whose bytes verify."""
        return inline_copy(self.mps, bucket, key, generation)

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
        return await self.lister.list_objects(
            bucket, prefix=prefix, delimiter=delimiter, start_after=start_after,
            max_keys=max_keys, with_extra=with_extra,
        )

    async def delete_object(
        self, bucket: str, key: str, version_id: str | None = None
    ) -> DeleteOutcome | None:
        """Delete ``bucket/key``: in an unversioned bucket the object (NoSuchKey if none;
        None returned); in a versioned one a delete marker is made (versions.py). With
        ``version_id``, that version is removed for good (nothing if there is none)."""
        if version_id is None:
            binfo = await self.buckets.get(bucket)
            if versioning(binfo.props) is None:
                await self.objects.delete_object(bucket, key)
                return None
        elif version_id == "null":
            binfo = await self.buckets.get(bucket)
            if versioning(binfo.props) is None:
                try:
                    await self.objects.delete_object(bucket, key)
                except S3Error as e:
                    if e.code != "NoSuchKey":
                        raise
                return DeleteOutcome("null", False)
        out, dropped = await run_sync(self.versions.delete_sync, bucket, key, version_id)
        if dropped:
            with trio.CancelScope(shield=True):
                await run_sync(self.publisher.drop_chunks, dropped)
        return out

    async def head_version(
        self, bucket: str, key: str, version_id: str, *, with_data: bool = False
    ) -> ObjectInfo:
        """One version's record (``delete_marker`` for a delete marker); NoSuchVersion."""
        return await self.reader.head_version(bucket, key, version_id, with_data=with_data)

    async def latest_delete_marker(self, bucket: str, key: str) -> str | None:
        """The id of the delete marker that is ``key``'s newest version, if it is one."""
        return await run_sync(self.versions.latest_marker_sync, bucket, key)

    async def list_versions(
        self, bucket: str, *, prefix: str = "", delimiter: str = "", key_marker: str = "",
        version_id_marker: str = "", max_keys: int = 1000,
    ) -> VersionPage:
        """A page of versions and delete markers, by key, newest first (version_listing)."""
        return await self.version_lister.list_versions(
            bucket, prefix=prefix, delimiter=delimiter, key_marker=key_marker,
            version_id_marker=version_id_marker, max_keys=max_keys,
        )

    async def get_version_lock(
        self, bucket: str, key: str, version_id: str | None
    ) -> str | None:
        """A version's object-lock JSON (``version_id`` None: the current's); None if it
        has none. NoSuchKey / NoSuchVersion."""
        return await run_sync(self.versions.get_lock_sync, bucket, key, version_id)

    async def set_version_lock(
        self, bucket: str, key: str, version_id: str | None, lock_json: str | None
    ) -> None:
        """Record a version's object-lock JSON (None: clear it), in its manifest and its
        index row; the semantics (who may change what) are the caller's."""
        await run_sync(self.versions.set_lock_sync, bucket, key, version_id, lock_json)

    async def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        meta: ObjectMeta | None = None,
        src_version: str | None = None,
    ) -> ObjectInfo:
        """A new manifest sharing the source's chunks (no data is copied); the source is
        the current object or its version ``src_version``."""
        return await self.objects.copy_object(
            src_bucket, src_key, dst_bucket, dst_key, meta, src_version
        )

    async def update_object_meta(
        self, bucket: str, key: str, update: Callable[[ObjectMeta], None]
    ) -> ObjectInfo:
        """Change the current object's metadata in place, under the index write lock (as
        ``update_version_meta``: its lock and ACL rows kept)."""
        return await self.update_version_meta(bucket, key, None, update)

    async def update_version_meta(
        self, bucket: str, key: str, version_id: str | None,
        update: Callable[[ObjectMeta], None],
    ) -> ObjectInfo:
        """Change one version's metadata (its tags) under the index write lock
        (``version_id`` None: the current); its lock and ACL are kept (versions.py).
        NoSuchKey / NoSuchVersion; a delete marker: 405 MethodNotAllowed."""
        return await run_sync(self.versions.update_meta_sync, bucket, key, version_id, update)

    async def rename_object(self, bucket: str, src_key: str, dst_key: str) -> ObjectInfo:
        """Move ``src_key`` to ``dst_key`` (replacing it), metadata only, one transaction."""
        return await self.objects.rename_object(bucket, src_key, dst_key)

    async def rename_prefix(self, bucket: str, src_prefix: str, dst_prefix: str) -> int:
        """Rename every key under ``src_prefix``; existing destinations are replaced."""
        return await self.objects.rename_prefix(bucket, src_prefix, dst_prefix)

    # == multipart =======================================================================

    async def create_upload(self, bucket: str, key: str, meta: ObjectMeta) -> UploadInfo:
        return await self.multipart.create_upload(bucket, key, meta)

    async def get_upload(self, upload_id: str, bucket: str, key: str) -> UploadInfo:
        return await self.multipart.get_upload(upload_id, bucket, key)

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
        return await self.multipart.put_part(
            upload_id, bucket, key, part_number, body, content_md5=content_md5,
            expected_size=expected_size, hashers=hashers, before_commit=before_commit,
        )

    async def list_parts(self, upload_id: str, bucket: str, key: str) -> list[PartInfo]:
        return await self.multipart.list_parts(upload_id, bucket, key)

    async def list_uploads(self, bucket: str) -> list[UploadInfo]:
        return await self.multipart.list_uploads(bucket)

    async def abort_upload(self, upload_id: str, bucket: str, key: str) -> None:
        await self.multipart.abort_upload(upload_id, bucket, key)

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
        return await self.multipart.complete_upload(
            upload_id, bucket, key, parts, if_match=if_match, if_none_match=if_none_match
        )

    async def reclaim_uploads(self, older_than_seconds: float) -> int:
        return await self.multipart.reclaim_uploads(older_than_seconds)


def _read_marker(path: Path) -> dict[str, Any] | None:
    """The dirty marker's record ({"pid", "boot_id"}); {} for an older (pid only) or torn
    one; None when there is none (the last stop was clean)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        d = json.loads(data)
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}


def _private_index(index_dir: Path, fresh: bool) -> None:
    """The index directory 0700 and its database 0600, whatever the umask: a new database
    is created empty 0600 here before SQLite opens it (its -wal and -shm files take the
    database's mode); an older one, and its lock file, are tightened."""
    os.chmod(index_dir, DIR_MODE)
    db = index_dir / DB_FILE
    if fresh:
        os.close(os.open(db, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    for path in (db, index_dir / f"{DB_FILE}-wal", index_dir / f"{DB_FILE}-shm",
                 index_dir / LOCK_FILE):
        try:
            if os.stat(path).st_mode & 0o077:
                os.chmod(path, FILE_MODE)
        except FileNotFoundError:
            pass


__all__ = ["Store", "StoreConfig", "StoreCorruption", "open_store"]
