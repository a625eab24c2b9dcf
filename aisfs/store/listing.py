"""``list_objects``: keys and common prefixes, in pages, straight from the index."""

from __future__ import annotations

import json
from typing import Any

from . import layout
from .chunks import ChunkStore
from .config import StoreConfig
from .index import Index
from .mountpaths import MountpathSet
from .threads import _run
from .types import ListEntry, ListPage


class ListingMixin:
    """Object listing, mixed into ``Store`` (store.py)."""

    config: StoreConfig
    index: Index
    mps: MountpathSet
    chunks: ChunkStore

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
