"""The node's change feed, followed: what the mount read stays trusted until it changes.

Against our node (not plain S3; `--all`: a feed per bucket, aisfs_mount/feeds.py),
`-o notify` (the default) has a task long-poll the mounted bucket's feed (`GET
/v1/buckets/B?what=changes`, docs/native-api.md, `NodeBackend.changes`). While the feed
is live:

- the mount's trust window (`attr_timeout` everywhere: attributes, listings, windows,
  and what the kernel is told) is `notify_timeout` instead (`Fs.set_ttl`);
- a change of a key under the mount drops what the mount holds of that path - its
  attributes, its directory's listing (and the listings above it a new or removed
  directory would change), a window's entry or missing names (`DirCache.changed`) - and
  the kernel's entry and attributes (`pyfuse3.invalidate_entry_async`, and
  `invalidate_inode` in a thread: never from a request handler) - unless the change is
  what the mount already holds (its own write: same ETag and size, a file it has staged,
  a name it has removed), so its own creates keep their kernel cache;
- a fetch that began before a change of its path (or before the feed went live) and was
  answered after it is kept as if read `notify_timeout - attr_timeout` earlier
  (`DirCache.stamp`): trusted for the plain `attr_timeout` only.

When the feed is lost (an error, the node restarted - a new epoch -, `lost`), the window
is `attr_timeout` again at once, everything read is expired (a change may have been
missed since), every kernel entry and inode the mount handed out is invalidated, and the
feed is asked for its current position again; what is read before that point keeps
`attr_timeout`'s trust only. A node that does not cover the bucket (404,
501: a bucket with a backend) or an older node ends the task: `attr_timeout` as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pyfuse3
import trio

from aisfs.errors import S3Error
from aisfs_mount.backend import Unreachable
from aisfs_mount.dirs import DirCache
from aisfs_mount.inodes import DIR, Inode, InodeTable
from aisfs_mount.paths import join, split
from aisfs_mount.remote.node import NodeBackend

log = logging.getLogger(__name__)

RETRY = 1.0  # seconds between attempts to subscribe again after an error
LINGER = 0.1  # after an answer with changes, the next poll waits this long


class Notify:
    def __init__(self, backend: NodeBackend, bucket: str, prefix: str, table: InodeTable,
                 dirs: DirCache, set_ttl: Callable[[float], None], short: float,
                 long: float, wait: float, root: str = "") -> None:
        self.backend = backend
        self.bucket = bucket
        self.prefix = prefix
        self.root = root  # the bucket's path in the mount ("": the mount's root)
        self.table = table
        self.dirs = dirs
        self.set_ttl = set_ttl
        self.short = short
        self.long = long
        self.wait = wait
        self.live = False
        self.applied = 0  # changes applied (tests, logs)
        self.skipped = 0  # changes that were this mount's own
        self.inos: list[int] = []  # the kernel's inodes to invalidate (`flush`)
        self.refused = 0  # the status the node refused the feed with (404, 501, ...)

    async def run(self) -> None:
        """Follow the feed until cancelled (or the node says it does not cover it)."""
        while True:
            try:
                await self._follow()
                return  # (not covered: attr_timeout as before)
            except (S3Error, Unreachable, ValueError, KeyError, TypeError) as e:
                log.info("change feed of %r lost: %s", self.bucket, e)
            except Exception:  # a bug must cost the feed, not the mount: attr_timeout then
                log.exception("change feed of %r: unexpected failure", self.bucket)
            await self._down()
            await trio.sleep(RETRY)

    async def _follow(self) -> None:
        while True:
            try:
                got = await self.backend.changes(self.bucket, None, 0)
            except S3Error as e:
                if e.status in (400, 404, 405, 501):
                    self.refused = e.status
                    log.info("no change feed for %r (%s): attr_timeout applies", self.bucket, e)
                    return
                raise
            if got is None:
                log.info("the node has no change feed: attr_timeout applies")
                return
            pos = str(got["position"])
            await self._up(trio.current_time())
            while True:
                got = await self.backend.changes(self.bucket, pos, self.wait)
                if got is None:
                    raise ValueError("not a change feed answer")
                if got.get("lost"):
                    log.info("change feed of %r: changes lost (the node restarted?)",
                             self.bucket)
                    break
                for ch in got.get("changes") or ():
                    self.apply(str(ch["key"]), str(ch["what"]), str(ch.get("etag") or ""),
                               int(ch.get("size") or 0), int(ch.get("mtime_ns") or 0))
                await self.flush()
                pos = str(got["position"])
                if got.get("changes"):
                    await trio.sleep(LINGER)  # (a burst of changes: a poll per LINGER)
            await self._down()

    async def _up(self, since: float) -> None:
        """The feed is live from `since` (trio time the position was known): the long
        window, what was read before keeping the short one."""
        demote = self.long - self.short
        _demote_read(self.table, self.dirs, since, demote, self.root)
        self.live = True
        self._live(since, demote)
        log.info("change feed of %r live: attributes trusted up to %g s", self.bucket,
                 self.long)

    def _live(self, since: float, demote: float) -> None:
        """The whole mount's window is the long one (`Fs.set_ttl`)."""
        dirs = self.dirs
        dirs.live_from = since
        dirs.demote = demote
        dirs.changed_at.clear()
        self.set_ttl(self.long)

    async def _down(self) -> None:
        """The feed is lost: `attr_timeout` again for everything, and the kernel forgets
        what it was told to keep longer."""
        inos = self.fall_back()
        if inos is not None:
            await trio.to_thread.run_sync(invalidate_inodes, inos)

    def fall_back(self) -> list[int] | None:
        """`_down` but the kernel's inodes, returned to be invalidated in a thread (None:
        the feed was not live)."""
        if not self.live:
            return None
        self.live = False
        self._fallen()
        # what was read is expired: a change may have been missed since it was
        entries, inos = _expire_read(self.table, self.dirs, self.root)
        for parent_ino, name in entries:
            invalidate_entry(parent_ino, name)
        return inos

    def _fallen(self) -> None:
        """The whole mount's window is `attr_timeout` again."""
        self.dirs.demote = 0.0
        self.set_ttl(self.short)

    def apply(self, key: str, what: str, etag: str, size: int, mtime_ns: int = 0) -> None:
        """One change of the feed: drop what the mount holds of its path, unless that is
        what the change made (this mount's own)."""
        if not key.startswith(self.prefix):
            return
        rel = key[len(self.prefix):]
        marker = rel.endswith("/")
        path = rel[:-1] if marker else rel
        if not path:
            return  # (the mount root's marker: the root's attributes are the mount's)
        path = join(self.root, path)
        inode = self.table.find(path)
        parent, name = split(path)
        dirs = self.dirs
        if self._own(path, inode, what, etag, size, marker, mtime_ns):
            self.skipped += 1
            return
        self.applied += 1
        dirs.changed(path, what == "delete", marker)
        if inode is not None and inode.stage is None and inode.ino != pyfuse3.ROOT_INODE:
            inode.attrs.fetched = -1e18
            self.inos.append(inode.ino)
        if not marker:
            p = self.table.find(parent)
            if p is not None:
                invalidate_entry(p.ino, name.encode())

    async def flush(self) -> None:
        """The kernel's attributes (and pages) of the inodes changes reached dropped, in a
        thread (invalidate_inode may wait on the kernel)."""
        inos, self.inos = self.inos, []
        if inos:
            await trio.to_thread.run_sync(invalidate_inodes, inos)

    def _own(self, path: str, inode: Inode | None, what: str, etag: str, size: int,
             marker: bool, mtime_ns: int) -> bool:
        """The change is what the mount holds: a name it removed, a file it is writing,
        the object it has (same ETag and size, and the Last-Modified second the store
        said - or, written here, within a second of when - so another client's
        metadata-only change, a copy onto itself, is not taken for its own)."""
        dirs = self.dirs
        if what == "delete":
            if inode is not None and not inode.unlinked and inode.remote:
                return False
            parent, name = split(path)
            lst = dirs.listings.get(parent)
            return (lst is None or name not in lst.children) and path not in dirs.seen
        if inode is None:
            parent, name = split(path)
            lst = dirs.listings.get(parent)
            return (lst is None and path not in dirs.seen and parent not in dirs.tails
                    and not any(p in dirs.listings for p in _ancestors(parent, self.root)))
        if inode.stage is not None:
            return True  # being written here: its close decides what holds
        if marker != (inode.kind == DIR):
            return False
        a = inode.attrs
        if not (a.etag and a.etag == etag and (marker or a.size == size)):
            return False
        if not mtime_ns:
            return True
        change_s, ctime_s = mtime_ns // 1_000_000_000, a.ctime_ns // 1_000_000_000
        if a.server_s >= 0 and ctime_s <= a.server_s:  # as the store said: the same second
            return change_s == a.server_s
        return abs(change_s - ctime_s) <= 1  # written here (this host's clock)


