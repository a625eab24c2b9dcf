"""The lifecycle worker: applies the buckets' enabled lifecycle rules at an interval.

Every ``interval()`` seconds (``[lifecycle] interval`` in node.toml, default 3600) the
worker looks at the store's buckets; those whose props hold lifecycle rules
(``aisfs.s3.lifecycle``; put by PutBucketLifecycleConfiguration) are worked through in one
job of kind ``lifecycle`` (``aisfs job show`` lists it, with the objects it deleted, the
uploads it aborted and, for versioned buckets, the delete markers it added and the locked
versions it left):

- a bucket never versioned: each enabled Expiration rule lists its prefix from the store a
  page at a time (never a bucket in memory), checks sizes from the listing and tags from
  the object's record (only when the rule has tags), and deletes the objects past expiry;
- a versioned bucket (Enabled or Suspended): one walk over its version listing, a page at
  a time (the next page is listed before the removals of the one before, so a removal
  never moves the listing's marker), each entry judged by ``lc.version_action``: an
  expired current version gets a delete marker (the store's delete: on a Suspended bucket
  the null version goes and a null marker replaces it), a noncurrent version past
  NoncurrentDays (beyond NewerNoncurrentVersions) and an expired object delete marker are
  removed for good. A version object lock protects is refused by the store's removal
  guard (AccessDenied): the worker counts it (``detail.locked_skipped``), logs the first
  of a run, and goes on;
- each enabled AbortIncompleteMultipartUpload rule aborts the bucket's uploads under its
  prefix older than DaysAfterInitiation.

``day_ns()`` is the length of a lifecycle "day" (``[lifecycle] day_seconds``, default
86400), as RGW's ``rgw_lc_debug_interval``: tests set 1 to see a ``Days=1`` rule act within
seconds. The same day length decides the ``x-amz-expiration`` header
(``aisfs_node.s3.lifecycle``). The environment variables ``AISFS_LC_DAY_SECONDS`` and
``AISFS_LC_INTERVAL`` override the config (tests use them).

An object rewritten between the listing and the delete is judged by the listing's time
(the store has no conditional delete); the next run would not have deleted it.
"""

from __future__ import annotations

import functools
import logging
import os
import time

import trio

from aisfs.errors import S3Error
from aisfs.jobs import Job
from aisfs.s3 import lifecycle as lc
from aisfs.store.store import Store
from aisfs.store.types import ListEntry
from aisfs.store.versions import versioning
from aisfs_node import lifecycle_versions
from aisfs_node.jobs import JobRunner

log = logging.getLogger("aisfs.lifecycle")

LIFECYCLE = "lifecycle"  # the job kind
PROP = "lifecycle"  # the bucket prop holding the rules (rules_to_json)
LIST_PAGE = 1000
DEFAULT_DAY_SECONDS = 86_400.0
DEFAULT_INTERVAL = 3_600.0


_configured = {"day_seconds": DEFAULT_DAY_SECONDS, "interval": DEFAULT_INTERVAL}


def configure(day_seconds: float, interval_seconds: float) -> None:
    """The node's ``[lifecycle]`` settings (before the worker starts); the environment
    variables still win."""
    if day_seconds > 0:
        _configured["day_seconds"] = day_seconds
    if interval_seconds > 0:
        _configured["interval"] = interval_seconds
    day_ns.cache_clear()


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        value = float(raw) if raw else default
    except ValueError:
        log.warning("%s=%r is not a number of seconds: %s used", name, raw, default)
        return default
    return value if value > 0 else default


@functools.cache
def day_ns() -> int:
    """The length of a lifecycle day in ns (``AISFS_LC_DAY_SECONDS``, else the config)."""
    seconds = _env_seconds("AISFS_LC_DAY_SECONDS", _configured["day_seconds"])
    return max(1, int(seconds * 1e9))


def interval() -> float:
    """Seconds between two runs (``AISFS_LC_INTERVAL``, else the config)."""
    return _env_seconds("AISFS_LC_INTERVAL", _configured["interval"])


async def bucket_rules(store: Store) -> dict[str, list[lc.LifecycleRule]]:
    """The buckets with at least one enabled rule, and their rules."""
    out: dict[str, list[lc.LifecycleRule]] = {}
    for info in await store.list_buckets():
        rules = lc.rules_from_json(info.props.get(PROP))
        if any(lc.rule_acts_on_versions(r) or (r.enabled and r.abort_days is not None)
               for r in rules):
            out[info.name] = rules
    return out


