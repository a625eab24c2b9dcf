"""The shelf: one SQLite file per mountpath (``MP/small.db``) holding the manifests of
small current objects - the JSON and, for an inline object, its bytes - instead of a file
each (docs/store.md, "The shelf").

A 4 KiB object's manifest file (4,096 bytes of data and ~400 of JSON) takes two 4 KiB
blocks; rows packed into 32 KiB pages take ~4.7 KB. SQLite gives what a hand-made pack
file would have to build: an overwrite or a delete is atomic and its space is reused, a
torn write is rolled back at the next open. The table is keyed by an integer that grows
(rows are appended: pages fill whatever the names' order) with a unique index of the
names (the manifest name's 20 bytes).

Writes (``put``, ``delete``) commit at once (``synchronous=NORMAL``: WAL frames written,
not fsynced). A change makes them durable as it makes a renamed manifest durable: it
lists the shelf's WAL (``wal``) among the directories to fsync before it acknowledges
(``files.fsync_dir`` syncs it as a file); a checkpoint fsyncs the WAL before it copies
frames into the database and the database before the WAL is reused, so a fsync of the WAL
covers every commit made before it. Writes come from the node's process only, under the
index's writer lock; readers (request threads, the read workers) have a connection per
thread, ``query_only``.

A shelf whose file is not there has no rows: nothing is created by a read. A file replaced
underneath (a mountpath wiped and re-made) is noticed by its inode, and reopened.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

from . import layout
from .files import FILE_MODE, fsync_dir, fsync_file
from .thread_conns import ThreadConnections

PAGE_SIZE = 32 * 1024  # 7 rows of a 4 KiB object's manifest per page (config.SHELF_LIMIT)
READER_CACHE_KIB = 64  # per thread (up to 40 per shelf): the OS page cache holds the file
AUTOCHECKPOINT_PAGES = 256  # 8 MiB of WAL: each checkpoint (under the lock) stays short
WALK_PAGE = 256  # rows per read transaction of ``walk``
# blocks held (an fallocated file beside the shelf) for a delete's WAL frames on a full
# disk: a delete touches a table page and a name-index page (and their parents)
RESERVE = 256 * 1024

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS manifests ("
    "id INTEGER PRIMARY KEY, name BLOB NOT NULL UNIQUE, body BLOB NOT NULL)"
)


def _inode(path: str) -> int:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return 0


class Shelf:
    def __init__(self, root: str) -> None:
        self.root = root
        self.path = f"{root}/{layout.SHELF}"
        self.wal = f"{self.path}-wal"  # what a change lists among its directories to fsync
        self.reserve = f"{self.path}-reserve"
        self._reserved = os.path.exists(self.reserve)
        self._lock = threading.Lock()
        self._w: sqlite3.Connection | None = None
        self._w_inode = 0
        self._readers = ThreadConnections(self._connect_reader)

    # -- reads (any thread) -----------------------------------------------------------

    def _reader(self) -> sqlite3.Connection | None:
        inode = _inode(self.path)
        return None if inode == 0 else self._readers.get(inode)

    def _connect_reader(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA query_only=ON")
        conn.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
        return conn

    def _read(self, sql: str, params: tuple[object, ...]) -> list[Any]:
        """The rows of a query on this thread's reader; none while there is no shelf (or
        its schema is not committed yet). OSError for any other SQLite error."""
        conn = self._reader()
        if conn is None:
            return []
        with self._errors():
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError as e:
                if "no such table" not in str(e):
                    raise
                return []

    def get(self, name: str) -> bytes | None:
        """The manifest bytes stored under ``name`` (layout.manifest_name); None if none."""
        rows = self._read("SELECT body FROM manifests WHERE name = ?", (bytes.fromhex(name),))
        return bytes(rows[0][0]) if rows else None

    def walk(self) -> Iterator[tuple[str, bytes]]:
        """``(name, bytes)`` of every row, in short read transactions (a walk never keeps
        the WAL from being checkpointed)."""
        last = 0
        while rows := self._read(
            "SELECT id, name, body FROM manifests WHERE id > ? ORDER BY id LIMIT ?",
            (last, WALK_PAGE),
        ):
            for rid, name, body in rows:
                last = rid
                yield bytes(name).hex(), bytes(body)

    # -- writes (the node's process, under the index's writer lock) -------------------

    def has(self, name: str) -> bool:
        """Whether a row ``name`` is there, asked by a writer (publish's checks for a copy
        elsewhere): on the writer connection, so a writing thread opens no reader
        connection (and its page cache) for it."""
        if _inode(self.path) == 0:
            return False
        try:
            with self._lock, self._errors():
                return self._writer().execute(
                    "SELECT 1 FROM manifests WHERE name = ?", (bytes.fromhex(name),)
                ).fetchone() is not None
        except OSError as e:
            # a full disk kept the writer from opening (its WAL mode, its schema: both
            # write) - a shelf made empty there holds no row; else a reader asks
            if e.errno != errno.ENOSPC:
                raise
            if os.path.getsize(self.path) == 0:
                return False
            return self.get(name) is not None

    def _writer(self) -> sqlite3.Connection:
        """The writer connection (caller holds ``_lock``); the file made on first use,
        with its name durable."""
        inode = _inode(self.path)
        if self._w is not None and inode != self._w_inode:
            self._w.close()
            self._w = None
        if self._w is None:
            if inode == 0:  # made 0600 here: SQLite gives its WAL and shm the same mode
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA busy_timeout=10000")
                conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
                conn.execute("PRAGMA cache_size=-2048")
                conn.execute(SCHEMA)
                if inode == 0:  # new: the file, its WAL and their names durable
                    fsync_file(self.path)
                    self.sync()
                    fsync_dir(self.root)
            except BaseException:
                conn.close()
                raise
            self._w, self._w_inode = conn, _inode(self.path)
        return self._w

    def put(self, name: str, data: bytes) -> None:
        """Store ``data`` under ``name`` (replacing a row of that name) - committed, durable
        once ``wal`` is fsynced. OSError (ENOSPC when the disk is full) if it fails."""
        with self._lock:
            with self._errors():
                self._writer().execute(
                    "INSERT INTO manifests (name, body) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET body = excluded.body",
                    (bytes.fromhex(name), data),
                )
            self._keep_reserve()

    def delete(self, name: str) -> bool:
        """Remove the row ``name``; False if there was none (nothing written). A delete
        must work on a full disk (its WAL frames need blocks a manifest file's rename
        did not): the shelf's reserve file is given back to the file system for it."""
        if _inode(self.path) == 0:
            return False
        with self._lock:
            try:
                return self._delete(name)
            except OSError as e:
                if e.errno != errno.ENOSPC or not self._spend_reserve():
                    raise
                return self._delete(name)

    def _delete(self, name: str) -> bool:
        with self._errors():
            cur = self._writer().execute(
                "DELETE FROM manifests WHERE name = ?", (bytes.fromhex(name),)
            )
            return cur.rowcount > 0

    def _spend_reserve(self) -> bool:
        """Unlink the reserve (``RESERVE`` bytes held for deletes on a full disk); False
        if there was none."""
        try:
            os.unlink(self.reserve)
        except FileNotFoundError:
            return False
        self._reserved = False
        return True

    def _keep_reserve(self) -> None:
        """Make the reserve again where it is missing (after a put: room was found)."""
        if self._reserved:
            return
        try:
            fd = os.open(self.reserve, os.O_WRONLY | os.O_CREAT, FILE_MODE)
        except OSError:
            return
        try:
            os.posix_fallocate(fd, 0, RESERVE)
            self._reserved = True
        except OSError:  # no room yet: tried again at the next put
            with contextlib.suppress(OSError):
                os.unlink(self.reserve)
        finally:
            os.close(fd)

    def drop(self, name: str, fsync: bool) -> bool:
        """``delete``, durably (``fsync``: the WAL synced when a row went)."""
        gone = self.delete(name)
        if gone and fsync:
            self.sync()
        return gone

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's errors as the OSError a manifest file's read or write would raise, so
        callers treat a full or failing disk alike in both homes."""
        try:
            yield
        except sqlite3.Error as e:
            full = "full" in str(e)
            raise OSError(errno.ENOSPC if full else errno.EIO, f"{self.path}: {e}") from e

    def sync(self) -> None:
        """Every commit so far durable (the WAL fsynced; gone: checkpointed, synced)."""
        with contextlib.suppress(FileNotFoundError):
            fsync_file(self.wal)

    def close(self) -> None:
        self._readers.close_all()
        with self._lock:
            if self._w is not None:
                self._w.close()
                self._w = None


_shelves: dict[str, Shelf] = {}
_shelves_lock = threading.Lock()


def shelf_of(root: str) -> Shelf:
    """The shelf of the mountpath ``root`` (one per process)."""
    shelf = _shelves.get(root)
    if shelf is None:
        with _shelves_lock:
            shelf = _shelves.setdefault(root, Shelf(root))
    return shelf


def close_shelves(roots: list[str]) -> None:
    """Close the shelves of these mountpaths (their store closes)."""
    with _shelves_lock:
        for root in roots:
            shelf = _shelves.pop(root, None)
            if shelf is not None:
                shelf.close()
