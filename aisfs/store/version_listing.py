"""``list_versions``: every version and delete marker of a bucket's keys, in pages, from
the index (S3's ListObjectVersions).

Order: by key, each key's newest first. The current objects (``objects``) and the other
versions (``versions``, primary key ``(bucket, key, seq DESC)``) are two ordered scans
that one ``UNION ALL ... ORDER BY key, seq DESC`` merges (SQLite's MERGE of two index
searches: no sort, no temp table); a key's current is its newest (versions.py's
invariant), so ``seq`` alone orders a key's versions. Each statement is bounded by the
entries still wanted (at most ``max_keys`` + 1 rows), and a common prefix ends the
statement and the next starts past it (``prefix_successor``), as ``listing.py`` does: a
page costs its entries, never the bucket.
"""

from __future__ import annotations

from typing import Any

from . import layout
from .buckets import Buckets
from .index import Index
from .threads import run_sync
from .types import VersionEntry, VersionPage

_ROWS = (
    "SELECT key, generation AS seq, version_id, 0, size, etag, mtime_ns FROM objects "
    "WHERE bucket = ? AND key {op} ?{bound} "
    "UNION ALL "
    "SELECT key, seq, version_id, is_marker, size, etag, mtime_ns FROM versions "
    "WHERE bucket = ? AND key {op} ?{bound} "
    "ORDER BY 1, 2 DESC LIMIT ?"
)
_SQL = {
    (i, b): _ROWS.format(op=">=" if i else ">", bound=" AND key < ?" if b else "")
    for i in (False, True) for b in (False, True)
}


class _Page:
    """The page being filled: entries, common prefixes, where the next one starts."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self.entries: list[VersionEntry] = []
        self.prefixes: list[str] = []
        self.truncated = False
        self.next_key: str | None = None
        self.next_vid: str | None = None
        self.last_key: str | None = None  # a key's first entry is its latest

    @property
    def full(self) -> bool:
        return len(self.entries) + len(self.prefixes) >= self.max_keys

    def add(self, row: Any) -> bool:
        """False (and truncated) when the page is full."""
        if self.full:
            self.truncated = True
            return False
        key, _seq, vid, marker, size, etag, mtime = row
        vid = vid or "null"
        self.entries.append(VersionEntry(
            key=key, version_id=vid, is_latest=key != self.last_key, is_marker=bool(marker),
            size=int(size), etag=etag, mtime_ns=int(mtime),
        ))
        self.last_key = key
        self.next_key, self.next_vid = key, vid
        return True

    def add_prefix(self, prefix: str) -> bool:
        if self.full:
            self.truncated = True
            return False
        self.prefixes.append(prefix)
        self.next_key, self.next_vid = prefix, None
        return True

    def result(self) -> VersionPage:
        return VersionPage(
            self.entries, self.prefixes, self.truncated,
            self.next_key if self.truncated else None,
            self.next_vid if self.truncated else None,
        )


class VersionLister:
    def __init__(self, index: Index, buckets: Buckets) -> None:
        self.index = index
        self.buckets = buckets

    def list_sync(self, bucket: str, prefix: str, delimiter: str, key_marker: str,
                  version_id_marker: str, max_keys: int) -> VersionPage:
        self.buckets.get_sync(bucket)
        page = _Page(max_keys)
        upper = layout.prefix_successor(prefix) if prefix else None
        lo, inclusive = prefix, True
        if key_marker and key_marker >= prefix:
            lo, inclusive = key_marker, False
            rest = key_marker[len(prefix):] if key_marker.startswith(prefix) else ""
            if delimiter and rest.endswith(delimiter) and rest.find(delimiter) == len(rest) - len(
                    delimiter):
                succ = layout.prefix_successor(key_marker)  # a common prefix: past it
                if succ is None:
                    return page.result()
                lo, inclusive = succ, True
            elif version_id_marker:
                page.last_key = key_marker
                if not self._rest_of_key(page, bucket, key_marker, version_id_marker):
                    return page.result()
        if max_keys <= 0:
            return page.result()
        self._walk(page, bucket, prefix, delimiter, lo, inclusive, upper)
        return page.result()

    def _rest_of_key(self, page: _Page, bucket: str, key: str, vid: str) -> bool:
        """The versions of ``key`` older than ``vid`` (a page resumed inside a key); False
        when the page filled up."""
        cur = self.index.row(
            "SELECT version_id, generation FROM objects WHERE bucket = ? AND key = ?",
            (bucket, key))
        if cur is not None and (cur[0] or "null") == vid:
            seq = int(cur[1])
        else:
            row = self.index.row(
                "SELECT seq FROM versions WHERE bucket = ? AND key = ? AND version_id = ?",
                (bucket, key, vid))
            if row is None:
                return True
            seq = int(row[0])
        rows = self.index.rows(
            "SELECT key, seq, version_id, is_marker, size, etag, mtime_ns FROM versions "
            "WHERE bucket = ? AND key = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            (bucket, key, seq, page.max_keys + 1))
        return all(page.add(r) for r in rows)

    def _walk(self, page: _Page, bucket: str, prefix: str, delimiter: str, lo: str,
              inclusive: bool, upper: str | None) -> None:
        while True:
            want = page.max_keys - len(page.entries) - len(page.prefixes) + 1
            sql = _SQL[(inclusive, upper is not None)]
            side: list[Any] = [bucket, lo] + ([upper] if upper is not None else [])
            rows = self.index.rows(sql, [*side, *side, want])
            jumped = False
            for row in rows:
                key = row[0]
                cut = key.find(delimiter, len(prefix)) if delimiter else -1
                if cut >= 0:
                    common = key[: cut + len(delimiter)]
                    if not page.add_prefix(common):
                        return
                    succ = layout.prefix_successor(common)
                    if succ is None:
                        return
                    lo, inclusive, jumped = succ, True, True
                    break
                if not page.add(row):
                    return
            if not jumped:
                return

    async def list_versions(self, bucket: str, *, prefix: str = "", delimiter: str = "",
                            key_marker: str = "", version_id_marker: str = "",
                            max_keys: int = 1000) -> VersionPage:
        return await run_sync(self.list_sync, bucket, prefix, delimiter, key_marker,
                              version_id_marker, max_keys)
