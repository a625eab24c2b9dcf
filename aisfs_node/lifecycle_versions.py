"""The lifecycle worker's walk over a versioned bucket (``aisfs_node.lifecycle`` calls it).

One walk per bucket over the store's version listing (``Store.list_versions``: by key,
each key's newest first), under the longest prefix all the bucket's acting rules share,
a page of ``LIST_PAGE`` entries at a time (never the bucket in memory). The page after is
listed *before* the entries of a page are acted on: the listing resumes at the page's last
entry (key and version id), which a removal would otherwise take away. ``VersionTracker``
(sans-IO, ``aisfs.s3.lifecycle``) gives each entry its place in its key; the next entry's
key (the next page's first, at a page's end) tells whether a current delete marker is its
key's only version.

What ``lc.version_action`` decides is done through the store's ordinary deletes:
``EXPIRE`` is ``delete_object(bucket, key)`` (a delete marker; on a Suspended bucket the
null version is removed and a null marker replaces it), ``REMOVE`` is
``delete_object(bucket, key, version_id)``. The store's removal guard refuses a version
object lock protects (403 AccessDenied): counted in ``detail.locked_skipped``, the first
of a run logged, the walk goes on.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable

from aisfs.errors import S3Error
from aisfs.jobs import Job
from aisfs.s3 import lifecycle as lc
from aisfs.store.store import Store
from aisfs.store.types import VersionEntry, VersionPage

log = logging.getLogger("aisfs.lifecycle")

LIST_PAGE = 1000
MARKERS_ADDED = "delete_markers_added"
VERSIONS_REMOVED = "versions_removed"
MARKERS_REMOVED = "delete_markers_removed"
LOCKED = "locked_skipped"
COUNTERS = (MARKERS_ADDED, VERSIONS_REMOVED, MARKERS_REMOVED, LOCKED)

Visit = Callable[[VersionEntry, str | None], Awaitable[None]]


def _count(job: Job, name: str) -> None:
    job.detail[name] = int(job.detail.get(name, 0)) + 1


async def walk_versions(store: Store, bucket: str, prefix: str, visit: Visit,
                        page_size: int = LIST_PAGE) -> None:
    """``visit(entry, next_key)`` for every version under ``prefix``, in listing order;
    the next page is listed before a page's entries are visited."""
    page: VersionPage | None = await store.list_versions(bucket, prefix=prefix,
                                                         max_keys=page_size)
    while page is not None:
        after: VersionPage | None = None
        if page.is_truncated and page.entries and page.next_key_marker is not None:
            after = await store.list_versions(
                bucket, prefix=prefix, key_marker=page.next_key_marker,
                version_id_marker=page.next_version_id_marker or "", max_keys=page_size)
            if not after.entries:
                after = None
        entries = page.entries
        for i, entry in enumerate(entries):
            if i + 1 < len(entries):
                next_key: str | None = entries[i + 1].key
            else:
                next_key = after.entries[0].key if after is not None else None
            await visit(entry, next_key)
        page = after


async def _tags(store: Store, bucket: str, entry: VersionEntry) -> dict[str, str]:
    if entry.is_latest:
        info = await store.head_object(bucket, entry.key)
    else:
        info = await store.head_version(bucket, entry.key, entry.version_id)
    return dict(info.meta.tags or {})


class _Run:
    """One walk's state: the rules, the tracker, the job's counters."""

    def __init__(self, store: Store, bucket: str, rules: list[lc.LifecycleRule], job: Job,
                 day: int) -> None:
        self.store = store
        self.bucket = bucket
        self.rules = [r for r in rules if lc.rule_acts_on_versions(r)]
        self.job = job
        self.day = day
        self.tracker = lc.VersionTracker()
        self.logged_lock = False

    async def visit(self, entry: VersionEntry, next_key: str | None) -> None:
        view = self.tracker.view(entry.key, entry.size, entry.mtime_ns, entry.is_marker,
                                 next_key)
        name = f"{self.bucket}/{entry.key}?versionId={entry.version_id}"
        try:
            tags = None
            if not entry.is_marker and lc.needs_tags(self.rules, entry.key):
                tags = await _tags(self.store, self.bucket, entry)
            action = lc.version_action(self.rules, view, tags, time.time_ns(), self.day)
            if action == lc.EXPIRE:
                await self.store.delete_object(self.bucket, entry.key)
                _count(self.job, MARKERS_ADDED)
            elif action == lc.REMOVE:
                await self.store.delete_object(self.bucket, entry.key, entry.version_id)
                _count(self.job, MARKERS_REMOVED if entry.is_marker else VERSIONS_REMOVED)
                self.job.add(objects=1, nbytes=entry.size)
        except S3Error as e:
            if e.code == "AccessDenied":  # object lock: the store's removal guard
                _count(self.job, LOCKED)
                self.job.skip()
                if not self.logged_lock:
                    self.logged_lock = True
                    log.info("lifecycle: %s is locked (object lock), left; further locked "
                             "versions this run are counted, not logged", name)
            elif e.code not in ("NoSuchKey", "NoSuchVersion"):  # gone meanwhile
                self.job.object_failed(name, f"{e.code}: {e.message}")


async def expire_versions(store: Store, bucket: str, rules: list[lc.LifecycleRule], job: Job,
                          day: int, page_size: int = LIST_PAGE) -> None:
    """Apply the enabled Expiration, NoncurrentVersionExpiration and
    ExpiredObjectDeleteMarker rules to the versions of ``bucket`` (a versioned bucket)."""
    run = _Run(store, bucket, rules, job, day)
    if not run.rules:
        return
    prefix = os.path.commonprefix([r.filter.prefix for r in run.rules])
    await walk_versions(store, bucket, prefix, run.visit, page_size)
