"""``prefetch-listrange``: objects of a remote bucket fetched into the cache.

The objects are a list, a template range, or a prefix listed from the backend a page at a
time (never the whole listing in memory). Each goes through the cold-GET fill path
(``RemoteObjects.fetch``: one backend GET streamed into the store, in the worker's own
task, no relay; a concurrent client GET of the same object shares the flight),
``prefetch_workers`` at once, each done when its object is committed. An object already
cached is skipped; with ``latest`` (AIS's ``latest-ver``) it is checked with the backend
first and fetched again if it changed. A per-object failure fails the job unless the
request said ``continue-on-error`` (``coer``), then it is counted and the job goes on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aisfs.backend import RemoteObjects, Resolved
from aisfs.errors import S3Error
from aisfs.jobs import PREFETCH, Job, Selection

from .runner import JobRunner, JobWork, error_text, for_each

MIN_WORKERS = 4
LIST_PAGE = 1000


def prefetch_workers(remote: RemoteObjects, rb: Resolved) -> int:
    """Objects in flight at once: a quarter of the backend's connections (at least 4)."""
    settings = rb.settings
    slots = settings.max_concurrency if settings is not None else 64
    return max(MIN_WORKERS, slots // 4)


async def listed_keys(remote: RemoteObjects, rb: Resolved, prefix: str) -> AsyncIterator[str]:
    """The backend's keys under ``prefix``, one page in memory at a time."""
    token = ""
    while True:
        page = await remote.list_page(rb, prefix=prefix, token=token, page_size=LIST_PAGE)
        for entry in page.entries:
            yield entry.key
        if not page.next_token:
            return
        token = page.next_token


async def prefetch_one(remote: RemoteObjects, rb: Resolved, key: str, *, latest: bool) -> int:
    """Fetch ``key`` into the cache; the bytes fetched (-1: it was cached already, or a
    concurrent GET brought it). Returns once the copy is committed
    (``RemoteObjects.fetch``: the fill runs in this task, nothing relayed)."""
    return await remote.fetch(rb, key, latest=latest)


def prefetch_work(remote: RemoteObjects, rb: Resolved, sel: Selection,
                  workers: int | None = None) -> JobWork:
    async def work(job: Job) -> None:
        job.objects_total = sel.count()
        prefix = sel.prefix

        async def one(key: str) -> None:
            # each object is committed when its worker is done: the job ends with every
            # object in the cache
            try:
                fetched = await prefetch_one(remote, rb, key, latest=sel.latest)
            except S3Error as e:
                if not sel.continue_on_error:
                    raise S3Error(e.code, f"{rb.bucket}/{key}: {e.message}", e.resource,
                                  status=e.status) from None
                job.object_failed(key, error_text(e))
                return
            if fetched < 0:
                job.skip()
            else:
                job.add(objects=1, nbytes=fetched)

        names = listed_keys(remote, rb, prefix) if prefix is not None else sel.named()
        limit = workers or (1 if sel.workers < 0 else sel.workers)
        await for_each(names, one, limit or prefetch_workers(remote, rb))

    return work


def start_prefetch(runner: JobRunner, rb: Resolved, sel: Selection,
                   workers: int | None = None) -> Job:
    assert runner.remote is not None
    job = Job(kind=PREFETCH, buckets=(rb.bucket.uri,), detail=sel.describe())
    return runner.start(job, prefetch_work(runner.remote, rb, sel, workers))
