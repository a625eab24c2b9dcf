"""The pyfuse3 operations: paths to keys, files to objects, directories to prefixes.

Layout. The mount root is a bucket (or a prefix of one), or with --all the list of
buckets. A directory `a/b` is the prefix `a/b/`; an empty one is kept as the marker
object `a/b/`; a directory implied by keys below it shows as well.

Reads go to the object through `Reader` (ranged GETs with read-ahead). A file opened for
writing is staged in the write cache at its first change (downloaded whole, or up to the
truncation point, or not at all for O_TRUNC) and uploaded on flush (every close),
fsync, and at the last release if still dirty: when close() or fsync() returns 0 the data
is on the server. A failed upload fails that close()/fsync() with EIO and keeps the stage;
the last release retries once, then moves it to the cache's lost+found.

Unlink of an open file deletes the object at once; the open descriptors keep reading and
writing the staged copy (downloaded first if needed) until the last close, which then
discards it: the object does not come back, as on a local disk.

Caches. Attributes are trusted for `attr_timeout` seconds (kernel and here). A directory
listing is kept as long, and answers lookups in that directory - including negative ones -
without a request. Against plain S3 a listing carries no mode/owner/symlink metadata, so
readdir entries of files not yet known are handed out with zero timeouts and the kernel
asks again (lookup = HEAD) before it uses them.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import pyfuse3
import trio

from aisfs.errors import S3Error
from mount.backend import Backend, ObjectInfo
from mount.errnos import fuse_errors
from mount.inodes import (
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
    join,
    kind_of,
    may_access,
    meta_of,
    negative_entry,
    now_ns,
    split,
    unchanged,
)
from mount.options import MountOptions
from mount.readahead import Reader
from mount.writebehind import START_AT, WriteBehind
from mount.writecache import WriteCache

log = logging.getLogger(__name__)

NAME_MAX = 255
SMALL_DIR = 1000  # directories up to this many entries are listed to answer lookups
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2


@dataclass(slots=True)
class Child:
    kind: str
    info: ObjectInfo | None = None  # files: from the listing; dirs: None


@dataclass(slots=True)
class Listing:
    children: dict[str, Child]
    fetched: float
    marker: ObjectInfo | None = None  # the directory's own marker object, if listed


@dataclass(slots=True)
class Handle:
    inode: Inode
    writable: bool
    reader: Reader | None = None


@dataclass(slots=True)
class DirHandle:
    inode: Inode
    entries: list[tuple[str, str, ObjectInfo | None]] | None = None


@dataclass(slots=True)
class Stats:
    """Counters a test or bench can read."""

    uploads: int = 0
    upload_failures: int = 0
    write_behind: int = 0  # uploads completed by write-behind
    heads: int = 0
    lists: int = 0
    kept: list[str] = field(default_factory=list)


class Fs(pyfuse3.Operations):
    supports_dot_lookup = False
    enable_writeback_cache = False

    def __init__(self, opts: MountOptions, cache: WriteCache) -> None:
        super().__init__()
        self.opts = opts
        self.cache = cache
        self.backend: Backend = cast(Backend, None)  # set by main before requests come
        self.nursery: trio.Nursery = cast(trio.Nursery, None)
        self.limiter = trio.CapacityLimiter(16)
        self.ttl = opts.attr_timeout
        self.defaults = Defaults(opts.uid, opts.gid, opts.umask, now_ns())
        root = attrs_from(None, DIR, self.defaults, 0.0)
        root.fetched = float("inf")
        self.table = InodeTable(root)
        self.dirs: dict[str, Listing] = {}
        self.dir_sizes: dict[str, int] = {}
        self.handles: dict[int, Handle] = {}
        self.dir_handles: dict[int, DirHandle] = {}
        self.next_fh = 1
        self.stats = Stats()
        # write-behind (mount/writebehind.py): where each file written only at its end so
        # far ends, and the uploads running for those past START_AT
        self.seq_end: dict[int, int] = {}
        self.behind: dict[int, WriteBehind] = {}
        # run (in a thread) once the kernel has our INIT answer: main sets the read-ahead
        self.after_init: Callable[[], None] | None = None

    def init(self) -> None:
        """FUSE INIT (synchronous; the answer goes out when this returns)."""
        if self.after_init is not None:
            self.nursery.start_soon(trio.to_thread.run_sync, self.after_init)

    # -- paths and keys ----------------------------------------------------------------

    def _top(self, path: str) -> bool:
        """`path` is a bucket (a top-level directory of an --all mount)."""
        return self.opts.all_buckets and path != "" and "/" not in path

    def _key(self, path: str) -> tuple[str, str]:
        if self.opts.all_buckets:
            bucket, _, rest = path.partition("/")
            if not rest:
                raise pyfuse3.FUSEError(errno.EPERM)
            return bucket, rest
        return self.opts.bucket, self.opts.prefix + path

    def _prefix(self, path: str) -> tuple[str, str]:
        """Bucket and key prefix of the directory at `path` ("" for a bucket root)."""
        if self.opts.all_buckets:
            bucket, _, rest = path.partition("/")
            return bucket, rest + "/" if rest else ""
        return self.opts.bucket, self.opts.prefix + path + "/" if path else self.opts.prefix

    def _new_fh(self) -> int:
        fh = self.next_fh
        self.next_fh += 1
        return fh

    def _entry(self, inode: Inode) -> pyfuse3.EntryAttributes:
        return entry_of(inode, self.ttl, self.ttl)

    @staticmethod
    def _name(raw: bytes) -> str:
        if len(raw) > NAME_MAX:
            raise pyfuse3.FUSEError(errno.ENAMETOOLONG)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            # S3 keys are UTF-8: a name that is not cannot be stored faithfully
            raise pyfuse3.FUSEError(errno.EILSEQ) from None

    def _now(self) -> float:
        return trio.current_time()

    # -- directory listings ------------------------------------------------------------

    def _fresh_listing(self, path: str) -> Listing | None:
        lst = self.dirs.get(path)
        if lst is not None and self._now() - lst.fetched < self.ttl:
            return lst
        return None

    async def _list(self, path: str, limit: int | None = None) -> Listing | None:
        """List the directory at `path`; None if it has more than `limit` entries."""
        now = self._now()
        children: dict[str, Child] = {}
        marker: ObjectInfo | None = None
        if path == "" and self.opts.all_buckets:
            for name, _ in await self.backend.list_buckets():
                children[name] = Child(DIR)
            lst = Listing(children, now)
            self.dirs[path] = lst
            return lst
        bucket, prefix = self._prefix(path)
        self.stats.lists += 1
        async for page in self.backend.list_dir(bucket, prefix, 1000):
            for obj in page.objects:
                name = obj.key[len(prefix):]
                if not name:
                    marker = obj
                    continue
                if name in (".", "..") or len(name.encode()) > NAME_MAX:
                    continue
                if name not in children:
                    children[name] = Child(FILE, obj)
            for p in page.prefixes:
                name = p[len(prefix):-1]
                if name and name not in (".", "..") and len(name.encode()) <= NAME_MAX:
                    children[name] = Child(DIR)  # a directory shadows a file of its name
            if limit is not None and len(children) > limit:
                self.dir_sizes[path] = len(children)
                return None
        for inode in self.table.staged_below(path):
            assert inode.path is not None
            parent, name = split(inode.path)
            if parent == path and not inode.unlinked and name not in children:
                children[name] = Child(inode.kind)
        lst = Listing(children, now, marker)
        self.dirs[path] = lst
        self.dir_sizes[path] = len(children)
        return lst

    def _note_add(self, path: str, kind: str) -> None:
        parent, name = split(path)
        lst = self.dirs.get(parent)
        if lst is not None:
            lst.children[name] = Child(kind)

    def _note_remove(self, path: str) -> None:
        parent, name = split(path)
        lst = self.dirs.get(parent)
        if lst is not None:
            lst.children.pop(name, None)
        if path in self.dirs:
            pre = path + "/"
            for p in [p for p in self.dirs if p == path or p.startswith(pre)]:
                del self.dirs[p]

    def _listed_unchanged(self, inode: Inode) -> bool:
        """Fresh listings show the object (or marker) `inode`'s attributes were read from.

        Then the attributes still hold and no HEAD is needed: a listing per directory per
        attr_timeout revalidates every file in it (a change of metadata alone by another
        client within the same second as the last one goes unseen until the next write).
        """
        path = inode.path
        if path is None or not inode.attrs.full:
            return False
        parent, name = split(path)
        lst = self._fresh_listing(parent)
        if lst is None:
            return False
        child = lst.children.get(name)
        if child is None:
            return False
        if inode.kind == DIR:
            own = self._fresh_listing(path)
            if child.kind != DIR or own is None:
                return False
            if own.marker is None:
                return not inode.attrs.marker
            return inode.attrs.marker and unchanged(own.marker, inode.attrs)
        return child.kind == FILE and child.info is not None and unchanged(child.info,
                                                                           inode.attrs)

    # -- resolving a path to an inode --------------------------------------------------

    def _install(self, path: str, kind: str, attrs: Attrs) -> Inode:
        inode = self.table.find(path)
        if inode is not None and inode.kind == kind:
            if inode.stage is None:
                inode.attrs = attrs
                inode.remote = True
            return inode
        return self.table.add(path, kind, attrs)

    async def _dir_attrs(self, path: str) -> Attrs:
        if self._top(path) or path == "":
            return attrs_from(None, DIR, self.defaults, self._now())
        bucket, prefix = self._prefix(path)
        self.stats.heads += 1
        info = await self.backend.head(bucket, prefix)
        return attrs_from(info, DIR, self.defaults, self._now())

    async def _file_inode(self, path: str, info: ObjectInfo) -> Inode:
        listed = info.meta is not None
        if info.meta is None:
            bucket, key = self._key(path)
            self.stats.heads += 1
            head = await self.backend.head(bucket, key)
            if head is None:
                return await self._dir_or_none(path)  # type: ignore[return-value]
            info = head
        kind = kind_of(info)
        attrs = attrs_from(info, kind, self.defaults, self._now())
        attrs.exact = not listed
        return self._install(path, kind, attrs)

    async def _dir_or_none(self, path: str) -> Inode | None:
        bucket, prefix = self._prefix(path)
        if await self.backend.first_key(bucket, prefix, 1):
            return self._install(path, DIR, await self._dir_attrs(path))
        return None

    async def _resolve(self, path: str) -> Inode | None:
        """The inode at `path`, asking the store unless what we know is fresh."""
        inode = self.table.find(path)
        if inode is not None and (inode.stage is not None or inode.fresh(self.ttl)
                                  or not inode.remote):
            return inode
        if self._top(path):
            return await self._resolve_bucket(path)
        parent, name = split(path)
        lst = self._fresh_listing(parent)
        if lst is None and self.dir_sizes.get(parent, 0) <= SMALL_DIR:
            lst = await self._list(parent, SMALL_DIR)
        if lst is not None:
            child = lst.children.get(name)
            if child is None:
                if inode is not None and inode.stage is None:
                    self.table.detach(inode)
                return None
            if inode is not None and self._listed_unchanged(inode):
                inode.attrs.fetched = self._now()
                return inode
            if child.kind == DIR:
                if inode is not None and inode.kind == DIR and inode.attrs.fetched > lst.fetched:
                    return inode
                return self._install(path, DIR, await self._dir_attrs(path))
            if child.info is not None:
                return await self._file_inode(path, child.info)
        return await self._resolve_remote(path)

    async def _resolve_bucket(self, path: str) -> Inode | None:
        lst = self._fresh_listing("")
        if lst is None:
            lst = await self._list("")
        assert lst is not None
        if path not in lst.children:
            return None
        inode = self.table.find(path)
        if inode is not None and inode.kind == DIR:
            inode.attrs.fetched = self._now()
            return inode
        return self._install(path, DIR, attrs_from(None, DIR, self.defaults, self._now()))

    async def _resolve_remote(self, path: str) -> Inode | None:
        bucket, key = self._key(path)
        results: dict[str, object] = {}

        async def head_file() -> None:
            self.stats.heads += 1
            results["file"] = await self.backend.head(bucket, key)

        async def head_marker() -> None:
            self.stats.heads += 1
            results["marker"] = await self.backend.head(bucket, key + "/")

        async def probe_dir() -> None:
            self.stats.lists += 1
            results["dir"] = bool(await self.backend.first_key(bucket, key + "/", 1))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(head_file)
            nursery.start_soon(head_marker)
            nursery.start_soon(probe_dir)
        marker = cast(ObjectInfo | None, results["marker"])
        if marker is not None or results["dir"]:
            return self._install(path, DIR, attrs_from(marker, DIR, self.defaults, self._now()))
        info = cast(ObjectInfo | None, results["file"])
        if info is None:
            inode = self.table.find(path)
            if inode is not None and inode.stage is None:
                self.table.detach(inode)
            return None
        kind = kind_of(info)
        return self._install(path, kind, attrs_from(info, kind, self.defaults, self._now()))

    async def _refresh(self, inode: Inode) -> None:
        """Re-read the attributes of a file, symlink or directory from the store."""
        path = inode.path
        if path is None or inode.stage is not None or not inode.remote or path == "":
            return
        if self._listed_unchanged(inode):
            inode.attrs.fetched = self._now()
            return
        if inode.kind == DIR:
            inode.attrs = await self._dir_attrs(path)
            return
        bucket, key = self._key(path)
        self.stats.heads += 1
        info = await self.backend.head(bucket, key)
        if info is None:
            if inode.opens == 0:
                self.table.detach(inode)
                raise pyfuse3.FUSEError(errno.ENOENT)
            return
        if kind_of(info) != inode.kind:
            self.table.detach(inode)
            raise pyfuse3.FUSEError(errno.ESTALE)
        inode.attrs = attrs_from(info, inode.kind, self.defaults, self._now())

    # -- staging and uploading ---------------------------------------------------------

    async def _stage(self, inode: Inode, upto: int | None) -> None:
        """Make a local copy to write to: the whole object, its first `upto` bytes, or none."""
        if inode.stage is not None:
            return
        stage = self.cache.create()
        try:
            size = inode.attrs.size
            n = size if upto is None else min(upto, size)
            if inode.remote and n > 0 and inode.path is not None:
                self.cache.resize(stage, n)
                bucket, key = self._key(inode.path)
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

    def _track_write(self, inode: Inode, off: int, n: int) -> None:
        """Note a write of `n` bytes at `off`; feed or start the file's write-behind."""
        end = self.seq_end.get(inode.ino)
        if end is None:
            return
        if off != end:
            self._stop_behind(inode)  # not sequential any more: close uploads it whole
            return
        end += n
        self.seq_end[inode.ino] = end
        wb = self.behind.get(inode.ino)
        if wb is None:
            if (end < START_AT or inode.stage is None or inode.path is None
                    or not self.opts.write_behind
                    or not getattr(self.backend, "write_behind", False)):
                return
            bucket, key = self._key(inode.path)
            wb = WriteBehind(self.backend, bucket, key, inode.stage.fd,  # type: ignore[arg-type]
                             self.nursery, meta_of(inode), inode.attrs.content_type)
            self.behind[inode.ino] = wb
        wb.written(end)

    def _stop_behind(self, inode: Inode, sequential_from: int | None = None) -> None:
        """Abandon the file's write-behind; `sequential_from`: writes from there on count
        as sequential again (after a truncate to it), else none do until the next one."""
        wb = self.behind.pop(inode.ino, None)
        if wb is not None:
            wb.abandon()
        if sequential_from is None:
            self.seq_end.pop(inode.ino, None)
        else:
            self.seq_end[inode.ino] = sequential_from

    async def _upload(self, inode: Inode) -> None:
        """Put the stage of `inode` to the server if it holds anything new."""
        async with inode.lock:
            await self._upload_locked(inode)

    async def _upload_locked(self, inode: Inode) -> None:
        stage = inode.stage
        if stage is None or not inode.dirty or inode.unlinked or inode.path is None:
            return
        bucket, key = self._key(inode.path)
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
        self._note_add(inode.path, inode.kind)

    async def _update_meta(self, inode: Inode) -> None:
        """Write changed mode/owner/times of a not-staged object to the server."""
        path = inode.path
        if path is None:
            return
        if inode.kind == DIR:
            if path == "" and not self.opts.prefix or self._top(path):
                raise pyfuse3.FUSEError(errno.EPERM)  # a bucket has no marker to hold them
            bucket, prefix = self._prefix(path)
            if path == "":
                prefix = self.opts.prefix
            await self.backend.put_bytes(bucket, prefix, b"", meta_of(inode), DIR_CONTENT_TYPE)
            inode.attrs.marker = True
        else:
            bucket, key = self._key(path)
            await self.backend.copy(bucket, key, key, meta_of(inode), inode.attrs.content_type)
        inode.attrs.ctime_ns = now_ns()

    # -- operations: metadata ----------------------------------------------------------

    async def lookup(
        self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        parent = self.table[parent_inode]
        if name in (b".", b".."):
            raise pyfuse3.FUSEError(errno.ENOENT)
        n = self._name(name)
        if parent.path is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        with fuse_errors(f"lookup {join(parent.path, n)!r}"):
            inode = await self._resolve(join(parent.path, n))
        if inode is None:
            return negative_entry(self.ttl)
        inode.lookups += 1
        return self._entry(inode)

    async def forget(self, inode_list: list[tuple[int, int]]) -> None:
        for ino, n in inode_list:
            self.table.forget(ino, n)

    async def getattr(
        self, inode: int, ctx: pyfuse3.RequestContext | None = None
    ) -> pyfuse3.EntryAttributes:
        node = self.table[inode]
        if not (node.stage is not None or node.path is None or node.unlinked
                or (node.attrs.full and node.fresh(self.ttl))):
            with fuse_errors(f"getattr {node.path!r}"):
                await self._refresh(node)
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
                await self._setattr_locked(node, attr, fields, fh)
        return self._entry(node)

    async def _setattr_locked(
        self, node: Inode, attr: pyfuse3.EntryAttributes, fields: pyfuse3.SetattrFields,
        fh: int | None,
    ) -> None:
        if (node.path is not None and node.stage is None and node.remote and node.path != ""
                and not (node.attrs.full and node.attrs.exact and node.fresh(self.ttl))):
            # a HEAD gives the exact metadata of others to keep through the rewrite
            node.attrs.server_s = -1
            node.attrs.fetched = -1e18
            await self._refresh(node)
        a = node.attrs
        new = dataclasses.replace(a, user_meta=dict(a.user_meta))
        data_changed = False
        if fields.update_size:
            if node.kind != FILE:
                raise pyfuse3.FUSEError(errno.EISDIR if node.kind == DIR else errno.EINVAL)
            size = attr.st_size
            if node.stage is None:
                await self._stage(node, upto=size)
            assert node.stage is not None
            self.cache.resize(node.stage, max(size, node.stage.size))
            os.ftruncate(node.stage.fd, size)
            self.cache.resize(node.stage, size)
            self._stop_behind(node, sequential_from=0 if size == 0 else None)
            new.size = size
            new.mtime_ns = now_ns()
            data_changed = True
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
        meta_changed = (new.perm, new.uid, new.gid, new.mtime_ns, new.atime_ns) != (
            a.perm, a.uid, a.gid, a.mtime_ns, a.atime_ns)
        if not (data_changed or meta_changed):
            return
        old = node.attrs
        node.attrs = new
        if node.unlinked or node.path is None:
            return
        try:
            if node.stage is not None:
                node.dirty = True
                if node.writers == 0:  # nobody's close() will upload it: on the server now
                    await self._upload_locked(node)
            else:
                await self._update_meta(node)
        except BaseException:
            if node.stage is None:
                node.attrs = old
            raise
        node.attrs.fetched = self._now()
        node.attrs.full = True

    async def readlink(self, inode: int, ctx: pyfuse3.RequestContext) -> bytes:
        node = self.table[inode]
        if node.kind != LINK:
            raise pyfuse3.FUSEError(errno.EINVAL)
        with fuse_errors(f"readlink {node.path!r}"):
            if node.attrs.target is None and node.path is not None:
                bucket, key = self._key(node.path)
                body = await self.backend.get_range(bucket, key, 0, max(node.attrs.size, 1))
                node.attrs.target = body.decode("utf-8", "surrogateescape")
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
        fh = self._new_fh()
        self.dir_handles[fh] = DirHandle(node)
        return fh

    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        h = self.dir_handles[fh]
        path = h.inode.path
        if path is None:
            return
        if h.entries is None or start_id == 0:
            with fuse_errors(f"readdir {path!r}"):
                lst = await self._list(path)
            assert lst is not None
            h.entries = sorted(
                (name, c.kind, c.info) for name, c in lst.children.items()
            )
        entries = h.entries
        now = self._now()
        for i in range(start_id, len(entries)):
            name, kind, info = entries[i]
            cpath = join(path, name)
            inode = self.table.find(cpath)
            sure = True
            if inode is not None and (inode.kind == kind or inode.kind == LINK and kind == FILE):
                if inode.stage is None and inode.remote and not (
                        inode.attrs.full and inode.fresh(self.ttl)):
                    if self._listed_unchanged(inode):
                        inode.attrs.fetched = now
                    else:
                        sure = False
            elif kind == DIR:
                inode = self._install(cpath, DIR, attrs_from(None, DIR, self.defaults, -1e18))
                sure = False
            else:
                assert info is not None
                if info.meta is not None:
                    k = kind_of(info)
                    attrs = attrs_from(info, k, self.defaults, now)
                    attrs.exact = False
                    inode = self._install(cpath, k, attrs)
                else:
                    attrs = attrs_from(info, FILE, self.defaults, now)
                    attrs.full = False
                    attrs.fetched = -1e18
                    inode = self._install(cpath, FILE, attrs)
                    sure = False
            e = self._entry(inode) if sure else entry_of(
                inode, 0.0 if inode.kind != DIR else self.ttl, 0.0)
            if not pyfuse3.readdir_reply(token, name.encode(), e, i + 1):
                return
            inode.lookups += 1

    async def releasedir(self, fh: int) -> None:
        self.dir_handles.pop(fh, None)

    async def fsyncdir(self, fh: int, datasync: bool) -> None:
        return None

    async def mkdir(
        self, parent_inode: int, name: bytes, mode: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        parent, n, path = self._child(parent_inode, name)
        attrs = Attrs(perm=mode & 0o7777 & ~ctx.umask, uid=ctx.uid, gid=ctx.gid,
                      mtime_ns=now_ns(), ctime_ns=now_ns(), full=True, fetched=self._now(),
                      marker=True)
        with fuse_errors(f"mkdir {path!r}"):
            if self._top(path):
                await self.backend.create_bucket(n)
                inode = self._install(path, DIR, attrs_from(None, DIR, self.defaults,
                                                            self._now()))
            else:
                bucket, prefix = self._prefix(path)
                inode = self.table.add(path, DIR, attrs)
                await self.backend.put_bytes(bucket, prefix, b"", meta_of(inode),
                                             DIR_CONTENT_TYPE)
        self._note_add(path, DIR)
        self.dirs[path] = Listing({}, self._now())
        self.dir_sizes[path] = 0
        inode.lookups += 1
        return self._entry(inode)

    def _child(self, parent_inode: int, name: bytes) -> tuple[Inode, str, str]:
        """The parent directory, the child's name and its path (ENOENT if the parent is gone)."""
        parent = self.table[parent_inode]
        n = self._name(name)
        if parent.path is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return parent, n, join(parent.path, n)

    async def _is_empty(self, inode: Inode) -> bool:
        assert inode.path is not None
        if any(not i.unlinked for i in self.table.staged_below(inode.path)):
            return False
        bucket, prefix = self._prefix(inode.path)
        keys = await self.backend.first_key(bucket, prefix, 2)
        return all(k == prefix for k in keys)

    async def rmdir(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        parent, n, path = self._child(parent_inode, name)
        with fuse_errors(f"rmdir {path!r}"):
            inode = await self._resolve(path)
            if inode is None:
                raise pyfuse3.FUSEError(errno.ENOENT)
            if inode.kind != DIR:
                raise pyfuse3.FUSEError(errno.ENOTDIR)
            if self._top(path):
                await self.backend.delete_bucket(n)
            else:
                if not await self._is_empty(inode):
                    raise pyfuse3.FUSEError(errno.ENOTEMPTY)
                bucket, prefix = self._prefix(path)
                await self.backend.delete(bucket, prefix)
        inode.unlinked = True
        self._note_remove(path)
        self.table.detach(inode)

    # -- operations: files -------------------------------------------------------------

    async def create(
        self, parent_inode: int, name: bytes, mode: int, flags: int,
        ctx: pyfuse3.RequestContext,
    ) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        parent, n, path = self._child(parent_inode, name)
        if self.opts.all_buckets and parent.path == "":
            raise pyfuse3.FUSEError(errno.EPERM)  # only buckets live at the top
        t = now_ns()
        attrs = Attrs(perm=mode & 0o7777 & ~ctx.umask, uid=ctx.uid, gid=ctx.gid, mtime_ns=t,
                      ctime_ns=t, full=True, fetched=self._now(), target=None)
        with fuse_errors(f"create {path!r}"):
            stage = self.cache.create()
        inode = self.table.add(path, FILE, attrs)
        inode.remote = False
        inode.stage = stage
        inode.dirty = True
        inode.lookups += 1
        inode.opens += 1
        inode.writers += 1
        self.seq_end[inode.ino] = 0
        self._note_add(path, FILE)
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
        with fuse_errors(f"open {node.path!r}"):
            if node.stage is None and node.remote and not node.fresh(self.ttl):
                await self._refresh(node)  # close-to-open: see the object as it is now
            if writable and flags & os.O_TRUNC:
                async with node.lock:
                    if node.stage is None:
                        await self._stage(node, upto=0)
                    assert node.stage is not None
                    os.ftruncate(node.stage.fd, 0)
                    self.cache.resize(node.stage, 0)
                    node.attrs.size = 0
                    node.dirty = True
                    self._stop_behind(node, sequential_from=0)
        node.opens += 1
        node.writers += writable
        fh = self._new_fh()
        self.handles[fh] = Handle(node, writable)
        fi = pyfuse3.FileInfo(fh=pyfuse3.FileHandleT(fh))
        fi.keep_cache = False
        return fi

    async def read(self, fh: int, off: int, size: int) -> bytes:
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
                bucket, key = self._key(node.path)
                h.reader = Reader(self.backend, bucket, key, node.attrs.size, self.nursery,
                                  self.limiter)
            return await h.reader.read(off, size)

    async def write(self, fh: int, off: int, buf: bytes) -> int:
        h = self.handles[fh]
        node = h.inode
        with fuse_errors(f"write {node.path!r}"):
            async with node.lock:
                if node.stage is None:
                    await self._stage(node, upto=None)
                stage = node.stage
                assert stage is not None
                end = off + len(buf)
                if end > stage.size:
                    self.cache.resize(stage, end)
                os.pwrite(stage.fd, buf, off)
                self._track_write(node, off, len(buf))
                if end > node.attrs.size:
                    node.attrs.size = end
                node.attrs.mtime_ns = now_ns()
                node.dirty = True
        return len(buf)

    async def flush(self, fh: int) -> None:
        h = self.handles[fh]
        with fuse_errors(f"upload {h.inode.path!r}"):
            await self._upload(h.inode)

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
        async with node.lock:
            if node.dirty and not node.unlinked and node.path is not None:
                try:
                    await self._upload_locked(node)
                except Exception as e:
                    bucket, key = self._key(node.path)
                    where = self.cache.keep(node.stage, bucket, key)
                    self.stats.kept.append(str(where))
                    log.error("upload of %s/%s failed at last close (%s); data kept in %s",
                              bucket, key, e, where)
                    node.stage = None
            self._stop_behind(node)  # before its stage (the parts' source) goes
            if node.stage is not None:
                self.cache.drop(node.stage)
                node.stage = None
            node.dirty = False
        node.attrs.fetched = self._now()
        self.table.forget(node.ino, 0)

    async def unlink(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        parent, n, path = self._child(parent_inode, name)
        with fuse_errors(f"unlink {path!r}"):
            inode = await self._resolve(path)
            if inode is None:
                raise pyfuse3.FUSEError(errno.ENOENT)
            if inode.kind == DIR:
                raise pyfuse3.FUSEError(errno.EISDIR)
            async with inode.lock:
                if inode.opens > 0 and inode.stage is None and inode.remote:
                    await self._stage(inode, upto=None)  # open fds keep their data
                if inode.remote:
                    bucket, key = self._key(path)
                    await self.backend.delete(bucket, key)
                inode.unlinked = True
                inode.remote = False
                self._stop_behind(inode)
        self._note_remove(path)
        self.table.detach(inode)

    async def symlink(
        self, parent_inode: int, name: bytes, target: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        parent, n, path = self._child(parent_inode, name)
        if self.opts.all_buckets and parent.path == "":
            raise pyfuse3.FUSEError(errno.EPERM)
        t = now_ns()
        tgt = target.decode("utf-8", "surrogateescape")
        attrs = Attrs(size=len(target), perm=0o777, uid=ctx.uid, gid=ctx.gid, mtime_ns=t,
                      ctime_ns=t, target=tgt, full=True, fetched=self._now())
        with fuse_errors(f"symlink {path!r}"):
            bucket, key = self._key(path)
            inode = Inode(0, LINK, path, attrs)
            await self.backend.put_bytes(bucket, key, target, meta_of(inode))
        inode = self.table.add(path, LINK, attrs)
        self._note_add(path, LINK)
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
        no, nn = self._name(name_old), self._name(name_new)
        if po.path is None or pn.path is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        old, new = join(po.path, no), join(pn.path, nn)
        if self.opts.all_buckets and (
            self._top(old) or self._top(new) or old.split("/")[0] != new.split("/")[0]
        ):
            raise pyfuse3.FUSEError(errno.EXDEV)  # buckets can't be renamed; mv copies
        with fuse_errors(f"rename {old!r} -> {new!r}"):
            await self._rename(old, new, flags)

    async def _rename(self, old: str, new: str, flags: int) -> None:
        src = await self._resolve(old)
        if src is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        dst = await self._resolve(new)
        if dst is src:
            return
        if dst is not None:
            if flags & RENAME_NOREPLACE:
                raise pyfuse3.FUSEError(errno.EEXIST)
            if src.kind == DIR and dst.kind != DIR:
                raise pyfuse3.FUSEError(errno.ENOTDIR)
            if src.kind != DIR and dst.kind == DIR:
                raise pyfuse3.FUSEError(errno.EISDIR)
            if dst.kind == DIR and not await self._is_empty(dst):
                raise pyfuse3.FUSEError(errno.ENOTEMPTY)
            if dst.kind != DIR and dst.opens > 0 and dst.stage is None and dst.remote:
                async with dst.lock:
                    await self._stage(dst, upto=None)  # its open fds keep its data
        if src.kind == DIR:
            bucket, src_prefix = self._prefix(old)
            _, dst_prefix = self._prefix(new)
            if dst is not None:
                await self.backend.delete(bucket, dst_prefix)
            await self.backend.rename_prefix(bucket, src_prefix, dst_prefix)
        else:
            bucket, src_key = self._key(old)
            _, dst_key = self._key(new)
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
        if dst is not None:
            dst.unlinked = True
            dst.remote = False
            self.table.detach(dst)
        self._note_remove(old)
        self.table.move(src, new)
        src.attrs.ctime_ns = now_ns()
        self._note_add(new, src.kind)
        if src.kind == DIR:
            self.dirs.pop(new, None)

    # -- shutdown ----------------------------------------------------------------------

    async def flush_all(self) -> None:
        """At exit: upload what is still dirty, else keep it in lost+found."""
        for node in list(self.table.by_ino.values()):
            if node.stage is None:
                continue
            if node.dirty and not node.unlinked and node.path is not None:
                try:
                    with trio.fail_after(self.opts.timeout * 2):
                        await self._upload(node)
                except Exception as e:
                    bucket, key = self._key(node.path)
                    where = self.cache.keep(node.stage, bucket, key)
                    log.error("upload of %s/%s failed at unmount (%s); data kept in %s",
                              bucket, key, e, where)
                    node.stage = None
                    continue
            self._stop_behind(node)
            self.cache.drop(node.stage)
            node.stage = None


__all__ = ["Fs", "S3Error"]
