"""The change feed: a bounded ring of the changes to current objects, sans IO.

Every change of a current object (a PUT, a small-PUT group, a multipart complete, a
copy, a delete or multi-delete, a rename, a lifecycle expiry, versioning's current
changes) is recorded after its index transaction committed, by the publisher
(``publish.Publisher.note_changes``: the one place every path commits through) and by
versions.py for the current changes it commits itself. A change is ``(seq, bucket, key,
what, etag, size, mtime_ns)`` with ``what`` ``put`` or ``delete``; seq counts from 1 in a
process, and ``epoch`` (random per process start) names the count: a reader's position
``(epoch, seq)`` from another epoch (the node restarted) or whose next changes fell off
the ring is ``lost`` - it may have missed changes and must start over
(docs/native-api.md, ``what=changes``; the mount's use: aisfs_mount/notify.py).

Records come from the store's worker threads and from the event loop; the ring is
guarded by a lock, and ``listeners`` (the node's wake-up of its long polls) are called
after each record, outside it.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice

CAPACITY = 65_536  # changes kept
PUT, DELETE = "put", "delete"
SINCE_LIMIT = 10_000  # changes looked at by one `since` (the next call goes on from there)


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    bucket: str
    key: str
    what: str  # PUT | DELETE
    etag: str = ""  # a put's: unquoted
    size: int = 0
    mtime_ns: int = 0


@dataclass(slots=True)
class Since:
    """What ``ChangeLog.since`` found: the changes after the position asked for (of the
    bucket asked for), the position to ask from next, and whether changes were lost."""

    epoch: str
    seq: int
    lost: bool
    changes: list[Change] = field(default_factory=list)


class ChangeLog:
    def __init__(self, capacity: int = CAPACITY, epoch: str | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.epoch = epoch or secrets.token_hex(8)
        self.seq = 0  # the last change's
        self._ring: deque[Change] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self.listeners: list[Callable[[], None]] = []
        self.closed = False  # the node is stopping: long polls answer at once
        self.waiting = 0  # long polls parked (the node's count of requests in flight
        # leaves them out: they do not contend with anything)

    def close(self) -> None:
        """The node is stopping: wake every waiter (``closed`` tells them to answer)."""
        self.closed = True
        for wake in list(self.listeners):
            wake()

    def record(self, items: Iterable[tuple[str, str, str, str, int, int]]) -> None:
        """Record changes ``(bucket, key, what, etag, size, mtime_ns)`` in order."""
        with self._lock:
            n = self.seq
            ring = self._ring
            for bucket, key, what, etag, size, mtime_ns in items:
                n += 1
                ring.append(Change(n, bucket, key, what, etag, size, mtime_ns))
            changed = n != self.seq
            self.seq = n
        if changed:
            for wake in list(self.listeners):
                wake()

    def position(self) -> tuple[str, int]:
        with self._lock:
            return self.epoch, self.seq

    def since(self, epoch: str, seq: int, bucket: str | None = None,
              limit: int = SINCE_LIMIT) -> Since:
        """The changes after ``(epoch, seq)`` (of ``bucket`` only, if given), at most
        ``limit`` looked at; ``lost`` (and the current position, no changes) when the
        epoch is another or changes after ``seq`` are no longer kept."""
        with self._lock:
            last = self.seq
            ring = self._ring
            first = ring[0].seq if ring else last + 1
            if epoch != self.epoch or seq > last or seq < first - 1:
                return Since(self.epoch, last, True)
            if seq == last:
                return Since(self.epoch, last, False)
            start = seq - first + 1  # ring seqs are consecutive
            looked = list(islice(ring, start, start + max(1, limit)))
        got = [c for c in looked if bucket is None or c.bucket == bucket]
        return Since(self.epoch, looked[-1].seq, False, got)


def parse_position(text: str) -> tuple[str, int]:
    """``EPOCH.SEQ`` (as the feed says its position) -> (epoch, seq); ValueError if not."""
    epoch, dot, seq = text.partition(".")
    if not dot or not epoch or len(epoch) > 64 or not epoch.isalnum() or not epoch.isascii():
        raise ValueError(f"not a feed position: {text[:80]!r}")
    if not (seq.isascii() and seq.isdigit()) or len(seq) > 19:
        raise ValueError(f"not a feed position: {text[:80]!r}")
    return epoch, int(seq)
