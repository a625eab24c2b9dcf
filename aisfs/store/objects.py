"""Metadata-only object changes: delete, copy, rename (a key or a prefix), new metadata.
No data is copied; chunks are shared or released."""

from __future__ import annotations

import json
import time
from typing import Any

import outcome
import trio

from ..errors import S3Error
from . import layout
from .buckets import Buckets
from .chunks import StoreCorruption
from .generations import Generations
from .groups import Group
from .index import Index
from .inline_cache import cache_for
from .manifest import info_from_json
from .manifests import load_inline
from .publish import Publisher
from .threads import ShortSteps, run_sync
from .types import ObjectInfo, ObjectMeta
from .version_files import read_version
from .versions import Versions, no_such_version, version_id_for, versioning


class Objects:
    """Delete, copy, rename and metadata updates: new manifests and one index commit."""

    def __init__(
        self,
        index: Index,
        buckets: Buckets,
        publisher: Publisher,
        generations: Generations,
        short: ShortSteps,
        versions: Versions,
    ) -> None:
        self.index = index
        self.buckets = buckets
        self.publisher = publisher
        self.generations = generations
        self.short = short
        self.versions = versions  # a versioned bucket's copy keeps the current
        self.cache = cache_for(index)  # inline objects' verified bytes (inline_cache.py)
        self.deletes: Group[tuple[str, str], None] = Group(self._delete_batch)

    def delete_many_sync(
        self, names: list[tuple[str, str]]
    ) -> tuple[list[outcome.Outcome[None]], list[str]]:
        """Remove the objects (a batch of concurrent deletes, see ``delete_object``);
        each one's outcome and the chunk ids whose refcount hit 0. Durable on return.

        Under the lock, in one journal record and one index transaction: the manifests
        renamed away and the rows deleted. After it: the fsync of their directories (the
        first commits the file system journal holding every rename; the rest find their
        changes committed), as a PUT fsyncs its manifest directory after the lock. A
        process crash before the fsync loses nothing (the page cache keeps the renames;
        the journal names the keys); a power loss before it may bring objects back whose
        deletes were not acknowledged yet."""
        results: list[outcome.Outcome[None]] = []
        known: dict[tuple[str, str], str | None] = {}
        dirs: set[str] = set()
        dropped: list[str] = []
        with self.index.wlock:
            for bucket, key in names:
                try:
                    self.buckets.get_locked(bucket)
                    row = self.index.w.execute(
                        "SELECT manifest, version_id, lock FROM objects "
                        "WHERE bucket = ? AND key = ?", (bucket, key)
                    ).fetchone()
                    if row is None or (bucket, key) in known:  # twice in one batch: as in turn
                        raise S3Error("NoSuchKey", "The specified key does not exist.", key)
                    self.publisher.check_removal(bucket, key, row[1], row[2])
                    known[(bucket, key)] = row[0]
                    results.append(outcome.Value(None))
                except S3Error as e:
                    results.append(outcome.Error(e))
            if known:  # copies: only new manifests need it
                dropped = self.publisher.publish(
                    [], list(known), 1, known=known, removed_dirs=dirs, guarded=True
                )
                for bucket, key in known:  # memory only: no entry could match a row again
                    self.cache.forget(bucket, key)
        self.publisher.sync_dirs(dirs)  # together: one journal commit for the batch
        return results, dropped

    async def _delete_batch(self, names: list[tuple[str, str]]) -> list[outcome.Outcome[None]]:
        results, dropped = await self.short.run(self.delete_many_sync, names)
        if dropped:  # an inline object has no chunks: no second thread hop
            with trio.CancelScope(shield=True):
                await run_sync(self.publisher.drop_chunks, dropped)
        return results

    async def delete_object(self, bucket: str, key: str) -> None:
        """Deletes that arrive while others commit are committed together (``groups.py``):
        one hand-off, one index transaction, one round of fsyncs; each acknowledged once
        its batch is durable."""
        await self.deletes.submit((bucket, key))

    def _get_row_sync(self, bucket: str, key: str) -> ObjectInfo:
        row = self.index.w.execute(
            "SELECT manifest FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
        ).fetchone()
        if row is None:
            self.buckets.get_sync(bucket)
            raise S3Error("NoSuchKey", "The specified key does not exist.", key)
        info = info_from_json(json.loads(row[0]))
        if info.inline_xxh3:  # its bytes go into the new manifests
            self._load_inline(info)
        return info

    def _load_inline(self, info: ObjectInfo) -> None:
        """``info.inline``: this generation's verified bytes from the cache, else from a
        manifest copy that verifies (``load_inline``)."""
        data = self.cache.get(info.bucket, info.key, info.generation, info.inline_xxh3)
        if data is None:
            load_inline(self.publisher.mps, info)
        else:
            info.inline = data

    def _source_sync(self, bucket: str, key: str, version_id: str | None) -> ObjectInfo:
        """A copy's source: the current object, or the version ``version_id`` (its
        inline bytes from its own files); NoSuchKey / NoSuchVersion, or a delete marker
        (InvalidRequest, as S3 answers a copy from one)."""
        if version_id is None:
            return self._get_row_sync(bucket, key)
        cur = self.index.w.execute(
            "SELECT version_id FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
        ).fetchone()
        if cur is not None and (cur[0] or "null") == version_id:
            return self._get_row_sync(bucket, key)
        info = self.versions.record_sync(bucket, key, version_id)
        if info is None:
            raise no_such_version(key, version_id)
        if info.delete_marker:
            raise S3Error("InvalidRequest",
                          "The source of a copy request may not specifically refer to a "
                          "delete marker by version id.", key)
        if info.inline_xxh3:
            found = read_version(self.publisher.mps, bucket, key, version_id)
            if found is None or found.inline_xxh3 != info.inline_xxh3:
                raise StoreCorruption(f"inline:{bucket}/{key}@{version_id}",
                                      "no version file with good inline data")
            info.inline = found.inline
        return info

    def _copy_sync(
        self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str,
        meta: ObjectMeta | None, src_version: str | None = None,
    ) -> tuple[ObjectInfo, list[str]]:
        with self.index.wlock:
            src = self._source_sync(src_bucket, src_key, src_version)
            dbinfo = self.buckets.get_sync(dst_bucket)
            generation = self.generations.next()
            info = ObjectInfo(
                bucket=dst_bucket,
                key=dst_key,
                size=src.size,
                etag=src.etag,
                mtime_ns=time.time_ns(),
                generation=generation,
                meta=src.meta if meta is None else meta,
                chunks=list(src.chunks),
                part_sizes=src.part_sizes,
                checksum_type=src.checksum_type,
                checksum_value=src.checksum_value,
                inline=src.inline,
                inline_xxh3=src.inline_xxh3,
                version_id=version_id_for(dbinfo.props, generation),
            )
            keep = self.versions.plan(dbinfo.props, dst_bucket, dst_key, info.version_id)
            return info, self.publisher.publish(
                [info], [], self.buckets.copies(dbinfo.props),
                prepare=keep.prepare if keep is not None else None,
                in_tx=keep.in_tx if keep is not None else None, guarded=True,
            )

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
        the current object, or its version ``src_version``."""
        info, dropped = await run_sync(
            self._copy_sync, src_bucket, src_key, dst_bucket, dst_key, meta, src_version
        )
        with trio.CancelScope(shield=True):
            await run_sync(self.publisher.drop_chunks, dropped)
        return info

    def _rename_sync(
        self, bucket: str, pairs: list[tuple[ObjectInfo, str]]
    ) -> tuple[list[ObjectInfo], list[str]]:
        binfo = self.buckets.get_sync(bucket)
        new: list[ObjectInfo] = []
        removed: list[tuple[str, str]] = []
        for src, dst_key in pairs:
            removed.append((bucket, src.key))
            src.key = dst_key
            src.generation = self.generations.next()
            new.append(src)
        dropped = self.publisher.publish(new, removed, self.buckets.copies(binfo.props))
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
        """Move ``src_key`` to ``dst_key`` (replacing it), metadata only, one transaction.
        In a versioned bucket no version is lost: a copy (``dst_key``'s current kept as a
        version) then a delete marker on ``src_key`` - two commits, each durable."""
        if src_key != dst_key and versioning((await self.buckets.get(bucket)).props):
            info = await self.copy_object(bucket, src_key, bucket, dst_key)
            await self._mark(bucket, src_key)
            return info
        info, dropped = await run_sync(self._rename_object_sync, bucket, src_key, dst_key)
        with trio.CancelScope(shield=True):
            await run_sync(self.publisher.drop_chunks, dropped)
        return info

    def _rename_prefix_sync(
        self, bucket: str, src_prefix: str, dst_prefix: str
    ) -> tuple[int, list[str]]:
        with self.index.wlock:
            self.buckets.get_sync(bucket)
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
                if info.inline_xxh3:
                    load_inline(self.publisher.mps, info)
                pairs.append((info, dst_prefix + info.key[len(src_prefix) :]))
            if not pairs:
                return 0, []
            _, dropped = self._rename_sync(bucket, pairs)
            return len(pairs), dropped

    async def _mark(self, bucket: str, key: str) -> None:
        _, dropped = await run_sync(self.versions.delete_sync, bucket, key, None)
        if dropped:
            with trio.CancelScope(shield=True):
                await run_sync(self.publisher.drop_chunks, dropped)

    async def rename_prefix(self, bucket: str, src_prefix: str, dst_prefix: str) -> int:
        """Rename every key under ``src_prefix``; existing destinations are replaced (in a
        versioned bucket key by key, as ``rename_object``: kept as versions)."""
        if src_prefix != dst_prefix and versioning((await self.buckets.get(bucket)).props):
            return await self._rename_versioned_prefix(bucket, src_prefix, dst_prefix)
        n, dropped = await run_sync(self._rename_prefix_sync, bucket, src_prefix, dst_prefix)
        with trio.CancelScope(shield=True):
            await run_sync(self.publisher.drop_chunks, dropped)
        return n

    def _keys_under(self, bucket: str, prefix: str) -> list[str]:
        self.buckets.get_sync(bucket)
        sql = "SELECT key FROM objects WHERE bucket = ? AND key >= ?"
        params: list[Any] = [bucket, prefix]
        upper = layout.prefix_successor(prefix)
        if upper is not None:
            sql += " AND key < ?"
            params.append(upper)
        return [r[0] for r in self.index.rows(sql + " ORDER BY key", params)]

    async def _rename_versioned_prefix(self, bucket: str, src_prefix: str,
                                       dst_prefix: str) -> int:
        keys = await run_sync(self._keys_under, bucket, src_prefix)
        for key in keys:
            await self.rename_object(bucket, key, dst_prefix + key[len(src_prefix):])
        return len(keys)
