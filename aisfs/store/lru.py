"""The store's side of LRU eviction: access times, the coldest objects, a guarded evict,
and the file systems under the mountpaths.

Access times cost a GET no write: ``AccessTimes.touch`` records ``(bucket, key) -> now``
in memory (a dict under a lock); ``flush_sync`` writes what piled up into the index's
``atimes`` table in one transaction (the node's LRU task does it every few seconds and
before each run). An object's access time is the later of its ``atimes`` row and its
commit time (``mtime_ns``), so an object never read since it was written (or an index
from before the table: it is created at open, empty) counts from its commit.

Blocking code (SQLite, statvfs, unlink): every ``*_sync`` function runs in a worker
thread. The policy - which buckets, how much, in which order - is in
``aisfs.backend.lru``; this module knows nothing of backends.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from dataclasses import dataclass

from .index import Index
from .store import Store

FLUSH_BATCH = 5000  # rows per executemany of a flush


@dataclass(frozen=True, slots=True)
class Candidate:
    """An object that may be evicted: its name, size, generation and access time."""

    bucket: str
    key: str
    size: int
    atime_ns: int
    generation: int


@dataclass(frozen=True, slots=True)
class FsUsage:
    """One file system under the mountpaths (counted once however many share it)."""

    fs: str  # the device id, with the mountpaths on it
    total: int
    used: int

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.total if self.total else 0.0


class AccessTimes:
    """Recent reads not yet written to the index (thread-safe; ``touch`` is a dict set)."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def touch(self, bucket: str, key: str, now_ns: int | None = None) -> None:
        t = time.time_ns() if now_ns is None else now_ns
        with self._lock:
            self._pending[(bucket, key)] = t

    def recent(self, bucket: str, key: str) -> int:
        """The pending access time of ``bucket/key`` (0: none since the last flush)."""
        return self._pending.get((bucket, key), 0)

    def __len__(self) -> int:
        return len(self._pending)

    def drain(self) -> dict[tuple[str, str], int]:
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending

    def flush_sync(self, index: Index) -> int:
        """Write the pending access times to ``atimes``; how many rows. One transaction
        per ``FLUSH_BATCH`` rows: writers wait for the index lock one batch at a time."""
        pending = self.drain()
        rows = [(b, k, t) for (b, k), t in pending.items()]
        for i in range(0, len(rows), FLUSH_BATCH):
            try:
                _write_atimes(index, rows[i : i + FLUSH_BATCH])
            except BaseException:
                self._restore(rows[i:])  # not lost: the next flush writes them
                raise
        return len(rows)

    def _restore(self, rows: list[tuple[str, str, int]]) -> None:
        with self._lock:
            for b, k, t in rows:
                if self._pending.get((b, k), 0) < t:
                    self._pending[(b, k)] = t


def _write_atimes(index: Index, rows: list[tuple[str, str, int]]) -> None:
    with index.wlock, index.transaction():
        index.w.executemany(
            "INSERT INTO atimes (bucket, key, atime_ns) VALUES (?, ?, ?) "
            "ON CONFLICT (bucket, key) DO UPDATE SET "
            "atime_ns = max(atime_ns, excluded.atime_ns)",
            rows,
        )


_BY_INDEX: weakref.WeakKeyDictionary[Index, AccessTimes] = weakref.WeakKeyDictionary()
_BY_INDEX_LOCK = threading.Lock()


def access_times(index: Index) -> AccessTimes:
    """The access times of the store whose index is ``index`` (one per open store)."""
    found = _BY_INDEX.get(index)
    if found is None:
        with _BY_INDEX_LOCK:
            found = _BY_INDEX.get(index)
            if found is None:
                found = _BY_INDEX[index] = AccessTimes()
    return found


def touch(store: Store, bucket: str, key: str) -> None:
    """A read of ``bucket/key``: its access time is now (memory only)."""
    access_times(store.index).touch(bucket, key)


