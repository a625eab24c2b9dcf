"""A page of a listing from an inventory file: prefix, delimiter, marker, max keys.

The walk of ``aisfs.store.listing`` over the ``entries`` primary key: one statement from
the marker, rows stepped one at a time (never fetched ahead), and at the first key under
a common prefix ``P`` one seek to ``prefix_successor(P)`` past every key under it. A
page's cost follows what it returns, not the inventory's size. Keys are bound as
``str``: SQLite's BINARY collation, UTF-8 byte order = code point order = S3's order.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aisfs.store.layout import prefix_successor

_COLS = "key, size, etag, mtime_ns, version"


@dataclass(frozen=True, slots=True)
class InvEntry:
    """One key of an inventory (what s3xml's ``ObjectRecord`` needs, and the version)."""

    key: str
    size: int
    etag: str
    mtime_ns: int
    version: str = ""


@dataclass(slots=True)
class InvPage:
    entries: list[InvEntry]
    common_prefixes: list[str]
    is_truncated: bool
    next_marker: str | None  # the last key or prefix of a truncated page


def open_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection to a published inventory (immutable: no locks taken; a
    publish renames a new file over it, never writes this one)."""
    uri = f"file:{quote(str(path))}?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def read_meta(conn: sqlite3.Connection) -> dict[str, Any]:
    row = conn.execute("SELECT record FROM meta WHERE id = 1").fetchone()
    meta: dict[str, Any] = json.loads(row[0]) if row else {}
    return meta


def _sql(inclusive: bool, bounded: bool) -> str:
    op = ">=" if inclusive else ">"
    bound = " AND key < ?" if bounded else ""
    return f"SELECT {_COLS} FROM entries WHERE key {op} ?{bound} ORDER BY key LIMIT ?"


_SQL = {(i, b): _sql(i, b) for i in (False, True) for b in (False, True)}


def _start(prefix: str, delimiter: str, start_after: str,
           upper: str | None) -> tuple[str, bool] | None:
    """Where the walk starts (key, inclusive); None: nothing can follow the marker."""
    if prefix > start_after:
        return prefix, True
    under = delimiter and start_after.startswith(prefix)
    i = start_after.find(delimiter, len(prefix)) if under else -1
    if i < 0:
        return start_after, False
    # a marker on or inside a common prefix (a previous page's last entry): every key
    # after it under that prefix rolls up into it, so start past the prefix
    nxt = prefix_successor(start_after[: i + len(delimiter)])
    if nxt is None or (upper is not None and nxt >= upper):
        return None
    return nxt, True


def list_page(conn: sqlite3.Connection, *, prefix: str = "", delimiter: str = "",
              start_after: str = "", max_keys: int = 1000) -> InvPage:
    """The keys and common prefixes after ``start_after``, at most ``max_keys`` of them."""
    page = InvPage([], [], False, None)
    upper = prefix_successor(prefix) if prefix else None
    start = _start(prefix, delimiter, start_after, upper) if max_keys > 0 else None
    while start is not None:
        start = _walk(conn, page, start, upper, prefix, delimiter, start_after, max_keys)
    if not page.is_truncated:
        page.next_marker = None
    return page


def _walk(conn: sqlite3.Connection, page: InvPage, start: tuple[str, bool],
          upper: str | None, prefix: str, delimiter: str, start_after: str,
          max_keys: int) -> tuple[str, bool] | None:
    """One statement from ``start``: rows into ``page`` until it is full or a common
    prefix is met; where the next statement starts (None: done)."""
    lo, inclusive = start
    n = len(page.entries) + len(page.common_prefixes)
    want = max_keys - n + 1  # one more than fits: is the page truncated?
    params = (lo, upper, want) if upper is not None else (lo, want)
    cur = conn.execute(_SQL[(inclusive, upper is not None)], params)
    try:
        for key, size, etag, mtime_ns, version in cur:
            i = key.find(delimiter, len(prefix)) if delimiter else -1
            if i >= 0:
                cp = key[: i + len(delimiter)]
                if cp > start_after:  # (a marker inside cp: an earlier page had it)
                    if n == max_keys:
                        page.is_truncated = True
                        return None
                    page.common_prefixes.append(cp)
                    page.next_marker = cp
                nxt = prefix_successor(cp)
                if nxt is None or (upper is not None and nxt >= upper):
                    return None
                return nxt, True  # past cp with one seek
            if n == max_keys:
                page.is_truncated = True
                return None
            page.entries.append(InvEntry(key, size, etag, mtime_ns, version))
            page.next_marker = key
            n += 1
    finally:
        cur.close()
    return None
