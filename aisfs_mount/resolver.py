"""From a path to its inode, asking the store only when what is known is stale.

What is known fresh (younger than `attr_timeout`) answers at once: an inode's attributes,
or its directory's listing (`aisfs_mount/dirs.py`). Else a directory of up to `SMALL_DIR`
entries is listed to answer the lookup (and the next ones there). In a bigger one, or for
a path the listing cannot settle, one delimited listing from the name on answers (the
object, and whether `name/` is a directory: `_probe`): against our node it carries the
metadata too, so a lookup is one request; a plain S3 endpoint's carries none, so a file
found also takes a HEAD (a missing name stays one request). Only when the name's siblings
fill that page do a HEAD of the key, a HEAD of its directory marker and a one-key
listing below it go at once. Against our node a file found so brings the next siblings
in one listing (`DirCache.window`), which answers their lookups - revalidates the known
ones when their attributes expire, gives the others their attributes - and a lookup in
its second half has the next window read in the background (`DirCache.read_ahead`):
a stat of each file in turn costs a listing per 500 files and never waits for a probe.
A name found missing brings a window too (any store), and the names after it the window
does not show are then known missing without a request until it expires (a loop
creating files in a big directory: a listing per `attr_timeout`, not one per file).

An inode keeps its kind for life (`aisfs_mount/inodes.py`): a path that changed kind in the
store gets a new inode and the old one is detached.
"""

from __future__ import annotations

import contextlib
import errno

import pyfuse3
import trio

from aisfs_mount.backend import Backend, ObjectInfo
from aisfs_mount.dirs import SMALL_DIR, DirCache
from aisfs_mount.inodes import (
    DIR,
    FILE,
    LINK,
    Attrs,
    Defaults,
    Inode,
    InodeTable,
    attrs_from,
    kind_of,
)
from aisfs_mount.paths import Layout, split
from aisfs_mount.stats import Stats

PROBE_KEYS = 32  # a lookup in a big directory lists this many keys from the name on


