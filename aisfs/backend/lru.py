"""LRU eviction of cached remote objects past the high watermark (AIS ``space.highwm``,
``space.lowwm``, ``lru.*``).

What may be evicted: the cached copies of remote objects only - objects of an ``s3://``
bucket's store bucket, or of an ``ais://`` bucket with ``backend_bck``, each carrying the
backend's record (``cachemeta``: a copy is published with it only once the backend has
acknowledged the object: a write-through PUT, a multipart upload or a fill in flight has
no such copy yet). Never an object of a plain ``ais://`` bucket, nor one written to an
``ais://`` bucket before its ``backend_bck`` was set (no record: the backend may not have
it), nor any object of a bucket whose prop ``lru.enabled`` is false.

The run (``evict_lru``) is sans-IO: given the file systems' usage, the coldest
candidates page by page and an evict function, it starts only when a file system is
above ``highwm``, evicts least recently used first - never one accessed within
``dont_evict_time`` - and stops once every file system it started for is under
``lowwm`` (measured again each time the bytes evicted should have got there: shared
chunks free less than an object's size), or when nothing is left to evict.
``run_lru_sync`` binds it to a store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import S3Error
from ..store import Store
from ..store.lru import (
    Candidate,
    FsUsage,
    access_times,
    coldest_sync,
    evict_sync,
    forget_gone_sync,
    fs_usage_sync,
)
from ..store.types import BucketInfo
from .cachemeta import REMOTE
from .provider import Provider, backend_bck, bucket_of_local
from .settings import prop

log = logging.getLogger(__name__)

PAGE = 10_000  # candidates read from the index at a time (each page is a scan: ~0.5 s a 200k)
# the JSON path (in ObjectMeta.extra) only a backend-acknowledged copy has
ACKNOWLEDGED = f"$.{REMOTE}.source"


@dataclass(frozen=True, slots=True)
class Watermarks:
    lowwm: int  # percent used: a run stops under it
    highwm: int  # percent used: a run starts above it

    def over_high(self, u: FsUsage) -> bool:
        return u.used * 100 > self.highwm * u.total

    def excess(self, u: FsUsage) -> int:
        """Bytes to free for ``u`` to be under ``lowwm`` (0: it is)."""
        limit = self.lowwm * u.total // 100  # under lowwm: used < limit
        return max(0, u.used - limit + 1) if u.total else 0

    def need(self, usages: list[FsUsage], started: set[str]) -> int:
        """Bytes still to free: the most any file system of ``started`` is over lowwm."""
        return max((self.excess(u) for u in usages if u.fs in started), default=0)


@dataclass
class LruReport:
    """One run: what it found, what it evicted, where usage ended."""

    started: bool = False  # a file system was above highwm
    evicted: int = 0
    evicted_bytes: int = 0
    skipped: int = 0  # chosen, then left: read or replaced meanwhile
    reached_lowwm: bool = False
    before: list[FsUsage] = field(default_factory=list)
    after: list[FsUsage] = field(default_factory=list)

    def summary(self) -> str:
        def pct(us: list[FsUsage]) -> str:
            return ", ".join(f"{u.percent:.1f}%" for u in us) or "-"

        if not self.started:
            return f"usage {pct(self.before)}: under the high watermark, nothing to evict"
        end = "under the low watermark" if self.reached_lowwm else "nothing more to evict"
        return (f"usage {pct(self.before)} -> {pct(self.after)}: {self.evicted} objects "
                f"({self.evicted_bytes} bytes) evicted, {self.skipped} skipped; {end}")


def evict_lru(
    usage: Callable[[], list[FsUsage]],
    coldest: Callable[[Candidate | None], list[Candidate]],
    evict: Callable[[Candidate], bool],
    marks: Watermarks,
    cutoff_ns: int,
    stop: Callable[[], bool] = lambda: False,
    report: LruReport | None = None,
) -> LruReport:
    """Evict least recently used first until the file systems that were above
    ``marks.highwm`` are under ``marks.lowwm``. ``coldest(after)``: the next page of
    candidates, by access time, past ``after``; none accessed at or after ``cutoff_ns``
    is evicted. ``report`` is filled as the run goes (a caller may show it meanwhile)."""
    rep = report if report is not None else LruReport()
    rep.before = usage()
    started = {u.fs for u in rep.before if marks.over_high(u)}
    rep.started = bool(started)
    need = marks.need(rep.before, started)
    last: Candidate | None = None
    while need > 0 and not stop():
        page = coldest(last)
        if not page:
            break
        for c in page:
            last = c
            if c.atime_ns >= cutoff_ns:
                need = 0  # the rest are more recent still
                break
            if not evict(c):
                rep.skipped += 1
                continue
            rep.evicted += 1
            rep.evicted_bytes += c.size
            need -= c.size
            if need <= 0:  # should be there: look again
                need = marks.need(usage(), started)
            if need <= 0 or stop():
                break
    rep.after = usage()
    rep.reached_lowwm = rep.started and marks.need(rep.after, started) <= 0
    return rep


def evictable(info: BucketInfo) -> bool:
    """Does the LRU look at this store bucket (a remote bucket's, ``lru.enabled``)?"""
    enabled = prop(info.props, "lru.enabled", True)
    if isinstance(enabled, str):
        enabled = enabled.strip().lower() not in ("false", "0", "no", "off")
    if not enabled:
        return False
    if bucket_of_local(info.name).provider is not Provider.AIS:
        return True
    try:
        return backend_bck(info.props) is not None
    except S3Error:
        return False


def evictable_buckets(store: Store) -> list[str]:
    rows = store.index.rows("SELECT name FROM buckets ORDER BY name")
    out = []
    for (name,) in rows:
        try:
            info = store.buckets.get_sync(name)
        except S3Error:  # destroyed meanwhile
            continue
        if evictable(info):
            out.append(name)
    return out


def run_lru_sync(
    store: Store,
    marks: Watermarks,
    dont_evict_seconds: float,
    stop: Callable[[], bool] = lambda: False,
    report: LruReport | None = None,
) -> LruReport:
    """One LRU run over ``store`` (blocking: a worker thread)."""
    access_times(store.index).flush_sync(store.index)
    cutoff = time.time_ns() - int(dont_evict_seconds * 1e9)
    buckets = evictable_buckets(store)
    rep = evict_lru(
        lambda: fs_usage_sync(store),
        lambda after: coldest_sync(store.index, buckets, cutoff, after, PAGE, ACKNOWLEDGED),
        lambda c: evict_sync(store, c, cutoff),
        marks, cutoff, stop, report,
    )
    if rep.evicted:
        forget_gone_sync(store.index)
    return rep
