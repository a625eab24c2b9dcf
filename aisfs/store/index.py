"""The SQLite index (WAL): buckets, objects, chunk refcounts, multipart uploads and parts.

Blocking code, for worker threads. One writer connection guarded by ``wlock`` (callers
hold it across their whole read-check-write sequence), one reader connection per thread.
Every statement result is fetched completely so no read transaction stays open.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .journal import Journal
from .thread_conns import ThreadConnections
from .types import ObjectInfo

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mountpaths (path TEXT PRIMARY KEY, uuid TEXT NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY, created_ns INTEGER NOT NULL, props TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL, generation INTEGER NOT NULL, extra TEXT,
    manifest TEXT NOT NULL, user_meta TEXT, cksum_type TEXT, cksum_value TEXT,
    version_id TEXT, lock TEXT,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, refs INTEGER NOT NULL, size INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL,
    initiated_ns INTEGER NOT NULL, meta TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uploads_by_bucket ON uploads (bucket, key, initiated_ns);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, etag TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, chunks TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
-- when a cached object was last read (aisfs/store/lru.py: written in batches, never by
-- the read itself); no row: its commit (mtime_ns). An index from before this table gets
-- it, empty, at its next open (CREATE IF NOT EXISTS is the migration).
-- the versions of a key that are not its current object (that one is its `objects` row)
-- and its delete markers, in a versioned bucket (versions.py); `seq` orders a key's
-- versions (the generation each was written with: newest is highest). An index from before
-- this table gets it, empty, at its next open.
CREATE TABLE IF NOT EXISTS versions (
    bucket TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, version_id TEXT NOT NULL,
    is_marker INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL, manifest TEXT NOT NULL, lock TEXT,
    PRIMARY KEY (bucket, key, seq DESC)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS versions_by_id ON versions (bucket, key, version_id);
CREATE TABLE IF NOT EXISTS atimes (
    bucket TEXT NOT NULL, key TEXT NOT NULL, atime_ns INTEGER NOT NULL,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
"""

# The columns a listing reads besides key, size, etag, mtime_ns, generation and extra, each
# kept from the manifest when the row is written (NULL: empty), so that no listing parses
# manifest JSON: (column, how an older index fills it from its manifest column).
LISTED_COLUMNS = (
    ("user_meta", "NULLIF(json_extract(manifest, '$.meta.user'), '{}')"),
    ("cksum_type", "coalesce(json_extract(manifest, '$.checksum_type'), 'xxhash')"),
    ("cksum_value", "NULLIF(json_extract(manifest, '$.checksum_value'), '')"),
    # versioning (versions.py): the current object's version id (NULL: the null version)
    # and its object-lock state (JSON, NULL: none)
    ("version_id", "json_extract(manifest, '$.version_id')"),
    ("lock", "json_extract(manifest, '$.lock')"),
)