class Resolver:
    def __init__(self, backend: Backend, layout: Layout, table: InodeTable, dirs: DirCache,
                 defaults: Defaults, stats: Stats, ttl: float) -> None:
        self.backend = backend
        self.layout = layout
        self.table = table
        self.dirs = dirs
        self.defaults = defaults
        self.stats = stats
        self.ttl = ttl

    def install(self, path: str, kind: str, attrs: Attrs) -> Inode:
        """The inode of `path` with these attributes: the known one if it is of that kind
        (a staged one keeps its own attributes), else a new one."""
        inode = self.table.find(path)
        if inode is not None and inode.kind == kind:
            if inode.stage is None:
                keep_ctime(inode.attrs, attrs)
                inode.attrs = attrs
                inode.remote = True
            return inode
        return self.table.add(path, kind, attrs)

    def known(self, path: str) -> Inode | None:
        """The inode at `path` when what is in memory says it holds - its attributes are
        fresh, or a fresh listing or window of its directory shows its object (unchanged,
        or with the metadata to build its attributes from) - else None (`resolve` then
        decides, asking the store if need be). What a stat of a file whose attributes
        expired mostly meets: answered without a coroutine, a lock or a request (the
        answers `resolve` gives, in the same order)."""
        inode = self.table.find(path)
        now = trio.current_time()
        dirs = self.dirs
        if inode is not None and (inode.stage is not None
                                  or now - inode.attrs.fetched < dirs.attr_ttl(path)
                                  or not inode.remote):
            return inode
        if self.layout.is_bucket(path) or path in dirs.deleting:
            return None
        parent, name = split(path)
        lst = dirs.fresh(parent, now)
        if lst is None:
            if dirs.small(parent) or dirs.ahead_pending(parent, name):
                return None
            if inode is not None:
                seen = dirs.seen_unchanged(inode, now)
                if seen is not None:
                    inode.attrs.fetched = seen
                    dirs.read_ahead(path, now)
                    return inode
                if inode.kind == DIR:
                    return None
            got = dirs.seen.get(path)
            if got is None or now - got[1] >= dirs.ttl_of(path):
                return None
            info, when = got  # listed after what we knew of it (a file written here: its
            if info.meta is None or inode is not None and when < inode.attrs.fetched:
                return None  # first stat after the timeout), with its metadata
            dirs.read_ahead(path, now)
            return self._listed_inode(path, info, when)
        child = lst.children.get(name)
        if child is None:
            return None
        dirs.renew(parent, lst, now)
        if inode is not None:
            shown = dirs.shows_unchanged(inode, now)
            if shown is not None:
                inode.attrs.fetched = shown
                return inode
        listed = child.info
        if (child.kind != FILE or listed is None or listed.meta is None
                or inode is not None and lst.fetched < inode.attrs.fetched):
            return None  # (read before what we know of it: resolve decides)
        # the listing shows the object with its metadata (a file made here, its first
        # stat after the timeout; one not known yet): its attributes, as `resolve` has
        return self._listed_inode(path, listed, lst.fetched)

    async def resolve(self, path: str) -> Inode | None:
        """The inode at `path`, asking the store unless what we know is fresh."""
        inode = self.table.find(path)
        if inode is not None and (inode.stage is not None
                                  or inode.fresh(self.dirs.attr_ttl(path)) or not inode.remote):
            return inode
        if self.layout.is_bucket(path):
            return await self._resolve_bucket(path)
        if path in self.dirs.deleting:
            return None  # unlinked here, its DELETE on its way (aisfs_mount/deletes.py)
        parent, name = split(path)
        lst = self.dirs.fresh(parent)
        if lst is None and self.dirs.small(parent):
            lst = await self.dirs.list(parent, SMALL_DIR)
        if lst is None:
            if await self.dirs.ahead_of(path):  # a window read ahead may show it: what
                return await self.resolve(path)  # was known may have changed meanwhile
            seen = None if inode is None else self.dirs.seen_unchanged(inode)
            if inode is not None and seen is not None:
                inode.attrs.fetched = seen  # (as of that listing: the kernel gets what is left)
                self.dirs.read_ahead(path)
                return inode
            if (inode is None or inode.kind != DIR) and self.dirs.covered(path):
                info, when = self.dirs.seen[path]  # listed after what we knew of it, if
                if info.meta is not None and (inode is None or when >= inode.attrs.fetched):
                    self.dirs.read_ahead(path)
                    return await self._file_inode(path, info, when)
            since = self.dirs.absent_since(path)
            if since is not None and (inode is None or inode.kind != DIR
                                      and inode.attrs.fetched <= since):
                self._forget(path)  # a window listing read past where its keys would be
                return None
            covered = self.dirs.covered(path)
            got = await self._resolve_remote(path)
            if not covered and (got is None or got.kind == FILE):
                await self._window_after(path, found=got is not None)
            return got
        child = lst.children.get(name)
        if child is None:
            if inode is not None and inode.stage is None:
                self.table.detach(inode)
            return None
        self.dirs.renew(parent, lst, trio.current_time())
        shown = None if inode is None else self.dirs.shows_unchanged(inode)
        if inode is not None and shown is not None:
            inode.attrs.fetched = shown
            return inode
        if child.kind == DIR:
            if inode is not None and inode.kind == DIR and (
                    inode.attrs.fetched > lst.fetched or path in self.dirs.pending):
                return inode
            return self.install(path, DIR, await self.dir_attrs(path))
        if child.info is not None:
            return await self._file_inode(path, child.info, lst.fetched)
        return await self._resolve_remote(path)

    async def _window_after(self, path: str, found: bool = True) -> None:
        """In a directory too big to list for a lookup: the file at `path` was just asked
        for (against our node: the listing brings its siblings' metadata) or found missing
        (any store: a file being made, as `cp` or `tar x` do one after another), so the
        next siblings come with one listing, and the names after it that it does not show
        are known missing for the timeout (`DirCache.absent_since`)."""
        parent = split(path)[0]
        if not found and not self.dirs.window_for_missing(path):
            return
        if ((self.backend.rich_listing or not found) and self.ttl
                and not self.dirs.covered(path)
                and self.dirs.fresh(parent) is None and not self.dirs.small(parent)):
            await self.dirs.window(path, missing=not found)

    async def dir_attrs(self, path: str) -> Attrs:
        """A directory's attributes: from its marker as its own listing shows it (listed
        now unless fresh, or known to be big: then a HEAD of the marker)."""
        if self.layout.is_bucket(path) or path == "":
            return attrs_from(None, DIR, self.defaults, trio.current_time())
        lst = self.dirs.fresh(path)
        if lst is None and self.dirs.small(path) and path not in self.dirs.pending:
            lst = await self.dirs.list(path, SMALL_DIR)
        if lst is not None and (lst.marker is None or lst.marker.meta is not None):
            return attrs_from(lst.marker, DIR, self.defaults, lst.fetched)
        bucket, prefix = self.layout.prefix_of(path)  # (a plain S3 listing: no metadata)
        self.stats.heads += 1
        start = trio.current_time()
        info = await self.backend.head(bucket, prefix)
        return attrs_from(info, DIR, self.defaults, self.dirs.stamp_reply(start, path))

    def listed_dir_attrs(self, path: str) -> Attrs | None:
        """A directory's attributes from its own fresh listing, if there is one."""
        lst = self.dirs.fresh(path)
        if lst is None or self.layout.is_bucket(path) or path == "" or path in self.dirs.pending:
            return None
        if lst.marker is not None and lst.marker.meta is None:
            return None  # a plain S3 listing: the marker's metadata needs a HEAD
        return attrs_from(lst.marker, DIR, self.defaults, lst.fetched)

    async def _file_inode(self, path: str, info: ObjectInfo,
                          as_of: float | None = None) -> Inode | None:
        """The inode of the file `info` (a listing read at `as_of` shows it; a HEAD is
        made for its metadata if the listing has none)."""
        if info.meta is not None:
            return self._listed_inode(path, info, as_of)
        bucket, key = self.layout.key(path)
        self.stats.heads += 1
        start = trio.current_time()
        head = await self.backend.head(bucket, key)
        if head is None:
            return await self._dir_or_none(path)
        kind = kind_of(head)
        attrs = attrs_from(head, kind, self.defaults, self.dirs.stamp_reply(start, path))
        return self.install(path, kind, attrs)

    def _listed_inode(self, path: str, info: ObjectInfo, as_of: float | None) -> Inode:
        """The inode of the file `info` of a listing (with metadata) read at `as_of`."""
        kind = kind_of(info)
        attrs = attrs_from(info, kind, self.defaults, as_of or trio.current_time())
        attrs.exact = False
        return self.install(path, kind, attrs)

    async def _dir_or_none(self, path: str) -> Inode | None:
        bucket, prefix = self.layout.prefix_of(path)
        if await self.backend.first_key(bucket, prefix, 1):
            return self.install(path, DIR, await self.dir_attrs(path))
        return None

    async def _resolve_bucket(self, path: str) -> Inode | None:
        lst = self.dirs.fresh("")
        if lst is None:
            lst = await self.dirs.list("")
        assert lst is not None
        if path not in lst.children:
            return None
        inode = self.table.find(path)
        if inode is not None and inode.kind == DIR:
            inode.attrs.fetched = trio.current_time()
            return inode
        return self.install(path, DIR, attrs_from(None, DIR, self.defaults, trio.current_time()))

    async def _probe(self, bucket: str, key: str) -> tuple[ObjectInfo | None, bool] | None:
        """One delimited listing from `key` on: the object `key` (with its metadata) and
        whether `key/` is a directory - or None when the page ends before `key/` would
        sort (more than PROBE_KEYS siblings named `key` + a character below '/')."""
        want = key + "/"
        self.stats.lists += 1
        pages = self.backend.list_dir(bucket, key, PROBE_KEYS)
        async with contextlib.aclosing(pages):
            async for page in pages:
                file = next((o for o in page.objects if o.key == key), None)
                if want in page.prefixes:
                    return file, True
                seen = [*(o.key for o in page.objects), *page.prefixes]
                if len(seen) < PROBE_KEYS or max(seen) > want:
                    return file, False  # the listing ended, or went past where key/ sorts
                return None
        return None, False

    async def _resolve_remote(self, path: str) -> Inode | None:
        """One delimited listing from the name on (`_probe`) says whether `name/` is a
        directory (it wins over an object `name`) and whether the object exists: against
        our node with its metadata, so that is the only request; a plain S3 listing
        carries none, so a file then needs a HEAD, and a directory a HEAD of its marker.
        A page the name's siblings fill falls back to the three requests at once."""
        bucket, key = self.layout.key(path)
        start = trio.current_time()
        got = await self._probe(bucket, key)
        if got is None:
            return await self._resolve_by_heads(path, bucket, key)
        info, is_dir = got
        if is_dir:
            if self.backend.rich_listing:
                return self.install(path, DIR, await self.dir_attrs(path))
            self.stats.heads += 1
            marker = await self.backend.head(bucket, key + "/")
            now = self.dirs.stamp_reply(start, path)
            return self.install(path, DIR, attrs_from(marker, DIR, self.defaults, now))
        exact = info is not None and info.meta is None
        if exact:  # a plain S3 listing: the metadata (mode, owner, times) needs a HEAD
            self.stats.heads += 1
            info = await self.backend.head(bucket, key)
        if info is None:
            self._forget(path)
            return None
        k = kind_of(info)
        attrs = attrs_from(info, k, self.defaults, self.dirs.stamp_reply(start, path))
        attrs.exact = exact
        return self.install(path, k, attrs)

    def _forget(self, path: str) -> None:
        """`path` is gone from the store: its inode (unless staged here) is detached."""
        gone = self.table.find(path)
        if gone is not None and gone.stage is None:
            self.table.detach(gone)

    async def _resolve_by_heads(self, path: str, bucket: str, key: str) -> Inode | None:
        """HEAD key, HEAD key/ and a one-key listing below key/, at once."""
        file: ObjectInfo | None = None
        marker: ObjectInfo | None = None
        below = False

        async def head_file() -> None:
            nonlocal file
            self.stats.heads += 1
            file = await self.backend.head(bucket, key)

        async def head_marker() -> None:
            nonlocal marker
            self.stats.heads += 1
            marker = await self.backend.head(bucket, key + "/")

        async def probe_dir() -> None:
            nonlocal below
            self.stats.lists += 1
            below = bool(await self.backend.first_key(bucket, key + "/", 1))

        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(head_file)
            nursery.start_soon(head_marker)
            nursery.start_soon(probe_dir)
        now = self.dirs.stamp_reply(start, path)
        if marker is not None or below:
            return self.install(path, DIR, attrs_from(marker, DIR, self.defaults, now))
        if file is None:
            self._forget(path)
            return None
        kind = kind_of(file)
        return self.install(path, kind, attrs_from(file, kind, self.defaults, now))

    async def refresh(self, inode: Inode) -> None:
        """Re-read the attributes of a file, symlink or directory from the store."""
        path = inode.path
        if path is None or inode.stage is not None or not inode.remote or path == "":
            return
        shown = self.dirs.shows_unchanged(inode)
        if shown is None:
            shown = self.dirs.seen_unchanged(inode)
        if shown is not None:
            inode.attrs.fetched = shown
            return
        if inode.kind == DIR:
            if path in self.dirs.pending:  # made here, its marker on its way
                inode.attrs.fetched = trio.current_time()
                return
            attrs = await self.dir_attrs(path)
            keep_ctime(inode.attrs, attrs)
            inode.attrs = attrs
            return
        bucket, key = self.layout.key(path)
        self.stats.heads += 1
        start = trio.current_time()
        info = await self.backend.head(bucket, key)
        await self._window_after(path)
        if info is None:
            if inode.opens == 0:
                self.table.detach(inode)
                raise pyfuse3.FUSEError(errno.ENOENT)
            return
        if kind_of(info) != inode.kind:
            self.table.detach(inode)
            raise pyfuse3.FUSEError(errno.ESTALE)
        attrs = attrs_from(info, inode.kind, self.defaults, self.dirs.stamp_reply(start, path))
        keep_ctime(inode.attrs, attrs)
        inode.attrs = attrs

    async def is_empty(self, inode: Inode) -> bool:
        """The directory `inode` holds nothing here or in the store (but its marker)."""
        assert inode.path is not None
        if any(not i.unlinked for i in self.table.staged_below(inode.path)):
            return False
        lst = self.dirs.fresh(inode.path)
        if lst is not None and not self.layout.is_bucket(inode.path):
            return not lst.children  # (`rm -rf`: emptied here, no listing to ask)
        bucket, prefix = self.layout.prefix_of(inode.path)
        keys = await self.backend.first_key(bucket, prefix, 2)
        return all(k == prefix for k in keys)

    def listed(self, path: str, kind: str, info: ObjectInfo | None,
               now: float) -> tuple[Inode, bool]:
        """The inode of a readdir entry at `path` and whether its attributes are sure (else
        the kernel gets them with zero timeouts and asks again before using them)."""
        inode = self.table.find(path)
        if inode is not None and (inode.kind == kind or inode.kind == LINK and kind == FILE):
            if inode.stage is not None or not inode.remote or (
                    inode.attrs.full and inode.fresh(self.dirs.attr_ttl(path))):
                return inode, True
            shown = self.dirs.shows_unchanged(inode)
            if shown is not None:
                inode.attrs.fetched = shown
                return inode, True
            if not (kind == DIR or info is not None and info.meta is not None):
                return inode, False
            # else the listing says what it is now: as for a path not known yet
        if kind == DIR:
            attrs = self.listed_dir_attrs(path)
            if attrs is not None:
                return self.install(path, DIR, attrs), True
            if inode is not None and inode.kind == DIR:
                return inode, False
            return self.install(path, DIR, attrs_from(None, DIR, self.defaults, -1e18)), False
        assert info is not None
        if info.meta is not None:
            k = kind_of(info)
            attrs = attrs_from(info, k, self.defaults, now)
            attrs.exact = False
            return self.install(path, k, attrs), True
        attrs = attrs_from(info, FILE, self.defaults, now)
        attrs.full = False
        attrs.fetched = -1e18
        return self.install(path, FILE, attrs), False


def keep_ctime(old: Attrs, new: Attrs) -> None:
    """Fresh attributes of the same object keep the ctime known to the nanosecond: a
    listing or a HEAD says Last-Modified in whole seconds, and tar compares ctimes."""
    if (new.etag and old.etag == new.etag and old.size == new.size
            and abs(old.ctime_ns // 10**9 - new.ctime_ns // 10**9) <= 1):
        new.ctime_ns = old.ctime_ns
