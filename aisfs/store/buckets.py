"""Bucket records: the index rows, their files on every live mountpath, the cache
for ``get_bucket`` and the bucket's number of copies."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from typing import Any

from ..errors import S3Error
from . import layout
from .chunks import ChunkStore
from .config import StoreConfig
from .files import replace_durably, unlink_durably
from .index import Index
from .manifest import dumps, encode
from .mountpaths import MountpathSet
from .threads import _run
from .types import BucketInfo

log = logging.getLogger(__name__)


class BucketsMixin:
    """Buckets, mixed into ``Store`` (store.py), which holds the cache state."""

    config: StoreConfig
    index: Index
    mps: MountpathSet
    chunks: ChunkStore
    # the cache for get_bucket (set up in Store.__init__)
    _buckets: dict[str, BucketInfo]
    _buckets_epoch: int
    _buckets_lock: threading.Lock

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

    def _bucket_locked(self, name: str) -> BucketInfo:
        """``_bucket_sync`` for a caller holding ``index.wlock``, from the ``get_bucket``
        cache when it has the bucket: every bucket change clears that cache under the same
        lock once committed, so an entry present now is the committed record. Read only."""
        info = self._buckets.get(name)
        return info if info is not None else self._bucket_sync(name, self.index.w)

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
