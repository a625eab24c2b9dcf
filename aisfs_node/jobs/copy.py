"""``copy-bck`` / ``copy-listrange``: a bucket's objects copied to another bucket through
the node - ``ais://`` → ``s3://``, ``s3://`` → ``ais://``, ``s3://`` → ``s3://``,
``ais://`` → ``ais://`` (an ``ais://`` bucket with ``backend_bck`` counts as remote).

- **Which objects**: the source's under a prefix (listed a page at a time, from the
  store or the backend: never the whole listing in memory), or a list / template range
  (``copy-listrange``; a name of a range the source does not have is skipped, a listed
  name it does not have is an error).
- **Each object is streamed**: read from the store (a plain ``ais://`` source, or a
  remote source's cached copy - checked with the backend first under ``latest``) or
  from the backend (a remote source's object that is not cached: *not* cached by the
  copy), and written to the destination as it is read - a remote destination through
  the write-through PUT (``RemoteObjects.put``: the backend, multipart past its
  threshold, and the local copy), a local one through the store's PUT. Between two plain
  ``ais://`` buckets the store's copy shares the chunks (no bytes move). Never a whole
  object in memory; ``workers`` objects in flight at once, at most ``LARGE_IN_FLIGHT``
  of them larger than ``LARGE_OBJECT`` (their write-through buffers are what a copy's
  memory is).
- **Within one backend** (``s3://`` → ``s3://``, or ``ais://`` buckets with
  ``backend_bck``, the same endpoint and credentials): the backend's server-side copy
  (``RemoteObjects.copy``: one CopyObject, no bytes through the node), the source's
  metadata kept; the destination's cached copy is dropped and the copy does not cache it
  (the simple safe choice: the next GET fetches it). An object past one CopyObject's
  limit (5 GiB) is streamed as above. ``detail["server_side"]`` says which.
- **Overwrite and skip**: an object the destination has already, with the same size and
  ETag, is skipped (counted as such) unless ``force``; any other is overwritten.
  ``dry_run`` counts what would be copied and writes nothing. ``sync`` (AIS's
  ``--sync``), after a copy with no failed object: what the destination has under the
  copied names that the source has not is deleted (a merge of the two listings).
- **Abort** (``JobRunner.abort``) cancels the objects in flight: the store publishes
  only whole objects and a write-through PUT cut short aborts its multipart upload, so
  no destination object is ever half-written.
- Counters: ``objects_done``/``bytes_done`` copied, ``objects_skipped``, ``errors`` (a
  per-object failure fails the job unless ``continue_on_error``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import trio

from aisfs.backend import RemoteObjects, Resolved
from aisfs.backend.s3 import RemoteStream
from aisfs.crypto.envelope import refuse_encrypted
from aisfs.errors import S3Error
from aisfs.jobs import Job
from aisfs.jobs.copy import CopyRequest
from aisfs.store.types import ObjectInfo, ObjectMeta

from .evict import cached_keys
from .runner import JobRunner, JobWork, error_text, for_each

LIST_PAGE = 1000
# a large object's copy holds the write-through path's buffers (the tee, the multipart
# parts in flight: ~100-180 MiB measured, bench/copy_bck.py): at most this many at once
LARGE_OBJECT = 16 * 1024 * 1024
LARGE_IN_FLIGHT = 2


@dataclass(slots=True)
class Source:
    """One source object, open for reading: its attributes; its bytes are
    ``BucketCopy.body(source)``, read once; ``aclose`` it in any case."""

    key: str
    size: int
    etag: str
    meta: ObjectMeta
    local: ObjectInfo | None = None  # read from the store
    stream: RemoteStream | None = None  # read from the backend

    async def aclose(self) -> None:
        if self.stream is not None:
            await self.stream.aclose()


def _plain_meta(meta: ObjectMeta) -> ObjectMeta:
    """What a copy keeps: the client's metadata, never a cached copy's backend record."""
    return ObjectMeta(content_type=meta.content_type, user=dict(meta.user),
                      headers=dict(meta.headers))


class BucketCopy:
    """The copy of one job: its two buckets, the node's services, the request."""

    def __init__(self, remote: RemoteObjects, src: Resolved, dst: Resolved,
                 req: CopyRequest) -> None:
        self.remote = remote
        self.store = remote.store
        self.src = src
        self.dst = dst
        self.req = req
        self.large = trio.Semaphore(LARGE_IN_FLIGHT)
        # both buckets in one backend: its server-side copy (no bytes through the node)
        self.server_side = (src.is_remote and dst.is_remote and src.settings == dst.settings
                            and not req.dry_run)

    # == which objects ===================================================================

    async def listed(self, prefix: str, rb: Resolved | None = None) -> AsyncIterator[str]:
        """The keys of ``rb`` (the source by default) under ``prefix``, in order, a page
        at a time."""
        rb = rb or self.src
        if rb.is_remote:
            token = ""
            while True:
                page = await self.remote.list_page(rb, prefix=prefix, token=token,
                                                   page_size=LIST_PAGE)
                for entry in page.entries:
                    yield entry.key
                if not page.next_token:
                    return
                token = page.next_token
        async for key, _size in cached_keys(self.remote, rb, prefix):  # the store bucket's keys
            yield key

    @property
    def prefix(self) -> str:
        """The prefix listed: copy-bck's, or a copy-listrange template's without range."""
        sel = self.req.selection
        return (sel.prefix or "") if sel is not None else self.req.prefix

    def names(self) -> AsyncIterator[str] | Iterator[str]:
        sel = self.req.selection
        if sel is None or sel.prefix is not None:
            return self.listed(self.prefix)
        return sel.named()

    async def sync_deletions(self, job: Job) -> None:
        """``sync``: what the destination has under the copy's names (prepend + prefix)
        that the source has not is deleted - a merge of the two listings, both in key
        order, a page of each in memory. Counted in ``detail["deleted"]``."""
        src_keys = aiter(self.listed(self.prefix))
        current = await anext(src_keys, None)
        cut = len(self.req.prepend)
        job.detail["deleted"] = 0
        async for dst_key in self.listed(self.req.prepend + self.prefix, self.dst):
            key = dst_key[cut:]
            while current is not None and current < key:
                current = await anext(src_keys, None)
            if current == key:
                continue
            if not self.req.dry_run:
                if self.dst.is_remote:
                    await self.remote.delete(self.dst, dst_key)
                else:
                    await self.store.delete_object(self.dst.local, dst_key)
            job.detail["deleted"] += 1

    # == one object ======================================================================

    async def open_source(self, key: str) -> Source | None:
        """The source object, open; None when the source does not have it."""
        try:
            if not self.src.is_remote:
                info = await self.store.head_object(self.src.local, key, with_data=True)
                refuse_encrypted(info.meta.extra)  # its bytes are ciphertext (aisfs_node.s3.sse)
                return Source(key, info.size, info.etag, _plain_meta(info.meta), local=info)
            cached = await self.remote.local(self.src, key)
            if cached is not None:
                rb = (dataclasses.replace(self.src, validate_warm_get=True)
                      if self.req.latest else self.src)
                head = await self.remote.head(rb, key)
                if head.cached and head.info is not None:
                    info = head.info
                    return Source(key, info.size, head.attrs.etag, _plain_meta(info.meta),
                                  local=info)
            assert self.src.remote is not None
            stream = await self.remote.backend(self.src).open_object(self.src.remote.name, key)
            a = stream.attrs
            meta = ObjectMeta(content_type=a.content_type, user=dict(a.user),
                              headers=dict(a.headers))
            return Source(key, a.size, a.etag, meta, stream=stream)
        except S3Error as e:
            if e.code == "NoSuchKey":
                return None
            raise

    def body(self, s: Source) -> AsyncIterator[bytes]:
        if s.local is not None:
            return self.store.read_object(s.local, 0, s.local.size - 1)
        assert s.stream is not None
        return s.stream.pieces()

    async def dst_has(self, key: str, size: int, etag: str) -> bool:
        """Does the destination have this object already (same size and ETag)?"""
        try:
            if self.dst.is_remote:
                assert self.dst.remote is not None
                a = await self.remote.backend(self.dst).head_object(self.dst.remote.name, key)
                return a.size == size and a.etag == etag
            info = await self.store.head_object(self.dst.local, key)
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchBucket"):
                return False
            raise
        return info.size == size and info.etag == etag

    async def write(self, s: Source, key: str) -> None:
        """The source's bytes to the destination, streamed."""
        body = self.body(s)
        try:
            if self.dst.is_remote:
                await self.remote.put(self.dst, key, body, s.meta, size=s.size)
            else:
                await self.store.put_object(self.dst.local, key, body, s.meta,
                                            expected_size=s.size)
        finally:
            await body.aclose()  # type: ignore[attr-defined]

    async def copy_one(self, job: Job, key: str) -> None:
        """Copy ``key``, counted on ``job``."""
        dst_key = self.req.dst_key(key)
        if not self.src.is_remote and not self.dst.is_remote and not self.req.dry_run:
            await self._store_copy(job, key, dst_key)
            return
        if self.server_side and await self._server_copy(job, key, dst_key):
            return
        s = await self.open_source(key)
        if s is None:
            self._missing(job, key)
            return
        try:
            if not self.req.force and await self.dst_has(dst_key, s.size, s.etag):
                job.skip()
            elif self.req.dry_run:
                job.add(objects=1, nbytes=s.size)
            elif s.size > LARGE_OBJECT:
                async with self.large:
                    await self.write(s, dst_key)
                job.add(objects=1, nbytes=s.size)
            else:
                await self.write(s, dst_key)
                job.add(objects=1, nbytes=s.size)
        finally:
            await s.aclose()

    async def _store_copy(self, job: Job, key: str, dst_key: str) -> None:
        """ais → ais: the store's copy shares the chunks."""
        try:
            info = await self.store.head_object(self.src.local, key)
        except S3Error as e:
            if e.code != "NoSuchKey":
                raise
            self._missing(job, key)
            return
        if not self.req.force and await self.dst_has(dst_key, info.size, info.etag):
            job.skip()
            return
        await self.store.copy_object(self.src.local, key, self.dst.local, dst_key,
                                     _plain_meta(info.meta))
        job.add(objects=1, nbytes=info.size)

    async def _server_copy(self, job: Job, key: str, dst_key: str) -> bool:
        """Within one backend: its server-side copy (past one CopyObject's limit, its
        UploadPartCopy parts: S3Backend.copy_object), the destination not cached (its
        cached copy, if any, dropped). True: done with the key."""
        assert self.src.remote is not None
        try:
            a = await self.remote.backend(self.src).head_object(self.src.remote.name, key)
        except S3Error as e:
            if e.code != "NoSuchKey":
                raise
            self._missing(job, key)
            return True
        if not self.req.force and await self.dst_has(dst_key, a.size, a.etag):
            job.skip()
            return True
        await self.remote.copy(self.src, key, self.dst, dst_key, size=a.size)
        job.add(objects=1, nbytes=a.size)
        return True

    def _missing(self, job: Job, key: str) -> None:
        """Gone since it was listed, or a range's name the source never had: skipped;
        a name asked for by name: an error."""
        sel = self.req.selection
        if sel is not None and sel.names is not None:
            raise S3Error("NoSuchKey", f"{self.src.bucket}/{key}: no such object", key)
        job.skip()

    # == the job =========================================================================

    def work(self) -> JobWork:
        async def run(job: Job) -> None:
            sel = self.req.selection
            job.objects_total = sel.count() if sel is not None else None
            job.detail["server_side"] = self.server_side

            async def one(key: str) -> None:
                try:
                    await self.copy_one(job, key)
                except S3Error as e:
                    if not self.req.continue_on_error:
                        raise S3Error(e.code, f"{self.src.bucket}/{key}: {e.message}",
                                      e.resource, status=e.status) from None
                    job.object_failed(key, error_text(e))

            await for_each(self.names(), one, self.req.workers)
            if self.req.sync and not job.errors:
                await self.sync_deletions(job)

        return run


def check_copy(src: Resolved, dst: Resolved, req: CopyRequest) -> None:
    """A copy of a bucket onto itself (same objects, same names) is refused."""
    same = (src.local == dst.local) if not (src.is_remote or dst.is_remote) else (
        src.remote == dst.remote and src.settings == dst.settings)
    if same and not req.prepend:
        raise S3Error("InvalidArgument", f"cannot copy {src.bucket} onto itself "
                      "(give a different destination, or prepend)")


def start_copy(runner: JobRunner, src: Resolved, dst: Resolved, req: CopyRequest) -> Job:
    """Start the copy; the job (its id is what ``/v1`` answers)."""
    assert runner.remote is not None
    check_copy(src, dst, req)
    job = Job(kind=req.kind, buckets=(src.bucket.uri, dst.bucket.uri), detail=req.describe())
    return runner.start(job, BucketCopy(runner.remote, src, dst, req).work())