INSERT_OBJECT = (
    "INSERT INTO objects (bucket, key, size, etag, mtime_ns, generation, extra, user_meta, "
    "cksum_type, cksum_value, version_id, lock, manifest) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

INSERT_VERSION = (
    "INSERT OR REPLACE INTO versions (bucket, key, seq, version_id, is_marker, size, etag, "
    "mtime_ns, manifest, lock) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


HW_STEP = 10**9  # generations are time_ns: the mark is written about once a second


def _dumps(d: dict[str, Any]) -> str:
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


def object_row(info: ObjectInfo, manifest: str) -> tuple[Any, ...]:
    """The parameters of ``INSERT_OBJECT`` for ``info`` whose manifest text is ``manifest``."""
    meta = info.meta
    return (
        info.bucket, info.key, info.size, info.etag, info.mtime_ns, info.generation,
        _dumps(meta.extra) if meta.extra else None,
        _dumps(meta.user) if meta.user else None,
        info.checksum_type, info.checksum_value or None, info.version_id,
        _dumps(info.lock) if info.lock else None, manifest,
    )


def version_row(info: ObjectInfo, manifest: str) -> tuple[Any, ...]:
    """The parameters of ``INSERT_VERSION`` for a non-current version or a delete marker."""
    return (
        info.bucket, info.key, info.generation, info.version_id or "null",
        1 if info.delete_marker else 0, info.size, info.etag, info.mtime_ns, manifest,
        _dumps(info.lock) if info.lock else None,
    )


def _migrate(conn: sqlite3.Connection) -> None:
    """Give an index made by an older version the columns ``LISTED_COLUMNS``, filled from
    its manifests in one transaction (a crash before the commit leaves it as it was)."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(objects)").fetchall()}
    missing = [(c, fill) for c, fill in LISTED_COLUMNS if c not in have]
    if not missing:
        return
    log.warning("index: adding the listing columns %s", ", ".join(c for c, _ in missing))
    conn.execute("BEGIN IMMEDIATE")
    try:
        for c, _ in missing:
            conn.execute(f"ALTER TABLE objects ADD COLUMN {c} TEXT")
        sets = ", ".join(f"{c} = {fill}" for c, fill in missing)
        conn.execute(f"UPDATE objects SET {sets} WHERE json_valid(manifest)")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


INDEX_VERSION = "2"  # 2: no inline bytes in the manifest column (they are in the files)


def _slim(conn: sqlite3.Connection) -> None:
    """An index from before version 2 kept each inline object's bytes (base64) in its
    manifest column, as its manifest files do: they are dropped from the rows in one
    transaction, then the file is compacted (VACUUM). Once per index."""
    row = conn.execute("SELECT value FROM meta WHERE name = 'index_version'").fetchone()
    if row is not None and row[0] == INDEX_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        n = conn.execute(
            "UPDATE objects SET manifest = json_remove(manifest, '$.inline') "
            "WHERE json_valid(manifest) AND json_type(manifest, '$.inline') IS NOT NULL"
        ).rowcount
        conn.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES ('index_version', ?)",
            (INDEX_VERSION,),
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if n:
        log.warning("index: inline bytes dropped from %d rows (kept in the manifest files); "
                    "compacting the index", n)
        conn.execute("VACUUM")


# A worker thread's reader connection's page cache, in KiB (SQLite's default: 2,000 per
# connection). There is one reader connection per thread that reads (up to 40 workers, and
# the event loop's, which keeps the default: it serves every HEAD's point read): at the
# default, 40 workers' connections that have each scanned a listing hold ~82 MiB between
# them (the same pages, each its own copy); at 512, ~21 MiB. A page not cached is one read
# from the OS page cache (a full listing's SQL: x0.92; random point reads over 200,000
# objects: x0.78, which is why the loop's connection keeps its 2 MiB).
READER_CACHE_KIB = 512


def _connect(
    path: Path, cache_kib: int | None = None, read_only: bool = False
) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=10000")
    if read_only:
        conn.execute("PRAGMA query_only=ON")
    else:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    if cache_kib is not None:
        conn.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
    return conn


class Index:
    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        # a node's read worker (aisfs_node/workers.py): every connection refuses writes
        # (query_only), no schema step, no checkpoint - the primary process owns all that
        self.read_only = read_only
        self.wlock = threading.RLock()
        self.w = _connect(path, read_only=read_only)
        if not read_only:
            self.w.executescript(SCHEMA)
            _migrate(self.w)
            _slim(self.w)
        # the names a change in flight touches (journal.py): what an open after a crash
        # reconciles
        # (read only: opened, never written - see close)
        self.journal = Journal(path.parent / "journal")
        # every committed generation is <= this (meta 'generation_hw', raised in the same
        # transaction): an open needs no scan of the objects for the highest one
        row = self.w.execute("SELECT value FROM meta WHERE name = 'generation_hw'").fetchone()
        self.generation_hw: int | None = int(row[0]) if row is not None else None
        self._readers = ThreadConnections(self._connect_reader)

    # -- connections ------------------------------------------------------------------

    @property
    def r(self) -> sqlite3.Connection:
        return self._readers.get()

    def _connect_reader(self) -> sqlite3.Connection:
        main = threading.current_thread() is threading.main_thread()  # the event loop
        return _connect(self.path, None if main else READER_CACHE_KIB, self.read_only)

    def close(self, checkpoint: bool = True) -> None:
        self._readers.close_all()
        if self.read_only:
            checkpoint = False  # not this process's index to checkpoint or journal
        with self.wlock:
            if checkpoint:
                self.w.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.w.close()
        self.journal.close(clean=checkpoint)

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return self.r.execute(sql, tuple(params)).fetchall()

    def row(self, sql: str, params: Iterable[Any] = ()) -> Any:
        rows = self.rows(sql, params)
        return rows[0] if rows else None

    # -- transactions (caller holds wlock) --------------------------------------------

    def begin(self) -> None:
        self.w.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.w.execute("COMMIT")

    def rollback(self) -> None:
        if self.w.in_transaction:
            self.w.execute("ROLLBACK")
            self.forget_generation_hw()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE``, then ``COMMIT`` when the body ends, ``ROLLBACK`` (and the
        exception on) when it raises."""
        self.begin()
        try:
            yield
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def note_generation(self, generation: int) -> None:
        """Inside a transaction that commits ``generation``: keep the high-water mark
        above it (written once per ``HW_STEP`` ns of generations, not per commit)."""
        if self.generation_hw is None or generation > self.generation_hw:
            hw = generation + HW_STEP
            self.w.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES ('generation_hw', ?)",
                (str(hw),),
            )
            self.generation_hw = hw

    def forget_generation_hw(self) -> None:
        """After a rollback that may have raised the mark: read it again."""
        row = self.w.execute("SELECT value FROM meta WHERE name = 'generation_hw'").fetchone()
        self.generation_hw = int(row[0]) if row is not None else None

    def apply_refs(self, delta: Counter[str], sizes: dict[str, int]) -> list[str]:
        """Add ``delta`` to chunk refcounts (inside a transaction); ids that dropped to 0."""
        ups = [(cid, n, sizes.get(cid, 0)) for cid, n in delta.items() if n > 0]
        downs = [(n, cid) for cid, n in delta.items() if n < 0]
        if ups:
            self.w.executemany(
                "INSERT INTO chunks (id, refs, size) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET refs = refs + excluded.refs",
                ups,
            )
        dropped: list[str] = []
        if downs:
            self.w.executemany("UPDATE chunks SET refs = refs + ? WHERE id = ?", downs)
            ids = [cid for _, cid in downs]
            for i in range(0, len(ids), 500):
                part = ids[i : i + 500]
                marks = ",".join("?" * len(part))
                dropped += [
                    r[0]
                    for r in self.w.execute(
                        f"SELECT id FROM chunks WHERE refs <= 0 AND id IN ({marks})", part
                    ).fetchall()
                ]
                self.w.execute(f"DELETE FROM chunks WHERE refs <= 0 AND id IN ({marks})", part)
        return dropped

    def referenced(self, ids: list[str]) -> set[str]:
        out: set[str] = set()
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            sql = f"SELECT id FROM chunks WHERE id IN ({marks})"
            out.update(r[0] for r in self.rows(sql, part))
        return out
