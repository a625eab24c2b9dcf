"""Bucket versioning: the versions a key keeps, its delete markers, and the one guard on
removing a version for good.

A key's current version is its ``objects`` row and its manifest ``<n>.json``, exactly as
in an unversioned bucket (GET, HEAD, listings and the mount read nothing else). Its other
versions and its delete markers are ``versions`` rows and version files ``<n>~<id>.json``
(version_files.py). A bucket's state is its prop ``versioning.status``: absent (never
enabled: every object is the null version, nothing is kept), ``Enabled`` (a write or a
delete keeps the current as a version, each new version gets an id) or ``Suspended`` (new
versions are the null version, which replaces the null version kept before).

Invariant: a key's newest version is its current object when it is data; a delete marker
is always a ``versions`` row (a key whose newest version is a marker has no current).

A version costs its manifest alone: an overwrite links the current manifest to its
version name (no byte copied) and its chunks stay referenced (``chunks.refs`` counts every
version's), so GC frees a chunk only when no version names it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import S3Error
from . import acls
from . import version_files as vf
from .buckets import Buckets
from .files import fsync_dir
from .generations import Generations
from .index import INSERT_OBJECT, INSERT_VERSION, Index, object_row, version_row
from .inline_cache import cache_for
from .journal import crash_point
from .manifest import index_text, info_from_json
from .manifests import load_inline
from .publish import Publisher
from .types import DeleteOutcome, ObjectInfo, ObjectMeta

VERSIONING = "versioning.status"
_VID = re.compile(r"[0-9a-f]{32}")


def versioning(props: dict[str, Any]) -> str | None:
    """A bucket's versioning state: ``Enabled``, ``Suspended`` or None (never enabled)."""
    status = props.get(VERSIONING)
    return status if status in ("Enabled", "Suspended") else None


def new_version_id(generation: int) -> str:
    """A version id: 32 hex digits, the first 16 the write's generation (time-ordered)."""
    return f"{generation:016x}{os.urandom(8).hex()}"


def valid_version_id(value: str) -> bool:
    """``null`` or an id this store makes (anything else is InvalidArgument to S3)."""
    return value == "null" or _VID.fullmatch(value) is not None


def version_id_for(props: dict[str, Any], generation: int) -> str | None:
    """The version id of a new write into a bucket with ``props`` (None: the null one)."""
    return new_version_id(generation) if versioning(props) == "Enabled" else None


def no_such_version(key: str, version_id: str) -> S3Error:
    return S3Error(
        "NoSuchVersion", "The specified version does not exist.", key, status=404,
        extra={"Key": key, "VersionId": version_id},
    )


@dataclass(slots=True)
class _Current:
    manifest: str
    version_id: str | None
    lock: str | None


@dataclass(slots=True)
class _Row:
    seq: int
    version_id: str
    is_marker: bool
    manifest: str
    lock: str | None


def _chunk_ids(manifest: str) -> list[str]:
    return [c[0] for c in json.loads(manifest).get("chunks") or []]


class Keep:
    """What an overwrite in a versioned bucket does beside publishing the new current:
    the current kept as a version (``prepare`` links its manifest, ``in_tx`` moves its row
    and keeps its chunks referenced) and, for a new null version, the null version kept
    before removed for good."""

    def __init__(self, versions: Versions, bucket: str, key: str,
                 kept: _Current | None, dropped: _Row | None) -> None:
        self.versions = versions
        self.bucket = bucket
        self.key = key
        self.kept = kept
        self.dropped = dropped

    def prepare(self, dirs: set[str]) -> None:
        mps = self.versions.publisher.mps
        if self.dropped is not None:
            vf.remove_version(mps, self.versions.publisher.reaper, self.bucket, self.key,
                              "null", dirs)
        if self.kept is not None:
            vf.keep_current(mps, self.bucket, self.key, self.kept.version_id or "null", dirs,
                            self.versions.publisher.config.fsync)

    def in_tx(self) -> Counter[str]:
        w = self.versions.index.w
        delta: Counter[str] = Counter()
        if self.dropped is not None:
            w.execute("DELETE FROM versions WHERE bucket = ? AND key = ? AND seq = ?",
                      (self.bucket, self.key, self.dropped.seq))
            delta.subtract(_chunk_ids(self.dropped.manifest))
        if self.kept is not None:
            info = info_from_json(json.loads(self.kept.manifest))
            w.execute(INSERT_VERSION, version_row(info, self.kept.manifest))
            delta.update(c.id for c in info.chunks)  # publish released them: kept
        return delta


