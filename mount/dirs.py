"""Directory listings, kept for `attr_timeout` seconds.

A fresh listing answers lookups in its directory - negative ones too - without a request,
and revalidates the files in it: a file whose ETag, size and Last-Modified are unchanged
needs no HEAD. Operations of this mount note what they add and remove, so a listing stays
true to them until it expires. Files staged here but not uploaded yet are listed too.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from mount.backend import Backend, ObjectInfo
from mount.inodes import DIR, FILE, Inode, InodeTable, unchanged
from mount.paths import NAME_MAX, Layout, split
from mount.stats import Stats

SMALL_DIR = 1000  # directories up to this many entries are listed to answer lookups


@dataclass(slots=True)
class Child:
    kind: str
    info: ObjectInfo | None = None  # files: from the listing; dirs: None


@dataclass(slots=True)
class Listing:
    children: dict[str, Child]
    fetched: float
    marker: ObjectInfo | None = None  # the directory's own marker object, if listed


class DirCache:
    def __init__(self, backend: Backend, layout: Layout, table: InodeTable, stats: Stats,
                 ttl: float) -> None:
        self.backend = backend
        self.layout = layout
        self.table = table
        self.stats = stats
        self.ttl = ttl
        self.listings: dict[str, Listing] = {}
        self.sizes: dict[str, int] = {}  # entries each directory had when last listed

    def fresh(self, path: str) -> Listing | None:
        """The listing of `path` if it is younger than the timeout."""
        lst = self.listings.get(path)
        if lst is not None and trio.current_time() - lst.fetched < self.ttl:
            return lst
        return None

    def small(self, path: str) -> bool:
        """Listing `path` to answer one lookup is worth it (not known to be big)."""
        return self.sizes.get(path, 0) <= SMALL_DIR

    async def list(self, path: str, limit: int | None = None) -> Listing | None:
        """List the directory at `path`; None if it has more than `limit` entries."""
        now = trio.current_time()
        children: dict[str, Child] = {}
        marker: ObjectInfo | None = None
        if path == "" and self.layout.all_buckets:
            for name, _ in await self.backend.list_buckets():
                children[name] = Child(DIR)
            lst = Listing(children, now)
            self.listings[path] = lst
            return lst
        bucket, prefix = self.layout.prefix_of(path)
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
                self.sizes[path] = len(children)
                return None
        for inode in self.table.staged_below(path):
            assert inode.path is not None
            parent, name = split(inode.path)
            if parent == path and not inode.unlinked and name not in children:
                children[name] = Child(inode.kind)
        lst = Listing(children, now, marker)
        self.listings[path] = lst
        self.sizes[path] = len(children)
        return lst

    def note_add(self, path: str, kind: str) -> None:
        parent, name = split(path)
        lst = self.listings.get(parent)
        if lst is not None:
            lst.children[name] = Child(kind)

    def note_remove(self, path: str) -> None:
        parent, name = split(path)
        lst = self.listings.get(parent)
        if lst is not None:
            lst.children.pop(name, None)
        if path in self.listings:
            pre = path + "/"
            for p in [p for p in self.listings if p == path or p.startswith(pre)]:
                del self.listings[p]

    def note_empty(self, path: str) -> None:
        """The directory at `path` was just made: it is known empty."""
        self.listings[path] = Listing({}, trio.current_time())
        self.sizes[path] = 0

    def forget(self, path: str) -> None:
        self.listings.pop(path, None)

    def shows_unchanged(self, inode: Inode) -> bool:
        """Fresh listings show the object (or marker) `inode`'s attributes were read from.

        Then the attributes still hold and no HEAD is needed: a listing per directory per
        attr_timeout revalidates every file in it (a change of metadata alone by another
        client within the same second as the last one goes unseen until the next write).
        """
        path = inode.path
        if path is None or not inode.attrs.full:
            return False
        parent, name = split(path)
        lst = self.fresh(parent)
        if lst is None:
            return False
        child = lst.children.get(name)
        if child is None:
            return False
        if inode.kind == DIR:
            own = self.fresh(path)
            if child.kind != DIR or own is None:
                return False
            if own.marker is None:
                return not inode.attrs.marker
            return inode.attrs.marker and unchanged(own.marker, inode.attrs)
        return child.kind == FILE and child.info is not None and unchanged(child.info,
                                                                           inode.attrs)
