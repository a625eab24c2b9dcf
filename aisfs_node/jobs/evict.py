"""``evict-listrange`` and ``evict-remote-bck``: cached copies dropped, the remote kept.

A list or a template range names the objects; a prefix (or the whole bucket) is listed
from the *store* (what is cached), a page at a time. ``evict-remote-bck`` evicts every
cached object; unless asked to keep the bucket's metadata (AIS's ``keep_bck_md``), an
``s3://`` bucket's props are dropped too (its store bucket made anew: the next use finds
it as discovered), and its inventories (``aisfs_node.inventory``) with them. An ``ais://``
bucket with ``backend_bck`` keeps its props always.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable

from aisfs.backend import Provider, RemoteObjects, Resolved
from aisfs.errors import S3Error
from aisfs.jobs import EVICT_BUCKET, EVICT_OBJECTS, Job, Selection, Template
from aisfs_node.inventory import drop_bucket as drop_inventories

from .runner import JobRunner, JobWork, for_each

log = logging.getLogger("aisfs.jobs")

EVICT_WORKERS = 8
LIST_PAGE = 1000


async def cached_keys(remote: RemoteObjects, rb: Resolved,
                      prefix: str) -> AsyncIterator[tuple[str, int]]:
    """The keys cached under ``prefix`` and their sizes, a page at a time (eviction while
    listing is safe: each page starts after the last key seen)."""
    after = ""
    while True:
        try:
            page = await remote.store.list_objects(rb.local, prefix=prefix, start_after=after,
                                                   max_keys=LIST_PAGE)
        except S3Error as e:
            if e.code == "NoSuchBucket":
                return
            raise
        for entry in page.entries:
            yield entry.key, entry.size
        if not page.is_truncated or not page.entries:
            return
        after = page.entries[-1].key


async def _sized(names: Iterable[str], remote: RemoteObjects,
                 rb: Resolved) -> AsyncIterator[tuple[str, int]]:
    """A list's or a range's names with their cached copies' sizes (0: none cached)."""
    for key in names:
        info = await remote.local(rb, key)
        yield key, info.size if info is not None else 0


def evict_work(remote: RemoteObjects, rb: Resolved, sel: Selection, *,
               drop_props: bool = False) -> JobWork:
    async def work(job: Job) -> None:
        job.objects_total = sel.count()
        prefix = sel.prefix

        async def one(item: tuple[str, int]) -> None:
            key, size = item
            if await remote.evict(rb, key):
                job.add(objects=1, nbytes=size)  # the bytes the cache gave back
            else:
                job.skip()

        names = (cached_keys(remote, rb, prefix) if prefix is not None
                 else _sized(sel.named(), remote, rb))
        await for_each(names, one, EVICT_WORKERS)
        if prefix is not None:  # cold GETs in the air: what they bring is not cached
            job.add(objects=await remote.evict_in_air(rb, prefix))
        if drop_props:
            await _drop_props(remote, rb)

    return work


async def _drop_props(remote: RemoteObjects, rb: Resolved) -> None:
    """An ``s3://`` bucket's store bucket made anew (its props back to the defaults)."""
    if rb.bucket.provider is Provider.AIS:
        return
    store = remote.store
    try:
        await store.delete_bucket(rb.local)
    except S3Error as e:
        log.info("%s: props kept (%s)", rb.bucket, e.message)
        return
    await drop_inventories(store, rb.bucket)  # the bucket's metadata, as AIS drops them
    await store.create_bucket(rb.local, {"provider": rb.bucket.provider.value})


def start_evict(runner: JobRunner, rb: Resolved, sel: Selection) -> Job:
    assert runner.remote is not None
    job = Job(kind=EVICT_OBJECTS, buckets=(rb.bucket.uri,), detail=sel.describe())
    return runner.start(job, evict_work(runner.remote, rb, sel))


def start_evict_bucket(runner: JobRunner, rb: Resolved, *, keep_props: bool) -> Job:
    assert runner.remote is not None
    job = Job(kind=EVICT_BUCKET, buckets=(rb.bucket.uri,), detail={"keep_md": keep_props})
    sel = Selection(template=Template(""))
    return runner.start(job, evict_work(runner.remote, rb, sel, drop_props=not keep_props))
