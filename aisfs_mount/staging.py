"""Files open for writing: staged in the write cache, uploaded on flush, fsync and close.

A file is staged at its first change (downloaded whole, or up to the truncation point,
or not at all for O_TRUNC) and uploaded on flush (every close), fsync, and at the last
release if still dirty: when close() or fsync() returns 0 the data is on the server. A
failed upload fails that close()/fsync() with EIO and keeps the stage; the last release
retries once, then moves it to the cache's lost+found.

A file written only at its end since it was created or truncated to 0 gets write-behind
(`aisfs_mount/writebehind.py`) once it passes `START_AT`; any other write abandons it.
"""

from __future__ import annotations

import logging
import os

import trio

from aisfs_mount.backend import Backend, ObjectInfo
from aisfs_mount.deletes import Deletes
from aisfs_mount.dirs import DirCache
from aisfs_mount.inodes import Inode, InodeTable, meta_of, now_ns
from aisfs_mount.paths import Layout
from aisfs_mount.stats import Stats
from aisfs_mount.writebehind import START_AT, WriteBehind
from aisfs_mount.writecache import WriteCache

log = logging.getLogger(__name__)


class Stager:
    def __init__(self, cache: WriteCache, backend: Backend, layout: Layout, dirs: DirCache,
                 stats: Stats, nursery: trio.Nursery, deletes: Deletes, *,
                 write_behind: bool, timeout: float) -> None:
        self.cache = cache
        self.backend = backend
        self.layout = layout
        self.dirs = dirs
        self.stats = stats
        self.nursery = nursery
        self.deletes = deletes  # an unlinked namesake's DELETE goes before the upload
        self.write_behind = write_behind and backend.write_behind
        self.timeout = timeout
        # where each file written only at its end so far ends, and the uploads running for
        # those past START_AT
        self.seq_end: dict[int, int] = {}
        self.behind: dict[int, WriteBehind] = {}

    def created(self, inode: Inode) -> None:
        """A new, empty file: writes from 0 on are sequential."""
        self.seq_end[inode.ino] = 0

    async def stage(self, inode: Inode, upto: int | None) -> None:
        """Make a local copy to write to: the whole object, its first `upto` bytes, or none."""
        if inode.stage is not None:
            return
        stage = self.cache.create()
        try:
            size = inode.attrs.size
            n = size if upto is None else min(upto, size)
            if inode.remote and n > 0 and inode.path is not None:
                self.cache.resize(stage, n)
                bucket, key = self.layout.key(inode.path)
                got = await self.backend.get_to_fd(bucket, key, stage.fd, n)
                if got < n:
                    n = got
            os.ftruncate(stage.fd, n)
            self.cache.resize(stage, n)
        except BaseException:
            self.cache.drop(stage)
            raise
        inode.stage = stage
        inode.attrs.size = n

    async def write(self, inode: Inode, off: int, buf: bytes) -> None:
        """Write `buf` at `off` into the stage (made first); the caller holds inode.lock."""
        if inode.stage is None:
            await self.stage(inode, upto=None)
        stage = inode.stage
        assert stage is not None
        end = off + len(buf)
        if end > stage.size:
            self.cache.resize(stage, end)
        os.pwrite(stage.fd, buf, off)
        self._track_write(inode, off, len(buf))
        if end > inode.attrs.size:
            inode.attrs.size = end
        inode.attrs.mtime_ns = now_ns()
        inode.dirty = True

    async def truncate(self, inode: Inode, size: int) -> None:
        """Cut or extend the stage (made first, up to `size`) to `size` bytes; the caller
        holds inode.lock and sets the attributes."""
        if inode.stage is None:
            await self.stage(inode, upto=size)
        assert inode.stage is not None
        self.cache.resize(inode.stage, max(size, inode.stage.size))
        os.ftruncate(inode.stage.fd, size)
        self.cache.resize(inode.stage, size)
        self.stop_behind(inode, sequential_from=0 if size == 0 else None)

    def _track_write(self, inode: Inode, off: int, n: int) -> None:
        """Note a write of `n` bytes at `off`; feed or start the file's write-behind."""
        end = self.seq_end.get(inode.ino)
        if end is None:
            return
        if off != end:
            self.stop_behind(inode)  # not sequential any more: close uploads it whole
            return
        end += n
        self.seq_end[inode.ino] = end
        wb = self.behind.get(inode.ino)
        if wb is None:
            if (end <= START_AT or inode.stage is None or inode.path is None
                    or not self.write_behind):
                return
            bucket, key = self.layout.key(inode.path)
            wb = WriteBehind(self.backend, bucket, key, inode.stage.fd, self.nursery,
                             meta_of(inode), inode.attrs.content_type)
            self.behind[inode.ino] = wb
        wb.written(end)

    def stop_behind(self, inode: Inode, sequential_from: int | None = None) -> None:
        """Abandon the file's write-behind; `sequential_from`: writes from there on count
        as sequential again (after a truncate to it), else none do until the next one."""
        wb = self.behind.pop(inode.ino, None)
        if wb is not None:
            wb.abandon()
        if sequential_from is None:
            self.seq_end.pop(inode.ino, None)
        else:
            self.seq_end[inode.ino] = sequential_from

    async def upload(self, inode: Inode) -> None:
        """Put the stage of `inode` to the server if it holds anything new."""
        async with inode.lock:
            await self.upload_locked(inode)

    async def upload_locked(self, inode: Inode) -> None:
        stage = inode.stage
        if stage is None or not inode.dirty or inode.unlinked or inode.path is None:
            return
        await self.deletes.done(inode.path)
        if inode.unlinked or inode.path is None:
            return
        bucket, key = self.layout.key(inode.path)
        size = os.fstat(stage.fd).st_size
        meta, ct = meta_of(inode), inode.attrs.content_type
        wb = self.behind.pop(inode.ino, None)
        try:
            etag = await wb.finish(key, size, meta, ct) if wb is not None else None
            if etag is not None:
                self.stats.write_behind += 1
                info = ObjectInfo(key, size, 0, etag, dict(meta))
            else:
                info = await self.backend.put_fd(bucket, key, stage.fd, size, meta, ct)
        except BaseException:
            self.stats.upload_failures += 1
            raise
        self.stats.uploads += 1
        inode.dirty = False
        inode.remote = True
        inode.attrs.etag = info.etag
        inode.attrs.ctime_ns = now_ns()
        self.dirs.note_add(inode.path, inode.kind)

    async def release(self, inode: Inode) -> None:
        """The last close of a staged file: upload what is dirty (else keep it in
        lost+found), then drop the stage."""
        async with inode.lock:
            if inode.dirty and not inode.unlinked and inode.path is not None:
                try:
                    await self.upload_locked(inode)
                except Exception as e:
                    self._keep(inode, inode.path, "at last close", e)
            self.stop_behind(inode)  # before its stage (the parts' source) goes
            if inode.stage is not None:
                self.cache.drop(inode.stage)
                inode.stage = None
            inode.dirty = False

    async def flush_all(self, table: InodeTable) -> None:
        """At exit: upload what is still dirty, else keep it in lost+found."""
        for inode in list(table.by_ino.values()):
            if inode.stage is None:
                continue
            if inode.dirty and not inode.unlinked and inode.path is not None:
                try:
                    with trio.fail_after(self.timeout * 2):
                        await self.upload(inode)
                except Exception as e:
                    self._keep(inode, inode.path, "at unmount", e)
                    continue
            self.stop_behind(inode)
            self.cache.drop(inode.stage)
            inode.stage = None

    def _keep(self, inode: Inode, path: str, when: str, error: Exception) -> None:
        assert inode.stage is not None
        bucket, key = self.layout.key(path)
        where = self.cache.keep(inode.stage, bucket, key)
        self.stats.kept.append(str(where))
        log.error("upload of %s/%s failed %s (%s); data kept in %s",
                  bucket, key, when, error, where)
        inode.stage = None
