"""Write-behind: the parts of a big file written sequentially go up while it is written.

Without it a file is uploaded when it is closed (or fsynced): writing 1 GiB takes the
time to fill the local stage plus the time of the multipart upload. A file whose every
write so far landed at its end, once it passes `START_AT`, gets a multipart upload at
once: each full `PART_SIZE` piece of the stage below the writer's position is sent as a
part (at most `IN_FLIGHT` at a time) from the stage file, while writing goes on. At close
the rest goes up as the last parts, the upload completes, and the object's metadata is
set to the file's final one (mode, owner, mtime change while it is written; on aisfs a
CopyObject onto itself is metadata only, which is why only the node backend uses this).

Nothing changes for the file's semantics: the stage keeps every byte until the upload has
completed; any write below what was sent (or a truncate, a rename, an unlink, a failed
part) abandons the upload (aborted in the background) and close uploads the stage whole,
as without write-behind.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVarTuple

import trio

from aisfs_mount.backend import Backend
from aisfs_mount.remote.s3 import PART_SIZE

log = logging.getLogger(__name__)

Ts = TypeVarTuple("Ts")

# a file that grows past this gets write-behind (one that ends here is one PUT at close)
START_AT = 64 << 20
IN_FLIGHT = 2
MAX_PARTS = 10_000


class WriteBehind:
    def __init__(
        self, backend: Backend, bucket: str, key: str, fd: int, nursery: trio.Nursery,
        meta: dict[str, str], content_type: str,
    ) -> None:
        self.backend = backend
        self.bucket = bucket
        self.key = key
        self.fd = fd
        self.nursery = nursery
        self.meta = meta
        self.content_type = content_type
        self.upload_id = ""
        self.initiating = False
        self.sent_upto = 0  # [0, sent_upto) is in parts started
        self.written_upto = 0
        self.parts_running = 0
        self.etags: dict[int, str] = {}
        self.error: BaseException | None = None
        self.abandoned = False
        self.tasks = 0
        self.idle = trio.Event()
        self.idle.set()
        self.scopes: set[trio.CancelScope] = set()

    # -- while the file is written ------------------------------------------------------

    def written(self, end: int) -> None:
        """The stage now holds [0, end) written in order: start the parts it completes."""
        self.written_upto = max(self.written_upto, end)
        if self.abandoned or self.error is not None:
            return
        if not self.upload_id:
            if not self.initiating:
                self.initiating = True
                self._spawn(self._initiate)
            return
        while (self.parts_running < IN_FLIGHT
               and self.written_upto - self.sent_upto >= PART_SIZE
               and self.sent_upto // PART_SIZE + 1 < MAX_PARTS):
            n = self.sent_upto // PART_SIZE + 1
            self.parts_running += 1
            self._spawn(self._part, n, self.sent_upto)
            self.sent_upto += PART_SIZE

    def _spawn(self, fn: Callable[[*Ts], Awaitable[None]], *args: *Ts) -> None:
        if self.tasks == 0:
            self.idle = trio.Event()
        self.tasks += 1
        self.nursery.start_soon(self._guard, fn, *args)

    async def _guard(
        self, fn: Callable[[*Ts], Awaitable[None]], *args: *Ts
    ) -> None:
        scope = trio.CancelScope()
        self.scopes.add(scope)
        try:
            with scope:
                if self.abandoned:
                    scope.cancel()
                await fn(*args)
        except Exception as e:
            if self.error is None:
                self.error = e
                log.info("write-behind of %s/%s stopped (%s): the whole file goes up "
                         "at close", self.bucket, self.key, e)
        finally:
            self.scopes.discard(scope)
            self.tasks -= 1
            if self.tasks == 0:
                self.idle.set()

    async def _initiate(self) -> None:
        upload_id = await self.backend.initiate_upload(
            self.bucket, self.key, self.meta, self.content_type)
        if self.abandoned:
            self.nursery.start_soon(
                self.backend.abort_upload, self.bucket, self.key, upload_id)
            return
        self.upload_id = upload_id
        self.written(self.written_upto)

    async def _part(self, n: int, start: int) -> None:
        try:
            self.etags[n] = await self.backend.upload_part(
                self.bucket, self.key, self.upload_id, n, self.fd, start, PART_SIZE)
        finally:
            self.parts_running -= 1
        self.written(self.written_upto)

    # -- at close -----------------------------------------------------------------------

    async def finish(
        self, key: str, size: int, meta: dict[str, str], content_type: str
    ) -> str | None:
        """Send the rest and complete; the object's ETag, or None when the caller must
        upload the stage whole (abandoned, failed, renamed, too small): then this upload
        is aborted."""
        await self.idle.wait()
        if (self.abandoned or self.error is not None or not self.upload_id or key != self.key
                or size < self.sent_upto or size < START_AT):
            self.abandon()
            return None
        rest = list(enumerate(range(self.sent_upto, size, PART_SIZE),
                              start=self.sent_upto // PART_SIZE + 1))
        if len(self.etags) + len(rest) > MAX_PARTS:
            self.abandon()
            return None
        limiter = trio.Semaphore(4)

        async def part(n: int, start: int) -> None:
            async with limiter:
                self.etags[n] = await self.backend.upload_part(
                    self.bucket, self.key, self.upload_id, n, self.fd, start,
                    min(PART_SIZE, size - start))

        try:
            async with trio.open_nursery() as nursery:
                for n, start in rest:
                    nursery.start_soon(part, n, start)
            etag = await self.backend.complete_upload(
                self.bucket, self.key, self.upload_id, self.etags)
        except Exception as e:
            log.info("write-behind of %s/%s failed at close (%s): uploading it whole",
                     self.bucket, self.key, e)
            self.abandon()
            return None
        self.upload_id = ""
        self.abandoned = True  # done: nothing more to send or abort
        if meta != self.meta or content_type != self.content_type:
            # the final mode/owner/mtime: on aisfs a metadata-only copy onto itself
            await self.backend.copy(self.bucket, self.key, self.key, meta, content_type)
        return etag

    def abandon(self) -> None:
        """Stop sending parts and abort the upload (in the background)."""
        if self.abandoned:
            return
        self.abandoned = True
        for scope in self.scopes:
            scope.cancel()
        if self.upload_id:
            upload_id, self.upload_id = self.upload_id, ""
            self.nursery.start_soon(
                self.backend.abort_upload, self.bucket, self.key, upload_id)
