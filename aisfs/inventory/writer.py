"""One inventory file written as a backend listing streams in, then published whole.

The file is one SQLite database: ``entries`` (the key as primary key, ``WITHOUT ROWID``:
the rows are the B-tree, in key order) and ``meta`` (one JSON record). It is written
under a temporary name beside its final one (``.NAME.<random>.tmp``), a batch per
transaction with no journal (a torn temporary file is thrown away, never read), then
fsynced and renamed over ``NAME.nbi``: a reader sees the old inventory or the new one,
whole; a crash mid-create leaves the previous one as it was and a temporary file that
``Catalog.sweep`` removes at the next start. Memory: one batch and SQLite's page cache.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SUFFIX = ".nbi"
TMP_SUFFIX = ".tmp"
SCHEMA = (
    "CREATE TABLE entries (key TEXT PRIMARY KEY, size INTEGER NOT NULL, etag TEXT NOT NULL,"
    " mtime_ns INTEGER NOT NULL, version TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1), record TEXT NOT NULL)",
)
Row = tuple[str, int, str, int, str]  # key, size, etag, mtime_ns, version


def temp_path_for(final: Path) -> Path:
    return final.with_name(f".{final.name.removesuffix(SUFFIX)}.{secrets.token_hex(4)}"
                           f"{TMP_SUFFIX}")


def fsync_path(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class InventoryWriter:
    """Write ``final`` (``.../NAME.nbi``): ``add`` rows (any order; a key seen twice keeps
    its last row), then ``publish`` or ``abort``. Not thread-safe; any one thread at a
    time may call it (the node calls it from worker threads)."""

    def __init__(self, final: Path, *, fsync: bool = True) -> None:
        self.final = final
        self.fsync = fsync
        self.tmp = temp_path_for(final)
        self.count = 0
        final.parent.mkdir(parents=True, exist_ok=True)
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            self.tmp, isolation_level=None, check_same_thread=False)
        conn = self._conn
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-8192")  # 8 MiB at most
        for stmt in SCHEMA:
            conn.execute(stmt)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"{self.final.name}: the writer is closed")
        return self._conn

    def add(self, rows: Iterable[Row]) -> int:
        """One batch, in one transaction; how many rows it had."""
        conn = self._db()
        before = conn.total_changes
        conn.execute("BEGIN")
        try:
            conn.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?)", rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        n = conn.total_changes - before
        self.count += n
        return n

    def publish(self, meta: dict[str, Any]) -> int:
        """Record ``meta`` (with ``ntotal``: the number of keys) and make the file the
        inventory ``final``, atomically; the number of keys."""
        conn = self._db()
        (ntotal,) = conn.execute("SELECT count(*) FROM entries").fetchone()
        record = json.dumps({**meta, "ntotal": ntotal}, separators=(",", ":"))
        conn.execute("INSERT INTO meta VALUES (1, ?)", (record,))
        conn.close()
        self._conn = None
        if self.fsync:
            fsync_path(self.tmp)
        os.replace(self.tmp, self.final)
        if self.fsync:
            fsync_path(self.final.parent, directory=True)
        return int(ntotal)

    def abort(self) -> None:
        """Drop the temporary file (the published inventory, if any, stays)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.tmp.unlink(missing_ok=True)
