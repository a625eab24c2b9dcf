"""Full mountpaths: skipped for a while, re-checked, and 507 when none has room.

A write that gets ENOSPC or EDQUOT on a mountpath marks it full (``FullMarks.mark``) and
goes on to the next mountpath of the placement order: a full disk is not a broken one
(health.py never counts it as an I/O error). A mountpath marked full is skipped by later
writes until ``RECHECK_SECONDS`` have passed; then its free space is looked at again
(statvfs) and, with at least ``MIN_FREE`` bytes free, it takes writes again. Reads never
look at the marks.

When no mountpath with room is left for the copies a write needs, the write fails with
``insufficient_storage()``: 507 InsufficientStorage, an S3 error document from the S3 API
and the native API alike (docs/design-notes.md says why that code).
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from typing import TYPE_CHECKING

from ..errors import S3Error

if TYPE_CHECKING:
    from .mountpath import Mountpath

log = logging.getLogger(__name__)

FULL_ERRNOS = frozenset((errno.ENOSPC, errno.EDQUOT))
RECHECK_SECONDS = 5.0
MIN_FREE = 1 << 20


def is_full_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in FULL_ERRNOS


def insufficient_storage(resource: str = "") -> S3Error:
    return S3Error(
        "InsufficientStorage",
        "Storage backend has reached its minimum free drive threshold: no mountpath has "
        "room for this write. Please delete a few objects to proceed.",
        resource,
        status=507,
    )


class FullMarks:
    """Which mountpaths answered ENOSPC/EDQUOT lately (thread-safe)."""

    def __init__(self, recheck_seconds: float = RECHECK_SECONDS) -> None:
        self.recheck_seconds = recheck_seconds
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def mark(self, mp: Mountpath, exc: BaseException | None = None) -> None:
        with self._lock:
            first = mp.uuid not in self._until
            self._until[mp.uuid] = time.monotonic() + self.recheck_seconds
        if first:
            log.warning("mountpath %s is full (%s): writes go to the others", mp.root, exc)

    def is_full(self, mp: Mountpath) -> bool:
        until = self._until.get(mp.uuid)
        if until is None:
            return False
        if time.monotonic() < until:
            return True
        try:
            free = mp.capacity()["free"]
        except OSError:
            free = 0
        with self._lock:
            if free >= MIN_FREE:
                if self._until.pop(mp.uuid, None) is not None:
                    log.info("mountpath %s has room again (%d bytes free)", mp.root, free)
                return False
            self._until[mp.uuid] = time.monotonic() + self.recheck_seconds
        return True

    def full(self) -> list[str]:
        """The uuids marked full now (for stats)."""
        return list(self._until)
