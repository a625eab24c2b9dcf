"""Metadata-only object changes: delete, copy, rename (a key or a prefix), new metadata.
No data is copied; chunks are shared or released."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import trio

from ..errors import S3Error
from . import layout
from .buckets import Buckets
from .generations import Generations
from .index import Index
from .inline_cache import cache_for
from .manifest import info_from_json
from .manifests import load_inline
from .publish import Publisher
from .threads import ShortSteps, run_sync
from .types import ObjectInfo, ObjectMeta


class Objects:
    """Delete, copy, rename and metadata updates: new manifests and one index commit."""

    def __init__(
        self,
        index: Index,
        buckets: Buckets,
        publisher: Publisher,
        generations: Generations,
        short: ShortSteps,
    ) -> None:
        self.index = index
        self.buckets = buckets
        self.publisher = publisher
        self.generations = generations
        self.short = short
        self.cache = cache_for(index)  # inline objects' verified bytes (inline_cache.py)

    def delete_sync(self, bucket: str, key: str) -> list[str]:
        """Remove the object; durable when this returns (the 204 follows).

        Under the lock: the manifests renamed away and the index commit. After it: the
        fsync of their directories, so concurrent deletes overlap their fsyncs (the file
        system commits them together) instead of queueing on the lock, as PUTs do with
        their manifest directories. A process crash before the fsync loses nothing (the
        page cache keeps the rename; the journal names the key); a power loss before it
        may bring back the object, whose delete was not acknowledged yet."""
        dirs: set[str] = set()
        with self.index.wlock:
            binfo = self.buckets.get_locked(bucket)
            row = self.index.w.execute(
                "SELECT manifest FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
            ).fetchone()
            if row is None:
                raise S3Error("NoSuchKey", "The specified key does not exist.", key)
            dropped = self.publisher.publish(
                [], [(bucket, key)], self.buckets.copies(binfo.props),
                known={(bucket, key): row[0]}, removed_dirs=dirs,
            )
            self.cache.forget(bucket, key)  # memory only: no entry could match a row again
        self.publisher.sync_dirs(dirs)
        return dropped

    async def delete_object(self, bucket: str, key: str) -> None:
        dropped = await self.short.run(self.delete_sync, bucket, key)
        if dropped:  # an inline object has no chunks: no second thread hop
            with trio.CancelScope(shield=True):
                await run_sync(self.publisher.drop_chunks, dropped)

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

    def _copy_sync(
        self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str,
        meta: ObjectMeta | None,
    ) -> tuple[ObjectInfo, list[str]]:
        with self.index.wlock:
            src = self._get_row_sync(src_bucket, src_key)
            dbinfo = self.buckets.get_sync(dst_bucket)
            info = ObjectInfo(
                bucket=dst_bucket,
                key=dst_key,
                size=src.size,
                etag=src.etag,
                mtime_ns=time.time_ns(),
                generation=self.generations.next(),
                meta=src.meta if meta is None else meta,
                chunks=list(src.chunks),
                part_sizes=src.part_sizes,
                checksum_type=src.checksum_type,
                checksum_value=src.checksum_value,
                inline=src.inline,
                inline_xxh3=src.inline_xxh3,
            )
            return info, self.publisher.publish([info], [], self.buckets.copies(dbinfo.props))

    async def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        meta: ObjectMeta | None = None,
    ) -> ObjectInfo:
        """A new manifest sharing the source's chunks (no data is copied)."""
        info, dropped = await run_sync(
            self._copy_sync, src_bucket, src_key, dst_bucket, dst_key, meta
        )
        with trio.CancelScope(shield=True):
            await run_sync(self.publisher.drop_chunks, dropped)
        return info

    def _update_meta_sync(
        self, bucket: str, key: str, update: Callable[[ObjectMeta], None]
    ) -> ObjectInfo:
        with self.index.wlock:
            cur = self._get_row_sync(bucket, key)
            binfo = self.buckets.get_sync(bucket)
            update(cur.meta)
            cur.generation = self.generations.next()
            self.publisher.publish([cur], [], self.buckets.copies(binfo.props))
            return cur

    async def update_object_meta(
        self, bucket: str, key: str, update: Callable[[ObjectMeta], None]
    ) -> ObjectInfo:
        """Change the current object's metadata in place: ``update`` gets it under the
        index write lock (read-modify-write in one step: a PUT or another update racing
        this one is either wholly before or wholly after it)."""
        return await run_sync(self._update_meta_sync, bucket, key, update)

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
        """Move ``src_key`` to ``dst_key`` (replacing it), metadata only, one transaction."""
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

    async def rename_prefix(self, bucket: str, src_prefix: str, dst_prefix: str) -> int:
        """Rename every key under ``src_prefix``; existing destinations are replaced."""
        n, dropped = await run_sync(self._rename_prefix_sync, bucket, src_prefix, dst_prefix)
        with trio.CancelScope(shield=True):
            await run_sync(self.publisher.drop_chunks, dropped)
        return n