def _under(path: str | None, root: str) -> bool:
    """`path` is at or below `root` (a bucket's path; "": everything)."""
    return not root or path is not None and (path == root or path.startswith(root + "/"))


def _demote_read(table: InodeTable, dirs: DirCache, since: float, demote: float,
                 root: str) -> None:
    """What was read at or below `root` before `since` counts as read `demote` earlier
    (the short window's trust within the long one); `root`'s own attributes stay."""
    for p, lst in dirs.listings.items():
        if lst.fetched < since and _under(p, root):
            lst.fetched -= demote
    for p, t in dirs.tails.items():
        if t.fetched < since and _under(p, root):
            t.fetched -= demote
    dirs.seen = {p: (o, w - demote if w < since and _under(p, root) else w)
                 for p, (o, w) in dirs.seen.items()}
    for inode in table.by_ino.values():
        if (inode.ino != pyfuse3.ROOT_INODE and inode.attrs.fetched < since
                and inode.path != root and _under(inode.path, root)):
            inode.attrs.fetched -= demote


def _expire_read(table: InodeTable, dirs: DirCache,
                 root: str) -> tuple[list[tuple[int, bytes]], list[int]]:
    """Everything read at or below `root` expired; the kernel's entries (parent inode,
    name) and inodes there, to invalidate."""
    for p, lst in dirs.listings.items():
        if _under(p, root):
            lst.fetched = -1e18
    for p, t in dirs.tails.items():
        if _under(p, root):
            t.fetched = -1e18
    if root:
        dirs.seen = {p: v for p, v in dirs.seen.items() if not _under(p, root)}
    else:
        dirs.seen.clear()
    entries: list[tuple[int, bytes]] = []
    inos: list[int] = []
    for inode in list(table.by_ino.values()):
        if (inode.ino == pyfuse3.ROOT_INODE or inode.path is None or inode.path == root
                or not _under(inode.path, root)):
            continue
        if inode.stage is None:
            inode.attrs.fetched = -1e18
        inos.append(inode.ino)
        parent = table.find(split(inode.path)[0])
        if parent is not None:
            entries.append((parent.ino, split(inode.path)[1].encode()))
    return entries, inos


def _ancestors(path: str, root: str = "") -> list[str]:
    out = []
    while path and path != root:
        path = split(path)[0]
        out.append(path)
    return out


def invalidate_entry(parent_ino: int, name: bytes) -> None:
    try:
        pyfuse3.invalidate_entry_async(pyfuse3.InodeT(parent_ino), pyfuse3.FileNameT(name),
                                       ignore_enoent=True)
    except Exception as e:  # (no FUSE session: the unit tests)
        log.debug("invalidate entry %r: %s", name, e)


def invalidate_inodes(inos: list[int]) -> None:
    for ino in inos:
        try:
            pyfuse3.invalidate_inode(pyfuse3.InodeT(ino), attr_only=False)
        except Exception as e:  # ENOENT: the kernel does not know it (any more)
            log.debug("invalidate inode %d: %s", ino, e)

