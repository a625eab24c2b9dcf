"""The pyfuse3 operations: each checks its arguments, asks its collaborators, answers.

The mount's concerns live beside this module, each in its own object: where a path is in
the store (`aisfs_mount/paths.py`), the inode table and the metadata convention
(`aisfs_mount/inodes.py`), directory listings (`aisfs_mount/dirs.py`), resolving a path to an inode
(`aisfs_mount/resolver.py`), staged files and their uploads (`aisfs_mount/staging.py`), directory
markers (`aisfs_mount/markers.py`), renames (`aisfs_mount/renames.py`), reads with read-ahead
(`aisfs_mount/readahead.py`). Remote failures become errnos here, through
`fuse_errors` (`aisfs_mount/errnos.py`).

Unlink of an open file deletes the object at once; the open descriptors keep reading and
writing the staged copy (downloaded first if needed) until the last close, which then
discards it: the object does not come back, as on a local disk.

Caches. Attributes are trusted for `attr_timeout` seconds counted from when they were
read from the store, here and in the kernel (which gets what is left of it: `_entry`,
`_negative`); this mount's own changes are applied at once (docs/mount.md,
Consistency). Against plain S3 a listing carries no mode/owner/symlink metadata, so
readdir entries of files not yet known are handed out with zero timeouts and the kernel
asks again (lookup = HEAD) before it uses them.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyfuse3
import trio

from aisfs_mount.backend import Backend, Buffer, ObjectInfo
from aisfs_mount.deletes import Deletes
from aisfs_mount.dirs import DirCache
from aisfs_mount.errnos import fuse_errors
from aisfs_mount.feeds import Feeds
from aisfs_mount.inodes import (
    DIR,
    DIR_CONTENT_TYPE,
    FILE,
    LINK,
    Attrs,
    Defaults,
    Inode,
    InodeTable,
    attrs_from,
    entry_of,
    may_access,
    meta_of,
    negative_entry,
    now_ns,
)
from aisfs_mount.markers import Markers
from aisfs_mount.notify import Notify
from aisfs_mount.options import MountOptions
from aisfs_mount.paths import NAME_MAX, Layout, join, name_of, split
from aisfs_mount.readahead import Reader
from aisfs_mount.remote.node import NodeBackend
from aisfs_mount.renames import Renamer
from aisfs_mount.resolver import Resolver
from aisfs_mount.staging import Stager
from aisfs_mount.stats import Stats
from aisfs_mount.writecache import WriteCache

log = logging.getLogger(__name__)

EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"  # the ETag of a marker (an empty object)
RENAME_EXCHANGE = 2


@dataclass(slots=True)
class Handle:
    inode: Inode
    writable: bool
    reader: Reader | None = None


@dataclass(slots=True)
class DirHandle:
    inode: Inode
    entries: list[tuple[str, str, ObjectInfo | None]] | None = None
    as_of: float = 0.0  # when the listing the entries came from was read


class Fs(pyfuse3.Operations):
    supports_dot_lookup = False
    enable_writeback_cache = False

    # set by start(), before the first request comes
    backend: Backend
    nursery: trio.Nursery
    dirs: DirCache
    resolver: Resolver
    stager: Stager
    markers: Markers
    deletes: Deletes
    renamer: Renamer

    def __init__(self, opts: MountOptions, cache: WriteCache) -> None:
        super().__init__()
        self.opts = opts
        self.cache = cache
        self.layout = Layout.of(opts)
        self.limiter = trio.CapacityLimiter(16)
        self.ttl = opts.attr_timeout
        self.defaults = Defaults(opts.uid, opts.gid, opts.umask, now_ns())
        root = attrs_from(None, DIR, self.defaults, 0.0)
        root.fetched = float("inf")
        self.table = InodeTable(root)
        self.handles: dict[int, Handle] = {}
        self.dir_handles: dict[int, DirHandle] = {}
        self.next_fh = 1
        self.stats = Stats()
        # run (in a thread) once the kernel has our INIT answer: main sets the read-ahead
        self.after_init: Callable[[], None] | None = None

    def start(self, backend: Backend, nursery: trio.Nursery) -> None:
        """Serve with `backend`; background work (read-ahead, write-behind) in `nursery`."""
        self.backend = backend
        self.nursery = nursery
        self.dirs = DirCache(backend, self.layout, self.table, self.stats, self.ttl)
        self.dirs.nursery = nursery
        self.resolver = Resolver(backend, self.layout, self.table, self.dirs, self.defaults,
                                 self.stats, self.ttl)
        self.deletes = Deletes(backend, self.layout, self.dirs, self.stats, nursery)
        self.stager = Stager(self.cache, backend, self.layout, self.dirs, self.stats, nursery,
                             self.deletes, write_behind=self.opts.write_behind,
                             timeout=self.opts.timeout)
        self.markers = Markers(backend, self.layout, self.dirs, self.stats, nursery)
        self.renamer = Renamer(backend, self.layout, self.table, self.dirs, self.resolver,
                               self.stager)
        o = self.opts
        self.notify: Notify | None = None
        self.feeds: Feeds | None = None  # (`--all`: a feed per bucket looked into)
        if o.notify and isinstance(backend, NodeBackend) and o.attr_timeout:
            wait = max(1.0, min(15.0, o.timeout / 2))  # (a poll's answer within `timeout`)
            long = max(o.attr_timeout, o.notify_timeout)
            if o.all_buckets:
                self.feeds = Feeds(backend, self.table, self.dirs, o.attr_timeout, long,
                                   wait, nursery)
            else:
                self.notify = Notify(backend, o.bucket, o.prefix, self.table, self.dirs,
                                     self.set_ttl, o.attr_timeout, long, wait)
                nursery.start_soon(self.notify.run)

    def set_ttl(self, ttl: float) -> None:
        """How long what is read is trusted, here and in the kernel: `attr_timeout`, or
        `notify_timeout` while the change feed is live (aisfs_mount/notify.py)."""
        self.ttl = self.dirs.ttl = self.resolver.ttl = ttl

    async def flush_all(self) -> None:
        """At exit: upload what is still dirty, else keep it in lost+found; wait for the
        directory markers and the DELETEs still on their way."""
        await self.stager.flush_all(self.table)
        await self.markers.wait_all(self.opts.timeout * 2)
        await self.deletes.wait_all(self.opts.timeout * 2)

    def init(self) -> None:
        """FUSE INIT (synchronous; the answer goes out when this returns)."""
        if self.after_init is not None:
            self.nursery.start_soon(trio.to_thread.run_sync, self.after_init)

    def _new_fh(self) -> int:
        fh = self.next_fh
        self.next_fh += 1
        return fh

    def _entry(self, inode: Inode) -> pyfuse3.EntryAttributes:
        """The kernel keeps what it is told no longer than it holds: for what was read from
        the store, the rest of `attr_timeout` since (so another client's change shows
        within it); what this mount made or holds staged, the whole timeout."""
        t = self.dirs.attr_ttl(inode.path or "")
        if inode.remote and inode.stage is None:
            t = max(0.0, min(t, t - (trio.current_time() - inode.attrs.fetched)))
        return entry_of(inode, t, t)

    def _negative(self, path: str) -> pyfuse3.EntryAttributes:
        """A missing name, as long as what said so holds (the parent's listing or window,
        or the request made just now)."""
        parent = split(path)[0]
        age = trio.current_time() - self.dirs.as_of(parent)
        # (the kernel keeps a missing name attr_timeout at most, feed or not: the names it
        # was told are missing are not known here to be invalidated)
        return negative_entry(max(0.0, min(self.dirs.ttl_of(parent) - age,
                                           self.opts.attr_timeout)))

    def _child(self, parent_inode: int, name: bytes) -> tuple[Inode, str, str]:
        """The parent directory, the child's name and its path (ENOENT if the parent is gone)."""
        parent = self.table[parent_inode]
        n = name_of(name)
        if parent.path is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return parent, n, join(parent.path, n)

    # -- operations: metadata ----------------------------------------------------------

    async def lookup(
        self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        parent = self.table[parent_inode]
        if name in (b".", b".."):
            raise pyfuse3.FUSEError(errno.ENOENT)
        n = name_of(name)
        if parent.path is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        path = join(parent.path, n)
        try:  # (no coroutine, no context manager: free unless it raises)
            inode = self.resolver.known(path)
        except Exception:  # a bug must cost one operation, not the mount: resolve decides
            log.exception("lookup %r from memory: unexpected failure", path)
            inode = None
        if inode is None:
            with fuse_errors(f"lookup {path!r}"):
                inode = await self.resolver.resolve(path)
            if inode is None:
                if self.feeds is not None and parent.path:
                    self.feeds.touch(path)
                return self._negative(path)
        if self.feeds is not None:
            self.feeds.touch(path)
        inode.lookups += 1
        return self._entry(inode)

    async def forget(self, inode_list: Sequence[tuple[int, int]]) -> None:
        for ino, n in inode_list:
            self.table.forget(ino, n)

    async def getattr(
        self, inode: int, ctx: pyfuse3.RequestContext | None = None
    ) -> pyfuse3.EntryAttributes:
        node = self.table[inode]
        if self.feeds is not None and node.path:
            self.feeds.touch(node.path)
        if not (node.stage is not None or node.path is None or node.unlinked
                or (node.attrs.full and node.fresh(self.dirs.attr_ttl(node.path)))):
            with fuse_errors(f"getattr {node.path!r}"):
                await self.resolver.refresh(node)
        return self._entry(node)

    async def setattr(
        self,
        inode: int,
        attr: pyfuse3.EntryAttributes,
        fields: pyfuse3.SetattrFields,
        fh: int | None,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        node = self.table[inode]
        with fuse_errors(f"setattr {node.path!r}"):
            async with node.lock:
                await self._setattr_locked(node, attr, fields)
        return self._entry(node)

    async def _setattr_locked(
        self, node: Inode, attr: pyfuse3.EntryAttributes, fields: pyfuse3.SetattrFields
    ) -> None:
        if (node.path is not None and node.stage is None and node.remote and node.path != ""
                and not (node.attrs.full and node.attrs.exact
                         and node.fresh(self.dirs.attr_ttl(node.path)))):
            # a HEAD gives the exact metadata of others to keep through the rewrite
            node.attrs.server_s = -1
            node.attrs.fetched = -1e18
            await self.resolver.refresh(node)
        old = node.attrs
        new = dataclasses.replace(old, user_meta=dict(old.user_meta))
        data_changed = False
        if fields.update_size:
            if node.kind != FILE:
                raise pyfuse3.FUSEError(errno.EISDIR if node.kind == DIR else errno.EINVAL)
            await self.stager.truncate(node, attr.st_size)
            new.size = attr.st_size
            new.mtime_ns = now_ns()
            data_changed = True
        _apply_setattr(new, attr, fields)
        meta_changed = (new.perm, new.uid, new.gid, new.mtime_ns, new.atime_ns) != (
            old.perm, old.uid, old.gid, old.mtime_ns, old.atime_ns)
        if not (data_changed or meta_changed):
            return
        node.attrs = new
        if node.unlinked or node.path is None:
            return
        try:
            if node.stage is not None:
                node.dirty = True
                if node.writers == 0:  # nobody's close() will upload it: on the server now
                    await self.stager.upload_locked(node)
            else:
                await self._update_meta(node)
        except BaseException:
            if node.stage is None:
                node.attrs = old
            raise
        node.attrs.fetched = trio.current_time()
        node.attrs.full = True

    async def _update_meta(self, inode: Inode) -> None:
        """Write changed mode/owner/times of a not-staged object to the server."""
        path = inode.path
        if path is None:
            return
        if inode.kind == DIR:
            if path == "" and not self.opts.prefix or self.layout.is_bucket(path):
                raise pyfuse3.FUSEError(errno.EPERM)  # a bucket has no marker to hold them
            await self.markers.sent(path)
            bucket, prefix = self.layout.prefix_of(path)
            if path == "":
                prefix = self.opts.prefix
            await self.backend.put_bytes(bucket, prefix, b"", meta_of(inode), DIR_CONTENT_TYPE)
            inode.attrs.marker = True
        else:
            bucket, key = self.layout.key(path)
            await self.backend.copy(bucket, key, key, meta_of(inode), inode.attrs.content_type)
        inode.attrs.ctime_ns = now_ns()

    async def readlink(self, inode: int, ctx: pyfuse3.RequestContext) -> bytes:
        node = self.table[inode]
        if node.kind != LINK:
            raise pyfuse3.FUSEError(errno.EINVAL)
        with fuse_errors(f"readlink {node.path!r}"):
            if node.attrs.target is None and node.path is not None:
                bucket, key = self.layout.key(node.path)
                body = await self.backend.get_range(bucket, key, 0, max(node.attrs.size, 1))
                node.attrs.target = bytes(body).decode("utf-8", "surrogateescape")
        return (node.attrs.target or "").encode("utf-8", "surrogateescape")

    async def statfs(self, ctx: pyfuse3.RequestContext) -> pyfuse3.StatvfsData:
        sv = pyfuse3.StatvfsData()
        bsize = 4096
        total = free = 1 << 50  # plain S3 has no capacity: say 1 PiB, free
        with fuse_errors("statfs"):
            cap = await self.backend.capacity()
        if cap is not None:
            total, free = cap.total_bytes, cap.free_bytes
        sv.f_bsize = bsize
        sv.f_frsize = bsize
        sv.f_blocks = total // bsize
        sv.f_bfree = free // bsize
        sv.f_bavail = free // bsize
        sv.f_files = 1 << 32
        sv.f_ffree = 1 << 32
        sv.f_favail = 1 << 32
        sv.f_namemax = NAME_MAX
        return sv

    async def access(self, inode: int, mode: int, ctx: pyfuse3.RequestContext) -> bool:
        """access(2) and chdir, asked only when the kernel does not check permissions
        itself (a mount only root can use: `MountOptions.kernel_checks_permissions`)."""
        e = self._entry(self.table[inode])
        return may_access(e.st_mode, e.st_uid, e.st_gid, ctx.uid, ctx.gid, mode)

    # -- operations: directories -------------------------------------------------------

    async def opendir(self, inode: int, ctx: pyfuse3.RequestContext) -> int:
        node = self.table[inode]
        if node.kind != DIR:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        if self.feeds is not None and node.path:
            self.feeds.touch(node.path)
        fh = self._new_fh()
        self.dir_handles[fh] = DirHandle(node)
        return fh

    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        h = self.dir_handles[fh]
        path = h.inode.path
        if path is None:
            return
        if start_id < 2:  # "." and ".." first (ls -a); the kernel takes no lookup of them
            parent = self.table.find(split(path)[0]) if path else None
            for i, (dot, inode) in enumerate(((b".", h.inode), (b"..", parent or h.inode))):
                if i >= start_id and not pyfuse3.readdir_reply(
                        token, pyfuse3.FileNameT(dot), self._entry(inode), i + 1):
                    return
            start_id = 2
        if h.entries is None or start_id == 2:
            lst = self.dirs.walked(path)
            if lst is None:
                with fuse_errors(f"readdir {path!r}"):
                    lst = await self.dirs.list(path, tree=True)
            assert lst is not None
            self.dirs.note_read(path)
            h.as_of = lst.fetched
            h.entries = sorted(
                (name, c.kind, c.info) for name, c in lst.children.items()
            )
        entries = h.entries
        for i in range(start_id - 2, len(entries)):
            name, kind, info = entries[i]
            inode, sure = self.resolver.listed(join(path, name), kind, info, h.as_of)
            e = self._entry(inode) if sure else entry_of(
                inode, 0.0 if inode.kind != DIR else self.dirs.attr_ttl(join(path, name)), 0.0)
            if not pyfuse3.readdir_reply(token, pyfuse3.FileNameT(name.encode()), e, i + 3):
                return
            inode.lookups += 1

    async def releasedir(self, fh: int) -> None:
        self.dir_handles.pop(fh, None)

    async def fsyncdir(self, fh: int, datasync: bool) -> None:
        """The directory's marker and those of the directories made in it (and below it)
        are on the server when this returns, and the unlinks and rmdirs in it and below
        it done (EIO if one directly in it failed)."""
        path = self.dir_handles[fh].inode.path
        if path is None:
            return
        await self.markers.sent(path, below=True)
        await self.deletes.done(path, below=True)  # (rm -rf: those of removed dirs too)
        failed = self.markers.failure_in(path)
        if failed is not None:
            log.error("fsyncdir %r: the marker of %r was not stored: %s", path, *failed)
            raise pyfuse3.FUSEError(errno.EIO)
        gone = self.deletes.failure_in(path)
        if gone is not None:
            log.error("fsyncdir %r: %r was not deleted: %s", path, *gone)
            raise pyfuse3.FUSEError(errno.EIO)

    async def mkdir(
        self, parent_inode: int, name: bytes, mode: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        parent, n, path = self._child(parent_inode, name)
        t = now_ns()
        attrs = Attrs(perm=mode & 0o7777 & ~ctx.umask, uid=ctx.uid, gid=ctx.gid,
                      mtime_ns=t, ctime_ns=t, full=True, fetched=trio.current_time(),
                      marker=True, etag=EMPTY_MD5)
        with fuse_errors(f"mkdir {path!r}"):
            if self.layout.is_bucket(path):
                await self.backend.create_bucket(n)
                if self.feeds is not None:
                    self.feeds.made(n)
                inode = self.resolver.install(
                    path, DIR, attrs_from(None, DIR, self.defaults, trio.current_time()))
            else:
                inode = self.table.add(path, DIR, attrs)
                await self.markers.sent(path)  # an rmdir'ed namesake's marker
                await self.deletes.done(path)  # (or its DELETE, still queued)
                self.markers.send(inode, path)
        self.dirs.note_add(path, DIR)
        self.dirs.note_empty(path)
        inode.lookups += 1
        return self._entry(inode)

    async def rmdir(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        parent, n, path = self._child(parent_inode, name)
        with fuse_errors(f"rmdir {path!r}"):
            inode = await self.resolver.resolve(path)
            if inode is None:
                raise pyfuse3.FUSEError(errno.ENOENT)
            if inode.kind != DIR:
                raise pyfuse3.FUSEError(errno.ENOTDIR)
            if self.layout.is_bucket(path):
                await self.backend.delete_bucket(n)
                if self.feeds is not None:
                    self.feeds.removed(n)
            else:
                await self.markers.sent(path, below=True)
                if self.dirs.fresh(path) is None:  # the store is asked: it must not show
                    await self.deletes.done(path, below=True)  # the names unlinked here
                if not await self.resolver.is_empty(inode):
                    raise pyfuse3.FUSEError(errno.ENOTEMPTY)
                await self.deletes.remove_dir(path)  # the marker's DELETE, queued
        inode.unlinked = True
        self.markers.forget(path)
        self.dirs.note_remove(path)
        self.table.detach(inode)

    # -- operations: files -------------------------------------------------------------

    async def create(
        self, parent_inode: int, name: bytes, mode: int, flags: int,
        ctx: pyfuse3.RequestContext,
    ) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        parent, n, path = self._child(parent_inode, name)
        if self.layout.all_buckets and parent.path == "":
            raise pyfuse3.FUSEError(errno.EPERM)  # only buckets live at the top
        t = now_ns()
        attrs = Attrs(perm=mode & 0o7777 & ~ctx.umask, uid=ctx.uid, gid=ctx.gid, mtime_ns=t,
                      ctime_ns=t, full=True, fetched=trio.current_time(), target=None)
        with fuse_errors(f"create {path!r}"):
            stage = self.cache.create()
        inode = self.table.add(path, FILE, attrs)
        inode.remote = False
        inode.stage = stage
        inode.dirty = True
        inode.lookups += 1
        inode.opens += 1
        inode.writers += 1
        self.stager.created(inode)
        self.dirs.note_add(path, FILE)
        fh = self._new_fh()
        self.handles[fh] = Handle(inode, True)
        return pyfuse3.FileInfo(fh=pyfuse3.FileHandleT(fh)), self._entry(inode)

    async def mknod(
        self, parent_inode: int, name: bytes, mode: int, rdev: int,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        if not stat.S_ISREG(mode):
            raise pyfuse3.FUSEError(errno.EPERM)  # no fifos, sockets or devices in a bucket
        fi, entry = await self.create(parent_inode, name, mode, os.O_WRONLY, ctx)
        try:
            await self.flush(fi.fh)
        finally:
            await self.release(fi.fh)
        return entry

    async def open(
        self, inode: int, flags: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.FileInfo:
        node = self.table[inode]
        if node.kind == DIR:
            raise pyfuse3.FUSEError(errno.EISDIR)
        if node.kind == LINK:
            raise pyfuse3.FUSEError(errno.ELOOP)
        writable = flags & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR)
        if self.feeds is not None and node.path:
            self.feeds.touch(node.path)
        with fuse_errors(f"open {node.path!r}"):
            if (node.stage is None and node.remote
                    and not node.fresh(self.dirs.attr_ttl(node.path or ""))):
                await self.resolver.refresh(node)  # close-to-open: see the object as it is now
            if writable and flags & os.O_TRUNC:
                async with node.lock:
                    await self.stager.truncate(node, 0)
                    node.attrs.size = 0
                    node.dirty = True
        node.opens += 1
        node.writers += writable
        fh = self._new_fh()
        self.handles[fh] = Handle(node, writable)
        fi = pyfuse3.FileInfo(fh=pyfuse3.FileHandleT(fh))
        fi.keep_cache = False
        return fi

    # pyfuse3 sends any buffer; its stub says bytes, and a block is handed over as a view
    async def read(self, fh: int, off: int, size: int) -> Buffer:  # type: ignore[override]
        h = self.handles[fh]
        node = h.inode
        stage = node.stage
        if stage is not None:
            return os.pread(stage.fd, size, off)
        if node.path is None and not node.remote:
            return b""
        with fuse_errors(f"read {node.path!r}"):
            if h.reader is None:
                if node.path is None:
                    raise pyfuse3.FUSEError(errno.ESTALE)
                bucket, key = self.layout.key(node.path)
                h.reader = Reader(self.backend, bucket, key, node.attrs.size, self.nursery,
                                  self.limiter)
            return await h.reader.read(off, size)

    async def write(self, fh: int, off: int, buf: bytes) -> int:
        node = self.handles[fh].inode
        with fuse_errors(f"write {node.path!r}"):
            async with node.lock:
                await self.stager.write(node, off, buf)
        return len(buf)

    async def flush(self, fh: int) -> None:
        h = self.handles[fh]
        with fuse_errors(f"upload {h.inode.path!r}"):
            await self.stager.upload(h.inode)

    async def fsync(self, fh: int, datasync: bool) -> None:
        await self.flush(fh)

    async def release(self, fh: int) -> None:
        h = self.handles.pop(fh)
        if h.reader is not None:
            h.reader.close()
        node = h.inode
        node.opens -= 1
        node.writers -= h.writable
        if node.opens > 0 or node.stage is None:
            self.table.forget(node.ino, 0)
            return
        await self.stager.release(node)
        node.attrs.fetched = trio.current_time()
        self.table.forget(node.ino, 0)

    async def unlink(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        parent, n, path = self._child(parent_inode, name)
        with fuse_errors(f"unlink {path!r}"):
            inode = await self.resolver.resolve(path)
            if inode is None:
                raise pyfuse3.FUSEError(errno.ENOENT)
            if inode.kind == DIR:
                raise pyfuse3.FUSEError(errno.EISDIR)
            async with inode.lock:
                if inode.opens > 0 and inode.stage is None and inode.remote:
                    await self.stager.stage(inode, upto=None)  # open fds keep their data
                if inode.remote and inode.opens > 0:
                    bucket, key = self.layout.key(path)
                    await self.backend.delete(bucket, key)
                elif inode.remote:
                    await self.deletes.delete(path)  # in the background (aisfs_mount/deletes.py)
                inode.unlinked = True
                inode.remote = False
                self.stager.stop_behind(inode)
        self.dirs.note_remove(path)
        self.table.detach(inode)

    async def symlink(
        self, parent_inode: int, name: bytes, target: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        parent, n, path = self._child(parent_inode, name)
        if self.layout.all_buckets and parent.path == "":
            raise pyfuse3.FUSEError(errno.EPERM)
        t = now_ns()
        tgt = target.decode("utf-8", "surrogateescape")
        attrs = Attrs(size=len(target), perm=0o777, uid=ctx.uid, gid=ctx.gid, mtime_ns=t,
                      ctime_ns=t, target=tgt, full=True, fetched=trio.current_time())
        with fuse_errors(f"symlink {path!r}"):
            bucket, key = self.layout.key(path)
            await self.deletes.done(path)
            inode = Inode(0, LINK, path, attrs)
            await self.backend.put_bytes(bucket, key, target, meta_of(inode))
        inode = self.table.add(path, LINK, attrs)
        self.dirs.note_add(path, LINK)
        inode.lookups += 1
        return self._entry(inode)

    async def link(
        self, inode: int, new_parent_inode: int, new_name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        raise pyfuse3.FUSEError(errno.EPERM)  # link(2): "does not support hard links"

    async def rename(
        self, parent_inode_old: int, name_old: bytes, parent_inode_new: int, name_new: bytes,
        flags: int, ctx: pyfuse3.RequestContext,
    ) -> None:
        if flags & RENAME_EXCHANGE:
            raise pyfuse3.FUSEError(errno.EINVAL)
        po, pn = self.table[parent_inode_old], self.table[parent_inode_new]
        no, nn = name_of(name_old), name_of(name_new)
        if po.path is None or pn.path is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        old, new = join(po.path, no), join(pn.path, nn)
        if self.layout.crosses_buckets(old, new):
            raise pyfuse3.FUSEError(errno.EXDEV)  # buckets can't be renamed; mv copies
        await self.markers.sent(old, below=True)
        await self.markers.sent(new, below=True)
        await self.deletes.done(old, below=True)
        await self.deletes.done(new, below=True)
        with fuse_errors(f"rename {old!r} -> {new!r}"):
            await self.renamer.rename(old, new, flags)


def _apply_setattr(new: Attrs, attr: pyfuse3.EntryAttributes,
                   fields: pyfuse3.SetattrFields) -> None:
    """Copy the mode, owner and times a setattr asks for into `new`."""
    if fields.update_mode:
        new.perm = attr.st_mode & 0o7777
    if fields.update_uid:
        new.uid = attr.st_uid
    if fields.update_gid:
        new.gid = attr.st_gid
    if fields.update_mtime:
        new.mtime_ns = attr.st_mtime_ns
    if fields.update_atime:
        new.atime_ns = attr.st_atime_ns