async def _expired(store: Store, bucket: str, rule: lc.LifecycleRule, entry: ListEntry,
                   now_ns: int, day: int) -> bool:
    f = rule.filter
    if not lc.filter_matches(lc.LifecycleFilter(
            prefix=f.prefix, size_greater_than=f.size_greater_than,
            size_less_than=f.size_less_than), entry.key, entry.size, None):
        return False
    when = lc.rule_expiry_ns(rule, entry.mtime_ns, day)
    if when is None or now_ns < when:
        return False
    if f.needs_tags:
        info = await store.head_object(bucket, entry.key)
        return lc.filter_matches(f, info.key, info.size, info.meta.tags)
    return True


async def expire_objects(store: Store, bucket: str, rule: lc.LifecycleRule, job: Job,
                         day: int) -> None:
    """Delete the objects ``rule`` has expired, listing its prefix a page at a time."""
    after = ""
    while True:
        page = await store.list_objects(bucket, prefix=rule.filter.prefix,
                                        start_after=after, max_keys=LIST_PAGE)
        now_ns = time.time_ns()
        for entry in page.entries:
            try:
                if await _expired(store, bucket, rule, entry, now_ns, day):
                    await store.delete_object(bucket, entry.key)
                    job.add(objects=1, nbytes=entry.size)
            except S3Error as e:
                if e.code != "NoSuchKey":  # gone meanwhile: nothing to do
                    job.object_failed(f"{bucket}/{entry.key}", f"{e.code}: {e.message}")
        if not page.is_truncated or not page.entries:
            return
        after = page.entries[-1].key


async def abort_uploads(store: Store, bucket: str, rules: list[lc.LifecycleRule], job: Job,
                        day: int) -> None:
    """Abort the incomplete multipart uploads an enabled rule has made due."""
    if not any(r.enabled and r.abort_days is not None for r in rules):
        return
    now_ns = time.time_ns()
    for up in await store.list_uploads(bucket):
        if any(lc.upload_abort_due(r, up.key, up.initiated_ns, now_ns, day) for r in rules):
            try:
                await store.abort_upload(up.upload_id, bucket, up.key)
            except S3Error as e:
                if e.code != "NoSuchUpload":
                    job.object_failed(f"{bucket}/{up.key}", f"{e.code}: {e.message}")
                continue
            job.detail["uploads_aborted"] = int(job.detail.get("uploads_aborted", 0)) + 1


async def apply_rules(store: Store, buckets: dict[str, list[lc.LifecycleRule]], job: Job,
                      day: int) -> None:
    """One run over ``buckets``: expirations (of objects, or of versions in a versioned
    bucket), then aborts."""
    for bucket, rules in buckets.items():
        try:
            if versioning((await store.get_bucket(bucket)).props) is not None:
                await lifecycle_versions.expire_versions(store, bucket, rules, job, day)
            else:
                for rule in rules:
                    if rule.enabled and rule.expires:
                        await expire_objects(store, bucket, rule, job, day)
            await abort_uploads(store, bucket, rules, job, day)
        except S3Error as e:
            if e.code != "NoSuchBucket":  # deleted meanwhile
                raise


async def run_once(store: Store, runner: JobRunner) -> Job | None:
    """Start one run as a ``lifecycle`` job and wait for its end; None: nothing to do."""
    buckets = await bucket_rules(store)
    if not buckets:
        return None
    day = day_ns()

    async def work(job: Job) -> None:
        job.detail["uploads_aborted"] = 0
        for name in lifecycle_versions.COUNTERS:
            job.detail[name] = 0
        await apply_rules(store, buckets, job, day)

    job = runner.start(Job(kind=LIFECYCLE, buckets=tuple(f"ais://{b}" for b in buckets)),
                       work)
    return await runner.wait(job.id)


async def serve(store: Store, runner: JobRunner) -> None:
    """Run the rules every ``interval()`` seconds, for as long as the node runs."""
    pause = interval()
    while True:
        await trio.sleep(pause)
        try:
            await run_once(store, runner)
        except Exception:
            log.exception("lifecycle run failed")