def coldest_sync(
    index: Index,
    buckets: list[str],
    before_ns: int,
    after: Candidate | None,
    limit: int,
    extra_path: str,
) -> list[Candidate]:
    """Up to ``limit`` objects of ``buckets`` accessed before ``before_ns``, least recently
    first, past ``after`` (the last of the previous page), each with a non-null
    ``extra_path`` (a JSON path in its ``ObjectMeta.extra``: what marks it evictable)."""
    if not buckets:
        return []
    marks = ",".join("?" * len(buckets))
    at = "max(o.mtime_ns, coalesce(a.atime_ns, 0))"
    params: list[object] = [*buckets, extra_path, before_ns]
    past = ""
    if after is not None:
        past = f"AND ({at}, o.bucket, o.key) > (?, ?, ?)"
        params += [after.atime_ns, after.bucket, after.key]
    rows = index.rows(
        f"SELECT o.bucket, o.key, o.size, {at} AS at, o.generation "
        "FROM objects o LEFT JOIN atimes a ON a.bucket = o.bucket AND a.key = o.key "
        f"WHERE o.bucket IN ({marks}) AND json_extract(o.extra, ?) IS NOT NULL "
        f"AND {at} < ? {past} ORDER BY at, o.bucket, o.key LIMIT ?",
        [*params, limit],
    )
    return [Candidate(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def evict_sync(store: Store, c: Candidate, before_ns: int) -> bool:
    """Delete ``c``'s local copy if it is still the generation that was chosen and was
    not read since (``before_ns``); its chunks are freed at once. False: left alone."""
    if access_times(store.index).recent(c.bucket, c.key) >= before_ns:
        return False
    index = store.index
    with index.wlock:
        row = index.w.execute(
            "SELECT manifest, generation FROM objects WHERE bucket = ? AND key = ?",
            (c.bucket, c.key),
        ).fetchone()
        if row is None or row[1] != c.generation:
            return False  # gone, or replaced since it was chosen
        read = index.w.execute(
            "SELECT atime_ns FROM atimes WHERE bucket = ? AND key = ?", (c.bucket, c.key)
        ).fetchone()
        if read is not None and read[0] >= before_ns:
            return False  # read since, and that read flushed already
        copies = store.buckets.copies(store.buckets.get_locked(c.bucket).props)
        dropped = store.publisher.publish(
            [], [(c.bucket, c.key)], copies, known={(c.bucket, c.key): row[0]}
        )
    store.publisher.drop_chunks(dropped)  # no gc_grace_seconds: unreferenced now
    return True


def forget_gone_sync(index: Index) -> int:
    """Drop ``atimes`` rows whose object is gone (evicted, deleted, bucket destroyed),
    ``FLUSH_BATCH`` rows at a time (the index's write lock is held per batch only). A row
    dropped for an object made again meanwhile only loses that object's last read: its
    commit time counts instead."""
    removed = 0
    after: tuple[str, str] = ("", "")
    while True:
        rows = index.rows(
            "SELECT a.bucket, a.key, o.key IS NULL FROM atimes a LEFT JOIN objects o "
            "ON o.bucket = a.bucket AND o.key = a.key WHERE (a.bucket, a.key) > (?, ?) "
            "ORDER BY a.bucket, a.key LIMIT ?",
            (*after, FLUSH_BATCH),
        )
        if not rows:
            return removed
        gone = [(b, k) for b, k, missing in rows if missing]
        if gone:
            with index.wlock, index.transaction():
                index.w.executemany("DELETE FROM atimes WHERE bucket = ? AND key = ?", gone)
            removed += len(gone)
        after = (rows[-1][0], rows[-1][1])


def fs_usage_sync(store: Store) -> list[FsUsage]:
    """Capacity and use of each file system under the live mountpaths, one entry per
    file system (two mountpaths on one disk are counted once)."""
    seen: dict[int, tuple[list[str], int, int]] = {}
    for mp in store.mps.live():
        try:
            dev = os.stat(mp.root).st_dev
            st = os.statvfs(mp.root)
        except OSError:
            continue
        if dev in seen:
            seen[dev][0].append(mp.root)
            continue
        total = st.f_blocks * st.f_frsize
        seen[dev] = ([mp.root], total, total - st.f_bfree * st.f_frsize)
    return [FsUsage(f"{dev}:{','.join(roots)}", total, used)
            for dev, (roots, total, used) in seen.items()]
