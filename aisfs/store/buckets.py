"""Bucket records: the index rows, their files on every live mountpath, the cache
for ``get_bucket`` and the bucket's number of copies."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from typing import Any

from ..errors import S3Error
from . import layout
from .config import StoreConfig
from .files import replace_durably, unlink_durably
from .index import Index
from .manifest import dumps, encode
from .mountpaths import MountpathSet
from .threads import run_sync
from .types import BucketInfo

log = logging.getLogger(__name__)


MISSING = 1024  # names remembered as missing (a bound: any name may be asked for)


class Buckets:
    """Bucket records and the cache that answers ``get`` without a thread hop.

    Every change of the buckets table goes through here and bumps the epoch (a read that
    raced one is not kept). Commits still check the bucket in the index under the writer
    lock (``get_locked``)."""

    def __init__(self, config: StoreConfig, index: Index, mps: MountpathSet) -> None:
        self.config = config
        self.index = index
        self.mps = mps
        self._cache: dict[str, BucketInfo] = {}
        # names found missing (an S3 request names an s3:// bucket by its name: the
        # ais:// one of that name is looked up first on every request), at most MISSING
        self._missing: set[str] = set()
        self._epoch = 0
        self._lock = threading.Lock()

    def copies(self, props: dict[str, Any]) -> int:
        try:
            return max(1, int(props.get("mirror.copies", self.config.default_copies)))
        except (TypeError, ValueError):
            return max(1, self.config.default_copies)

    def get_sync(self, name: str, conn: sqlite3.Connection | None = None) -> BucketInfo:
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

    def get_locked(self, name: str) -> BucketInfo:
        """``get_sync`` for a caller holding ``index.wlock``, from the ``get_bucket``
        cache when it has the bucket: every bucket change clears that cache under the same
        lock once committed, so an entry present now is the committed record. Read only."""
        info = self._cache.get(name)
        return info if info is not None else self.get_sync(name, self.index.w)

    def write_files(self, info: BucketInfo) -> None:
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

    def changed(self) -> None:
        """Forget the cached records (after any change of the buckets table)."""
        with self._lock:
            self._epoch += 1
            self._cache.clear()
            self._missing.clear()

    def create_sync(self, name: str, props: dict[str, Any] | None) -> BucketInfo:
        with self.index.wlock:
            if self.index.w.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
                raise S3Error(
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded",
                    name,
                )
            info = BucketInfo(name, time.time_ns(), dict(props or {}))
            with self.index.journal.intent(buckets=[name]):
                self.write_files(info)
                self.index.w.execute(
                    "INSERT INTO buckets (name, created_ns, props) VALUES (?, ?, ?)",
                    (name, info.created_ns, dumps(info.props)),
                )
            self.changed()
            return info

    def delete_sync(self, name: str) -> None:
        with self.index.wlock:
            w = self.index.w
            if not w.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
                raise S3Error("NoSuchBucket", "The specified bucket does not exist", name)
            if w.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone() or (
                w.execute("SELECT 1 FROM uploads WHERE bucket = ? LIMIT 1", (name,)).fetchone()
            ) or (  # versions or delete markers left: not empty either (as S3)
                w.execute("SELECT 1 FROM versions WHERE bucket = ? LIMIT 1", (name,)).fetchone()
            ):
                raise S3Error("BucketNotEmpty", "The bucket you tried to delete is not empty", name)
            with self.index.journal.intent(buckets=[name]):
                for mp in self.mps.live():
                    with contextlib.suppress(OSError):
                        unlink_durably(layout.bucket_path(mp.root, name), self.config.fsync)
                w.execute("DELETE FROM buckets WHERE name = ?", (name,))
            self.changed()

    def update_sync(self, name: str, patch: dict[str, Any]) -> BucketInfo:
        with self.index.wlock:
            info = self.get_sync(name)
            props = dict(info.props)
            for k, v in patch.items():
                if v is None:
                    props.pop(k, None)
                else:
                    props[k] = v
            info = BucketInfo(name, info.created_ns, props)
            with self.index.journal.intent(buckets=[name]):
                self.write_files(info)
                self.index.w.execute(
                    "UPDATE buckets SET props = ? WHERE name = ?", (dumps(props), name)
                )
            self.changed()
            return info

    async def create(self, name: str, props: dict[str, Any] | None = None) -> BucketInfo:
        return await run_sync(self.create_sync, name, props)

    async def delete(self, name: str) -> None:
        await run_sync(self.delete_sync, name)

    async def get(self, name: str) -> BucketInfo:
        info = self._cache.get(name)
        if info is None:
            if name in self._missing:
                raise S3Error("NoSuchBucket", "The specified bucket does not exist", name)
            info = await run_sync(self.load, name)
        return BucketInfo(info.name, info.created_ns, dict(info.props))

    def load(self, name: str) -> BucketInfo:
        """(Any thread.) The cached record, else the record read and cached - a missing
        bucket remembered as missing - unless the buckets changed meanwhile. The record
        itself, not a copy: read only."""
        info = self._cache.get(name)
        if info is not None:
            return info
        epoch = self._epoch
        try:
            info = self.get_sync(name)
        except S3Error as e:
            if e.code == "NoSuchBucket":
                with self._lock:
                    if epoch == self._epoch:
                        if len(self._missing) >= MISSING:
                            self._missing.clear()
                        self._missing.add(name)
            raise
        with self._lock:
            if epoch == self._epoch:
                self._cache[name] = info
        return info

    async def list_all(self) -> list[BucketInfo]:
        rows = await run_sync(
            self.index.rows, "SELECT name, created_ns, props FROM buckets ORDER BY name"
        )
        return [BucketInfo(r[0], int(r[1]), json.loads(r[2])) for r in rows]

    async def update(self, name: str, patch: dict[str, Any]) -> BucketInfo:
        """Patch the props (a None value removes the key); the caller resilvers when
        ``mirror.copies`` changed."""
        return await run_sync(self.update_sync, name, patch)