class Versions:
    """Versioned writes' bookkeeping, deletes in versioned buckets, reads of a version,
    object-lock state per version."""

    def __init__(self, index: Index, buckets: Buckets, publisher: Publisher,
                 generations: Generations) -> None:
        self.index = index
        self.buckets = buckets
        self.publisher = publisher
        self.generations = generations
        self.cache = cache_for(index)

    # -- rows (caller holds the writer lock) ------------------------------------------

    def _current(self, bucket: str, key: str) -> _Current | None:
        row = self.index.w.execute(
            "SELECT manifest, version_id, lock FROM objects WHERE bucket = ? AND key = ?",
            (bucket, key),
        ).fetchone()
        return None if row is None else _Current(row[0], row[1], row[2])

    def _version(self, bucket: str, key: str, version_id: str) -> _Row | None:
        row = self.index.w.execute(
            "SELECT seq, version_id, is_marker, manifest, lock FROM versions "
            "WHERE bucket = ? AND key = ? AND version_id = ?", (bucket, key, version_id),
        ).fetchone()
        return None if row is None else _Row(row[0], row[1], bool(row[2]), row[3], row[4])

    def _newest(self, bucket: str, key: str) -> _Row | None:
        row = self.index.w.execute(
            "SELECT seq, version_id, is_marker, manifest, lock FROM versions "
            "WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1", (bucket, key),
        ).fetchone()
        return None if row is None else _Row(row[0], row[1], bool(row[2]), row[3], row[4])

    # -- overwrites (PUT, copy, complete) ---------------------------------------------

    def plan(self, props: dict[str, Any], bucket: str, key: str, new_version: str | None,
             current: _Current | None = None, read: bool = True) -> Keep | None:
        """Under the writer lock, before an overwrite of ``bucket/key`` publishes a new
        current of id ``new_version``: every version it removes for good past the guard;
        what it keeps (``Keep``), None when nothing. ``read``: the current row is read
        here (else ``current`` is it)."""
        if read:
            current = self._current(bucket, key)
        status = versioning(props)
        if status is None:
            if current is not None:
                self.publisher.check_removal(bucket, key, current.version_id, current.lock)
            return None
        kept: _Current | None = None
        if current is not None:
            if new_version is None and current.version_id is None:
                self.publisher.check_removal(bucket, key, None, current.lock)
            else:
                kept = current
        dropped: _Row | None = None
        if new_version is None:
            dropped = self._version(bucket, key, "null")
            if dropped is not None:
                self.publisher.check_removal(bucket, key, "null", dropped.lock)
        if kept is None and dropped is None:
            return None
        return Keep(self, bucket, key, kept, dropped)

    def current_of(self, row: tuple[Any, ...] | None) -> _Current | None:
        """A row ``(manifest, version_id, lock)`` read by the caller under the lock."""
        return None if row is None else _Current(row[0], row[1], row[2])

    # -- deletes ----------------------------------------------------------------------

    def delete_sync(
        self, bucket: str, key: str, version_id: str | None
    ) -> tuple[DeleteOutcome, list[str]]:
        """A DELETE in a versioned bucket (``version_id`` None: a delete marker is made)
        or of one version in any bucket; durable on return. The outcome and the chunk ids
        whose refcount hit 0."""
        dirs: set[str] = set()
        with self.index.wlock:
            binfo = self.buckets.get_locked(bucket)
            status = versioning(binfo.props)
            current = self._current(bucket, key)
            with self.index.journal.intent(objects=[(bucket, key)]):
                crash_point("journaled")
                if version_id is None:
                    if status is None:
                        raise ValueError("a delete marker in an unversioned bucket")
                    out, dropped = self._mark(binfo.props, status, bucket, key, current, dirs)
                else:
                    out, dropped = self._remove(bucket, key, version_id, current, dirs)
            self.cache.forget(bucket, key)
        if self.publisher.config.fsync:
            for d in sorted(dirs):
                fsync_dir(d)
        return out, dropped

    def _mark(self, props: dict[str, Any], status: str, bucket: str, key: str,
              current: _Current | None, dirs: set[str]) -> tuple[DeleteOutcome, list[str]]:
        """A delete marker becomes the key's newest version; the current is kept as a
        version, or (the null version, Suspended) removed for good, as is a null version
        kept before."""
        generation = self.generations.next()
        vid = new_version_id(generation) if status == "Enabled" else None
        keep = self.plan(props, bucket, key, vid, current, read=False)
        marker = ObjectInfo(
            bucket=bucket, key=key, size=0, etag="", mtime_ns=time.time_ns(),
            generation=generation, meta=ObjectMeta(), chunks=[], version_id=vid,
            delete_marker=True,
        )
        mps = self.publisher.mps
        if keep is not None:
            keep.prepare(dirs)
        copies = self.buckets.copies(self.buckets.get_locked(bucket).props)
        vf.write_version(self.publisher.config, mps, marker, copies, dirs)
        if current is not None:
            self.publisher.remove_manifest(bucket, key, dirs)
        crash_point("installed")
        w = self.index.w
        with self.index.transaction():
            delta: Counter[str] = Counter()
            if current is not None:
                w.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
                delta.subtract(_chunk_ids(current.manifest))
            if keep is not None:
                delta.update(keep.in_tx())
            w.execute(INSERT_VERSION, version_row(marker, index_text(marker)))
            self.index.note_generation(generation)
            dropped = self.index.apply_refs(Counter({k: v for k, v in delta.items() if v}), {})
        crash_point("committed")
        if current is not None:  # (the change feed: the current is gone)
            self.publisher.note_changes([], [(bucket, key)])
        return DeleteOutcome(vid or "null", True), dropped

    def _remove(self, bucket: str, key: str, version_id: str, current: _Current | None,
                dirs: set[str]) -> tuple[DeleteOutcome, list[str]]:
        """One version removed for good; when it was the newest, the next newest becomes
        current (a data version) or stays the newest (a delete marker)."""
        mps, reaper = self.publisher.mps, self.publisher.reaper
        w = self.index.w
        delta: Counter[str] = Counter()
        if current is not None and (current.version_id or "null") == version_id:
            self.publisher.check_removal(bucket, key, current.version_id, current.lock)
            gone_manifest, was_marker, was_latest = current.manifest, False, True
            removed_row: _Row | None = None
        else:
            removed_row = self._version(bucket, key, version_id)
            if removed_row is None:
                return DeleteOutcome(version_id, False), []  # as S3: nothing to remove
            self.publisher.check_removal(bucket, key, version_id, removed_row.lock)
            newest = self._newest(bucket, key)
            gone_manifest, was_marker = removed_row.manifest, removed_row.is_marker
            was_latest = current is None and newest is not None and newest.seq == removed_row.seq
            vf.remove_version(mps, reaper, bucket, key, version_id, dirs)
        after = None
        if was_latest:
            after = self._newest(bucket, key) if removed_row is None else self._next(
                bucket, key, removed_row.seq)
            if after is not None and not after.is_marker:
                vf.promote(mps, reaper, bucket, key, after.version_id, dirs,
                           self.publisher.config.fsync)
            elif removed_row is None:
                self.publisher.remove_manifest(bucket, key, dirs)
        crash_point("installed")
        with self.index.transaction():
            if removed_row is None:
                w.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
            else:
                w.execute("DELETE FROM versions WHERE bucket = ? AND key = ? AND seq = ?",
                          (bucket, key, removed_row.seq))
            delta.subtract(_chunk_ids(gone_manifest))
            if after is not None and not after.is_marker:
                w.execute("DELETE FROM versions WHERE bucket = ? AND key = ? AND seq = ?",
                          (bucket, key, after.seq))
                info = info_from_json(json.loads(after.manifest))
                w.execute(INSERT_OBJECT, object_row(info, after.manifest))
            dropped = self.index.apply_refs(Counter({k: v for k, v in delta.items() if v}), {})
        crash_point("committed")
        if removed_row is None or after is not None and not after.is_marker:
            # (the change feed: the current removed, or a version promoted to current)
            promoted = [info] if after is not None and not after.is_marker else []
            self.publisher.note_changes(promoted, [(bucket, key)])
        return DeleteOutcome(version_id, was_marker), dropped

    def _next(self, bucket: str, key: str, seq: int) -> _Row | None:
        row = self.index.w.execute(
            "SELECT seq, version_id, is_marker, manifest, lock FROM versions "
            "WHERE bucket = ? AND key = ? AND seq < ? ORDER BY seq DESC LIMIT 1",
            (bucket, key, seq),
        ).fetchone()
        return None if row is None else _Row(row[0], row[1], bool(row[2]), row[3], row[4])

    # -- reads ------------------------------------------------------------------------

    def record_sync(self, bucket: str, key: str, version_id: str) -> ObjectInfo | None:
        """The record of a non-current version or delete marker (None: not one: the
        caller looks at the current); NoSuchBucket if the bucket is gone."""
        row = self.index.row(
            "SELECT manifest FROM versions WHERE bucket = ? AND key = ? AND version_id = ?",
            (bucket, key, version_id),
        )
        if row is None:
            self.buckets.get_sync(bucket)
            return None
        return info_from_json(json.loads(row[0]))

    def latest_marker_sync(self, bucket: str, key: str) -> str | None:
        """The id of the delete marker that is ``key``'s newest version, if it has no
        current object and its newest version is a marker."""
        row = self.index.row(
            "SELECT version_id, is_marker FROM versions WHERE bucket = ? AND key = ? "
            "ORDER BY seq DESC LIMIT 1", (bucket, key),
        )
        if row is None or not row[1]:
            return None
        if self.index.row("SELECT 1 FROM objects WHERE bucket = ? AND key = ?", (bucket, key)):
            return None
        return str(row[0])

    def has_versions_sync(self, bucket: str) -> bool:
        return self.index.row("SELECT 1 FROM versions WHERE bucket = ? LIMIT 1",
                              (bucket,)) is not None

    # -- object lock state per version (the semantics are object_lock's) --------------

    def get_lock_sync(self, bucket: str, key: str, version_id: str | None) -> str | None:
        """The lock JSON of a version (``version_id`` None: the current), None if none;
        NoSuchKey / NoSuchVersion when there is no such version."""
        cur = self.index.row(
            "SELECT version_id, lock FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
        if cur is not None and (version_id is None or (cur[0] or "null") == version_id):
            return None if cur[1] is None else str(cur[1])
        if version_id is None:
            self.buckets.get_sync(bucket)
            raise S3Error("NoSuchKey", "The specified key does not exist.", key)
        row = self.index.row(
            "SELECT lock FROM versions WHERE bucket = ? AND key = ? AND version_id = ?",
            (bucket, key, version_id))
        if row is None:
            self.buckets.get_sync(bucket)
            raise no_such_version(key, version_id)
        return None if row[0] is None else str(row[0])

    def set_lock_sync(self, bucket: str, key: str, version_id: str | None,
                      lock: str | None) -> None:
        """Record a version's lock JSON (None: none) in its manifest and its row."""
        value = json.loads(lock) if lock else None

        def relock(info: ObjectInfo) -> None:
            info.lock = value

        self._change_sync(bucket, key, version_id, relock)

    def update_meta_sync(self, bucket: str, key: str, version_id: str | None,
                         update: Callable[[ObjectMeta], None]) -> ObjectInfo:
        """Change one version's metadata (S3's tags of a version) under the writer lock
        (``version_id`` None: the current); its lock and its ACL are kept. NoSuchKey /
        NoSuchVersion; a delete marker is 405 MethodNotAllowed. The changed record."""
        return self._change_sync(bucket, key, version_id, lambda info: update(info.meta))

    def _change_sync(self, bucket: str, key: str, version_id: str | None,
                     change: Callable[[ObjectInfo], None]) -> ObjectInfo:
        """A version's record changed by ``change``: the current (``version_id`` None or
        its id) republished as a new generation of the same version; a non-current one
        rewritten in place (``_rewrite_version``)."""
        with self.index.wlock:
            binfo = self.buckets.get_locked(bucket)
            current = self._current(bucket, key)
            if current is not None and (version_id is None
                                        or (current.version_id or "null") == version_id):
                return self._republish(bucket, key, binfo.props, current, change)
            if version_id is None:
                raise S3Error("NoSuchKey", "The specified key does not exist.", key)
            row = self._version(bucket, key, version_id)
            if row is None:
                raise no_such_version(key, version_id)
            if row.is_marker:
                raise S3Error("MethodNotAllowed",
                              "The specified method is not allowed against this resource.",
                              status=405, extra={"ResourceType": "DeleteMarker"})
            return self._rewrite_version(bucket, key, row, change)

    def _republish(self, bucket: str, key: str, props: dict[str, Any], current: _Current,
                   change: Callable[[ObjectInfo], None]) -> ObjectInfo:
        """The current object's record changed, published as a new generation of the same
        version; its ACL rows move to that generation in the same transaction
        (``acls.carry_in_tx``: the null version's row names its generation)."""
        info = info_from_json(json.loads(current.manifest))
        if info.inline_xxh3:
            self._load_inline(info)
        change(info)
        old, info.generation = info.generation, self.generations.next()
        rows = acls.of(self.index)  # its tables exist before the transaction

        def carry() -> Counter[str]:
            rows.carry_in_tx(bucket, key, info.version_id or "null", old, info.generation)
            return Counter()

        self.publisher.publish([info], [], self.buckets.copies(props), in_tx=carry,
                               guarded=True)
        return info

    def _load_inline(self, info: ObjectInfo) -> None:
        load_inline(self.publisher.mps, info)

    def _rewrite_version(self, bucket: str, key: str, row: _Row,
                         change: Callable[[ObjectInfo], None]) -> ObjectInfo:
        """A non-current version's record changed: its version file replaced whole (temp,
        fsync, rename) and its row, inside one journal record (a crash leaves the old or
        the new file, and reconcile rewrites the row from it); same generation and
        version id, so its ACL and owner rows stay its own."""
        info = vf.read_version(self.publisher.mps, bucket, key, row.version_id)
        if info is None:
            info = info_from_json(json.loads(row.manifest))
            if info.inline_xxh3:  # its bytes were in the file alone: nothing to rewrite
                raise OSError(f"no readable version file of {bucket}/{key} "
                              f"version {row.version_id}")
        change(info)
        dirs: set[str] = set()
        copies = self.buckets.copies(self.buckets.get_locked(bucket).props)
        with self.index.journal.intent(objects=[(bucket, key)]):
            crash_point("journaled")
            vf.write_version(self.publisher.config, self.publisher.mps, info, copies, dirs)
            crash_point("installed")
            text = index_text(info)
            with self.index.transaction():
                self.index.w.execute(INSERT_VERSION, version_row(info, text))
            crash_point("committed")
        if self.publisher.config.fsync:
            for d in sorted(dirs):
                fsync_dir(d)
        return info


__all__ = [
    "VERSIONING", "Keep", "Versions", "new_version_id", "no_such_version",
    "valid_version_id", "version_id_for", "versioning",
]
