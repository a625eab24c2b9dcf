"""rename(2) of a file or a directory, once fs.py has checked its arguments (`Renamer`).

A file's object is renamed by the store (or its staged copy uploaded under the new name
when it holds news); a directory is one prefix rename. POSIX's rules for replacing an
existing target are checked first, and the inode table and listings follow the move.
"""

from __future__ import annotations

import errno
import os

import pyfuse3

from aisfs_mount.backend import Backend
from aisfs_mount.dirs import DirCache
from aisfs_mount.inodes import DIR, Inode, InodeTable, meta_of, now_ns
from aisfs_mount.paths import Layout
from aisfs_mount.resolver import Resolver
from aisfs_mount.staging import Stager

RENAME_NOREPLACE = 1


class Renamer:
    def __init__(self, backend: Backend, layout: Layout, table: InodeTable, dirs: DirCache,
                 resolver: Resolver, stager: Stager) -> None:
        self.backend = backend
        self.layout = layout
        self.table = table
        self.dirs = dirs
        self.resolver = resolver
        self.stager = stager

    async def rename(self, old: str, new: str, flags: int) -> None:
        src = await self.resolver.resolve(old)
        if src is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        dst = await self.resolver.resolve(new)
        if dst is src:
            return
        if dst is not None:
            await self._may_replace(src, dst, flags)
        if src.kind == DIR:
            bucket, src_prefix = self.layout.prefix_of(old)
            _, dst_prefix = self.layout.prefix_of(new)
            if dst is not None:
                await self.backend.delete(bucket, dst_prefix)
            await self.backend.rename_prefix(bucket, src_prefix, dst_prefix)
        else:
            await self._rename_file(src, old, new)
        if dst is not None:
            dst.unlinked = True
            dst.remote = False
            self.table.detach(dst)
        self.dirs.note_remove(old)
        self.table.move(src, new)
        src.attrs.ctime_ns = now_ns()
        self.dirs.note_add(new, src.kind)
        if src.kind == DIR:
            self.dirs.forget(new)

    async def _may_replace(self, src: Inode, dst: Inode, flags: int) -> None:
        """POSIX's checks of a rename of `src` onto the existing `dst`; an open `dst` is
        staged first, so its open descriptors keep its data."""
        if flags & RENAME_NOREPLACE:
            raise pyfuse3.FUSEError(errno.EEXIST)
        if src.kind == DIR and dst.kind != DIR:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        if src.kind != DIR and dst.kind == DIR:
            raise pyfuse3.FUSEError(errno.EISDIR)
        if dst.kind == DIR and not await self.resolver.is_empty(dst):
            raise pyfuse3.FUSEError(errno.ENOTEMPTY)
        if dst.kind != DIR and dst.opens > 0 and dst.stage is None and dst.remote:
            async with dst.lock:
                await self.stager.stage(dst, upto=None)

    async def _rename_file(self, src: Inode, old: str, new: str) -> None:
        """Move a file's object: its stage goes up under the new name if it holds news,
        else the store renames it."""
        bucket, src_key = self.layout.key(old)
        _, dst_key = self.layout.key(new)
        async with src.lock:
            if src.stage is not None and (src.dirty or not src.remote):
                size = os.fstat(src.stage.fd).st_size
                await self.backend.put_fd(bucket, dst_key, src.stage.fd, size,
                                          meta_of(src), src.attrs.content_type)
                if src.remote:
                    await self.backend.delete(bucket, src_key)
                src.dirty = False
                src.remote = True
            else:
                await self.backend.rename_object(bucket, src_key, dst_key)
