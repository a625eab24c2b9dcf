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

import fcntl
import functools
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from .buckets import BucketsMixin
from .chunks import ChunkStore, StoreCorruption
from .config import StoreConfig
from .files import DIR_MODE, FILE_MODE, read_file, replace_durably, unlink_durably
from .gc import GcMixin
from .index import Index
from .listing import ListingMixin
from .mountpaths import Mountpath, MountpathSet, open_mountpath
from .multipart import MultipartMixin
from .objects import ObjectsMixin
from .publish import PublishMixin
from .reader import ReaderMixin
from .reaper import Reaper
from .stats import StatsMixin
from .threads import _run
from .types import BucketInfo, FsckReport
from .writer import WriterMixin

if TYPE_CHECKING:
    from .admin import StoreAdmin

log = logging.getLogger(__name__)

DIRTY_MARKER = "dirty"
LOCK_FILE = "store.lock"
DB_FILE = "index.db"


@asynccontextmanager
async def open_store(config: StoreConfig) -> AsyncIterator[Store]:
    """Open the store (reconciling the index with the disks after an unclean stop)."""
    store = await _run(Store.open_sync, config)
    try:
        yield store
    finally:
        with trio.CancelScope(shield=True):
            await _run(store.close_sync)


class Store(
    BucketsMixin,
    PublishMixin,
    WriterMixin,
    ReaderMixin,
    ListingMixin,
    ObjectsMixin,
    MultipartMixin,
    GcMixin,
    StatsMixin,
):
    """The facade: open/close, generations and fsck here; the operations in the mixins
    (buckets.py, publish.py, writer.py, reader.py, listing.py, objects.py, multipart.py,
    gc.py, stats.py)."""

    config: StoreConfig
    index: Index
    mps: MountpathSet
    chunks: ChunkStore

    def __init__(self, config: StoreConfig, index: Index, mps: MountpathSet, lock_fd: int):
        self.config = config
        self.index = index
        self.mps = mps
        self.chunks = ChunkStore(mps, config.fsync)
        self.reaper = Reaper()  # unlinks removed manifests off the request path
        self._lock_fd = lock_fd
        self._gen_lock = threading.Lock()
        self._last_gen = 0
        self.recovered = False  # True if this open followed an unclean stop
        self._closed = False
        # bucket records for get_bucket, without a thread hop; every change of the buckets
        # table goes through this Store and bumps the epoch (a read that raced one is not
        # kept). Commits still check the bucket in the index under the writer lock.
        # set by the server: True while the caller's request is the only one in flight
        # (threads._run_short); by default never, so every step goes to a thread
        self.uncontended: Callable[[], bool] = _never
        self._buckets: dict[str, BucketInfo] = {}
        self._buckets_epoch = 0
        self._buckets_lock = threading.Lock()

    # == open / close ====================================================================

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
        self.reaper.close()
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

    # == fsck ============================================================================

    def fsck_sync(self, rebuild: bool, check_chunks: bool = True) -> FsckReport:
        from .fsck import run_fsck

        try:
            return run_fsck(self, rebuild=rebuild, check_chunks=check_chunks)
        finally:
            self._buckets_changed()

    async def fsck(self, rebuild: bool = False) -> FsckReport:
        """Compare the index with the manifests on disk; with ``rebuild``, rebuild it."""
        return await _run(self.fsck_sync, rebuild)

    def read_json(self, path: str) -> dict[str, Any] | None:
        try:
            return json.loads(read_file(path))
        except (OSError, ValueError) as e:
            log.warning("unreadable record %s: %s", path, e)
            return None


def _never() -> bool:
    return False


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
