"""``list_objects``: keys and common prefixes, in pages, straight from the index.

A listing's cost follows the entries it returns, not the objects stored under them. One
statement walks the ``(bucket, key)`` primary key from the marker, and rows are stepped one
at a time (never fetched ahead); at the first key under a common prefix ``P`` (its part up
to and including the delimiter after ``prefix``) that statement is dropped and the next
starts at ``prefix_successor(P)`` — one seek past every key under ``P``, however many. So
a level of 1,000 subdirectories costs ~1,000 short statements and ~1,000 rows read,
whether each holds 3 objects or 3 million.

Keys are always bound as ``str``, so SQLite compares them as TEXT with the BINARY
collation: UTF-8 byte order, which is code point order — the order of Python's ``str``
comparisons, ``layout.prefix_successor`` and S3's listings.

Every field an entry carries comes from index columns (``index.LISTED_COLUMNS``): no
manifest JSON is parsed, not even for the mount's listing with user metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from . import layout
from .buckets import Buckets
from .index import Index
from .threads import run_sync
from .types import ListEntry, ListPage

_COLS = "key, size, etag, mtime_ns, generation, cksum_type, cksum_value"
_EXTRA_COLS = ", extra, user_meta"  # with_extra: ObjectMeta.extra and .user, as JSON


@dataclass
class ListCost:
    """What listings asked of the index: SQL statements run and rows stepped (tests bound
    these by the entries returned; they never time anything)."""

    statements: int = 0
    rows: int = 0


def _sql(with_extra: bool, inclusive: bool, bounded: bool) -> str:
    cols = _COLS + (_EXTRA_COLS if with_extra else "")
    op = ">=" if inclusive else ">"
    bound = " AND key < ?" if bounded else ""
    return (
        f"SELECT {cols} FROM objects WHERE bucket = ? AND key {op} ?{bound} "
        "ORDER BY key LIMIT ?"
    )


_SQL = {
    (e, i, b): _sql(e, i, b) for e in (False, True) for i in (False, True) for b in (False, True)
}


class Lister:
    """Object listing, from the index alone."""

    def __init__(self, index: Index, buckets: Buckets) -> None:
        self.index = index
        self.buckets = buckets

    # long: one seek-and-step loop over the index whose state (lo, inclusive, n, last,
    # truncated) the common-prefix jump and the page's end share; split, it would be passed
    # back and forth
    def list_sync(
        self,
        bucket: str,
        prefix: str,
        delimiter: str,
        start_after: str,
        max_keys: int,
        with_extra: bool,
        cost: ListCost | None = None,
    ) -> ListPage:
        self.buckets.get_sync(bucket)
        entries: list[ListEntry] = []
        prefixes: list[str] = []
        if max_keys <= 0:
            return ListPage(entries, prefixes, False, None)
        upper = layout.prefix_successor(prefix) if prefix else None
        if prefix > start_after:
            lo, inclusive = prefix, True
        else:
            lo, inclusive = start_after, False
            under = delimiter and start_after.startswith(prefix)
            i = start_after.find(delimiter, len(prefix)) if under else -1
            if i >= 0:  # a marker on or inside a common prefix (a previous page's last
                # entry): every key after it under that prefix rolls up into it, and it
                # sorts <= the marker, so start past it
                nxt = layout.prefix_successor(start_after[: i + len(delimiter)])
                if nxt is None or (upper is not None and nxt >= upper):
                    return ListPage(entries, prefixes, False, None)
                lo, inclusive = nxt, True
        conn = self.index.r
        plen = len(prefix)
        n = 0
        last: str | None = None
        truncated = False
        statements = rows_read = 0
        while True:
            sql = _SQL[(with_extra, inclusive, upper is not None)]
            want = max_keys - n + 1  # one more than fits: is the page truncated?
            params = (bucket, lo, upper, want) if upper is not None else (bucket, lo, want)
            cur = conn.execute(sql, params)
            statements += 1
            jumped = False
            try:
                for row in cur:  # stepped one at a time: rows after a break are never read
                    rows_read += 1
                    key: str = row[0]
                    if delimiter:
                        i = key.find(delimiter, plen)
                        if i >= 0:
                            cp = key[: i + len(delimiter)]
                            if cp > start_after:  # (a marker inside cp: an earlier page had it)
                                if n == max_keys:
                                    truncated = True
                                    break
                                prefixes.append(cp)
                                n += 1
                                last = cp
                            nxt = layout.prefix_successor(cp)
                            if nxt is not None and (upper is None or nxt < upper):
                                lo, inclusive, jumped = nxt, True, True
                            break  # past cp with one seek (or nothing is left)
                    if n == max_keys:
                        truncated = True
                        break
                    extra = user = None
                    if with_extra:
                        extra = json.loads(row[7]) if row[7] else {}
                        user = json.loads(row[8]) if row[8] else {}
                    entries.append(
                        ListEntry(key, row[1], row[2], row[3], extra, user, row[4],
                                  row[5] or "", row[6] or "")
                    )
                    n += 1
                    last = key
            finally:
                cur.close()  # ends the statement (and its read transaction) at once
            # the statement ran out (past `want` rows the page is full, so truncated was
            # set): nothing is left unless we jumped past a common prefix
            if truncated or not jumped:
                break
        if cost is not None:
            cost.statements += statements
            cost.rows += rows_read
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
        return await run_sync(
            self.list_sync, bucket, prefix, delimiter, start_after, max_keys, with_extra
        )
