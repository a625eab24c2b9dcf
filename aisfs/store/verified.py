"""Chunk copies verified lately: what a GET may send with sendfile, unread by Python.

A chunk copy whose bytes were read and hashed to its id is remembered here by the
stamp of its file - device, inode, size, mtime and ctime, taken with ``fstat`` on the
descriptor that was read, before and after the read. A later read that opens the copy
and finds the same stamp may send it without reading it again (``Reader.read_segments``).

Why that holds (docs/store.md, "Zero-copy reads"): every change made through the
file system - a write in place, a truncate, a ``utime`` that puts the mtime back, a
rename or link over the path - changes the ctime or the inode, and the ctime cannot
be set from user space. Two guards close the gaps that are left:

- racy stamps (as git's racily clean index entries): a file changed in the same clock
  tick as it was verified could keep its ctime. A verification is remembered only when
  the file's ctime is at least ``RACY_NS`` older than the read's start, so a file
  written just before (or during) its verification is hashed again next time;
- what the file system cannot see (a disk's silent corruption under it): a stamp is
  trusted for ``TTL`` seconds, then the copy is hashed again; and ``scrub`` re-reads
  every copy on its schedule, as it always did.

Bounded: at most ``LIMIT`` stamps (oldest dropped first). Shared by the worker threads:
look-ups are one dict read, updates take a lock.
"""

from __future__ import annotations

import os
import threading
import time

TTL = 600.0
LIMIT = 65_536
RACY_NS = 1_000_000_000

Stamp = tuple[int, int, int, int, int]


def stamp_of(st: os.stat_result) -> Stamp:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class VerifiedCopies:
    """Paths of chunk copies verified lately, each with its file's stamp then."""

    def __init__(self, ttl: float = TTL, limit: int = LIMIT) -> None:
        self.ttl = ttl
        self.limit = limit
        self._seen: dict[str, tuple[Stamp, float]] = {}
        self._lock = threading.Lock()

    def trusted(self, path: str, st: os.stat_result) -> bool:
        """True when the copy at ``path``, as ``st`` shows it now, is the one verified
        lately (same stamp, within ``ttl``)."""
        entry = self._seen.get(path)
        return (entry is not None and entry[0] == stamp_of(st)
                and time.monotonic() - entry[1] < self.ttl)

    def remember(
        self, path: str, before: os.stat_result, after: os.stat_result, started_ns: int
    ) -> bool:
        """Remember ``path`` as verified by a read that began at ``started_ns`` (wall
        clock) between the stats ``before`` and ``after``; not when the file changed
        meanwhile or so lately that its stamp could hide a change. True if remembered."""
        stamp = stamp_of(before)
        if stamp != stamp_of(after) or stamp[4] >= started_ns - RACY_NS:
            return False
        with self._lock:
            self._seen.pop(path, None)
            self._seen[path] = (stamp, time.monotonic())
            while len(self._seen) > self.limit:
                del self._seen[next(iter(self._seen))]
        return True

    def forget(self, path: str) -> None:
        with self._lock:
            self._seen.pop(path, None)
