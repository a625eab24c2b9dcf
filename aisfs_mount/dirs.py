"""Directory listings, kept for `attr_timeout` seconds.

A fresh listing answers lookups in its directory - negative ones too - without a request,
and revalidates the files in it: a file whose ETag, size and Last-Modified are unchanged
needs no HEAD. Operations of this mount note what they add and remove, so a listing stays
true to them until it expires. Files staged here but not uploaded yet are listed too, and
so are directories made here whose marker is still on its way (`aisfs_mount/fs.py`, mkdir).

A directory read (readdir) is listed whole subtree first: one listing without a delimiter, up to
`TREE_KEYS` keys (one request against our node), gives the listing of the directory and
of every directory below it - their markers (mode, owner, times) included - so walking a
tree (`du`, `ls -lR`, `find`, `tar c`, `cp -r` out of the mount) costs a request per few
thousand keys instead of a listing and a marker HEAD per directory. A subtree bigger than
that still gives the listings of the subdirectories the keys read cover whole; the
directory itself is then listed with the delimiter, and its subtree is not tried whole
again. A subdirectory read within `WALK_GAP` of a sibling (a walk going on; its listing
expired meanwhile, or was never read whole) reads its parent's keys from there on, up to
`WINDOW_KEYS`: the next siblings come with it. In a directory too big to be listed for a
lookup, a file a lookup found brings its next `SEEN_KEYS` siblings (`window`): files
known here whose ETag, size and Last-Modified they show unchanged need no request, nor
do files not known yet (the window has their metadata); a lookup in the second half of
a window that did not reach the directory's end has the next one read in the background
(`read_ahead`, `AHEAD_KEYS` at once), so a stat of each file in name order does not wait
for listings.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import trio

from aisfs_mount.backend import Backend, ObjectInfo
from aisfs_mount.inodes import DIR, FILE, Inode, InodeTable, unchanged
from aisfs_mount.paths import NAME_MAX, Layout, split
from aisfs_mount.stats import Stats

log = logging.getLogger(__name__)

SMALL_DIR = 1000  # directories up to this many entries are listed to answer lookups
TREE_KEYS = 4000  # a subtree of up to this many keys is read in one listing
KEEP_LISTINGS = 8192  # past this many listings kept, the stale ones are dropped
WALK_GAP = 5.0  # a subdirectory read this soon after a sibling: a walk (read ahead)
WINDOW_KEYS = 500  # keys a walk reads ahead at once
SEEN_KEYS = 500  # a lookup in a big directory revalidates this many following siblings
AHEAD_KEYS = 2000  # and windows read ahead (names in order: a walk) up to this many
RENEW_AT = 0.8  # a listing used this far into attr_timeout is read again in the background


@dataclass(slots=True)
class Child:
    kind: str
    info: ObjectInfo | None = None  # files: from the listing; dirs: None


_DIR = Child(DIR)
FILE_CHILD = Child(FILE)
FORGOT = "forgot"  # (a `changes` kind: a listing dropped)


@dataclass(slots=True)
class Tail:
    """What a window listing (`DirCache.window`) read of a big directory: every key after
    the name `start`, up to the key `last` (relative to the directory; None: to its end)."""

    start: str
    last: str | None
    fetched: float
    dirs: set[str]  # names with keys below them in the window: directories
    missing: bool  # read after a lookup of the missing name `start`
    added: set[str] = field(default_factory=set)  # names made here since: not in it
    mid: str | None = None  # the key halfway through it (None: it read to the end)
    next_from: str = ""  # the key the next window lists after (its last is not kept)
    ahead: bool = False  # the window after it was started (`read_ahead`)
    keys: int = SEEN_KEYS  # the most keys it was to read


@dataclass(slots=True)
class Listing:
    children: dict[str, Child]
    fetched: float
    marker: ObjectInfo | None = None  # the directory's own marker object, if listed
    tree: bool = False  # read with its whole subtree (so are the listings below it)


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
        self.big: set[str] = set()  # directories whose subtree is over TREE_KEYS keys
        self.walking: dict[str, float] = {}  # directory -> when a child was last read
        # directories made here whose marker PUT is still in flight: listed meanwhile
        self.pending: set[str] = set()
        # names unlinked here whose DELETE is still in flight (aisfs_mount/deletes.py): the store
        # may list them meanwhile, this mount does not
        self.deleting: set[str] = set()
        # directories rmdir'ed here -> DELETEs still to be done at or below them (their
        # marker's, and those of the names unlinked in them): not listed meanwhile
        self.removed: dict[str, int] = {}
        # listings in flight, and the names removed (unlinked, deleted, moved away) while
        # one was, with when: a listing may still show those it started before
        self.reading = 0
        self.gone: list[tuple[float, str]] = []
        # and what this mount changed meanwhile, in order: (when, path, the kind of what
        # it added there, or None: removed; FORGOT: its listing dropped)
        self.changes: list[tuple[float, str, str | None]] = []
        # directories whose listing is being read again in the background (`renew`)
        self.renewing: dict[str, trio.Event] = {}
        # files of big directories as a window listing showed them, and when (`window`)
        self.seen: dict[str, tuple[ObjectInfo, float]] = {}
        # big directory -> what its last window read (names after a lookup's: `absent_since`)
        self.tails: dict[str, Tail] = {}
        # big directory -> the key after which a window is being read ahead, and its end
        self.ahead: dict[str, tuple[str, trio.Event]] = {}
        self.nursery: trio.Nursery | None = None  # where windows are read ahead (if set)
        # the change feed (aisfs_mount/notify.py), while live: what is read is trusted for
        # the long window, unless its fetch began before the feed went live (`live_from`)
        # or before a change of its path (`changed_at`: path -> when) - then it is kept as
        # read `demote` seconds earlier (attr_timeout's trust). 0: no feed
        self.demote = 0.0
        self.live_from = 0.0
        self.changed_at: dict[str, float] = {}
        # an `--all` mount's feeds, one per bucket (aisfs_mount/feeds.py): bucket -> when
        # its feed went live, for each live one. What is read in a live bucket is trusted
        # for `long` (and `stamp`ed as above, with that bucket's `live_from`); elsewhere
        # (the top level, a bucket without a live feed) for `ttl`. None: not such a mount
        self.live: dict[str, float] | None = None
        self.long = ttl

    def ttl_of(self, path: str) -> float:
        """How long what was read of `path` (a directory's listing or window, a file's
        entry in one) is trusted: `ttl`, or in an `--all` mount its bucket's."""
        live = self.live
        if not live:
            return self.ttl
        return self.long if path.partition("/")[0] in live else self.ttl

    def attr_ttl(self, path: str) -> float:
        """How long the attributes of the inode at `path` are trusted: `ttl_of`, but a
        bucket's own (that it exists: the top level's listing) keeps `ttl`."""
        live = self.live
        if not live:
            return self.ttl
        bucket, sep, _ = path.partition("/")
        return self.long if sep and bucket in live else self.ttl

    def _feed_of(self, path: str) -> tuple[float, float]:
        """The feed's `demote` and `live_from` for `path` (0 demote: no live feed)."""
        live = self.live
        if live is None:
            return self.demote, self.live_from
        since = live.get(path.partition("/")[0])
        return (0.0, 0.0) if since is None else (self.long - self.ttl, since)

    def stamp(self, start: float, path: str) -> float:
        """The time what a fetch of `path` begun at `start` read counts as read."""
        demote, live_from = self._feed_of(path)
        if demote and (start < live_from or self.changed_at.get(path, -1e18) >= start):
            return start - demote
        return start

    def stamp_reply(self, start: float, path: str) -> float:
        """`stamp` for a HEAD's answer (without a feed: when it came, as ever)."""
        return self.stamp(start, path) if self._feed_of(path)[0] else trio.current_time()

    def changed(self, path: str, deleted: bool, marker: bool) -> None:
        """The feed says `path` (a file, or a directory's marker) changed in the store:
        its listing entries, window entries and missing names go, and the listings above
        that a new or removed directory would change."""
        now = trio.current_time()
        if len(self.changed_at) > 65_536:
            keep = max(self.ttl, self.long) if self.live is not None else self.ttl
            self.changed_at = {p: t for p, t in self.changed_at.items() if now - t < keep}
        self.changed_at[path] = now
        if marker:
            self.forget(path)
        parent, name = split(path)
        self.seen.pop(path, None)
        self.tails.pop(parent, None)
        d = parent
        self.changed_at[d] = now
        self.forget(d)
        while d and not self.layout.is_bucket(d):  # (a bucket stays: the top level's)
            up, nm = split(d)
            self.changed_at[up] = now
            lst = self.listings.get(up)
            if lst is not None and (deleted or lst.children.get(nm, FILE_CHILD).kind != DIR):
                self.forget(up)
            d = up

    def fresh(self, path: str, now: float | None = None) -> Listing | None:
        """The listing of `path` if it is younger than the timeout (at `now`: trio's time)."""
        lst = self.listings.get(path)
        if lst is None:
            return None
        age = (trio.current_time() if now is None else now) - lst.fetched
        return lst if age < self.ttl_of(path) else None

    def walked(self, path: str) -> Listing | None:
        """The fresh listing of `path` if it came with its subtree (or the subtree is too
        big to read whole): what readdir serves, as a walk of the tree may follow."""
        lst = self.fresh(path)
        if lst is not None and (lst.tree or path in self.big or not self.ttl):
            return lst
        return None

    def note_read(self, path: str) -> None:
        """readdir read the directory at `path`: a sibling read soon after is a walk."""
        if path:
            if len(self.walking) > KEEP_LISTINGS:
                self.walking.clear()
            self.walking[split(path)[0]] = trio.current_time()

    def small(self, path: str) -> bool:
        """Listing `path` to answer one lookup is worth it (not known to be big)."""
        return self.sizes.get(path, 0) <= SMALL_DIR

    async def list(self, path: str, limit: int | None = None,
                   tree: bool = False) -> Listing | None:
        """List the directory at `path`; None if it has more than `limit` entries. With
        `tree` (readdir: a walk may follow), its whole subtree is tried first."""
        now = trio.current_time()
        if path == "" and self.layout.all_buckets:
            children = {name: Child(DIR) for name, _ in await self.backend.list_buckets()}
            lst = Listing(children, now, tree=True)  # (a bucket is listed when read)
            self.listings[path] = lst
            return lst
        if len(self.listings) > KEEP_LISTINGS:
            self._prune(now)
        renewing = self.renewing.get(path)
        if renewing is not None and limit == SMALL_DIR and not tree:
            await renewing.wait()  # (being read again already: that listing answers)
            got = self.fresh(path)
            if got is not None:
                return got
            now = trio.current_time()
        with self._reading():
            return await self._list(path, limit, tree, now)

    def renew(self, path: str, lst: Listing, now: float) -> None:
        """The listing `lst` of `path` found a name a lookup asked for RENEW_AT or more into
        the timeout: it is read again in the background (one at a time per directory), so
        a directory in use - its files stat'ed, opened, unlinked one after another - keeps
        a fresh listing and no lookup waits for one when the old expires. (Not for a name
        it does not show: a loop making files asks for names not there yet, and it needs
        no more than a listing per timeout.) What this mount changes in the
        directory meanwhile is applied to the new listing (`changes`); until it comes,
        the old one answers, within its timeout as ever."""
        if (self.nursery is None or now - lst.fetched < self.ttl_of(path) * RENEW_AT
                or path in self.renewing or not self.small(path)
                or path == "" and self.layout.all_buckets):  # (buckets: listed when read)
            return
        done = self.renewing[path] = trio.Event()
        self.nursery.start_soon(self._renew, path, done)

    async def _renew(self, path: str, done: trio.Event) -> None:
        try:
            with self._reading():
                await self._list(path, SMALL_DIR, False, trio.current_time())
        except Exception as e:  # (a lookup after the old one expires lists it itself)
            log.debug("listing of %r not renewed: %s", path, e)
        finally:
            del self.renewing[path]
            done.set()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        self.reading += 1
        try:
            yield
        finally:
            self.reading -= 1
            if not self.reading:
                self.gone.clear()
                self.changes.clear()

    def _note_gone(self, path: str) -> None:
        if self.reading:
            now = trio.current_time()
            self.gone.append((now, path))
            self.changes.append((now, path, None))

    def _note_change(self, path: str, kind: str) -> None:
        if self.reading:
            self.changes.append((trio.current_time(), path, kind))

    def _dropped_since(self, path: str, now: float) -> bool:
        """`path` (or a directory above it) was removed or its listing dropped here since
        `now`: a listing of it started before is not kept."""
        return any(t >= now and kind in (None, FORGOT) and (p == path or path.startswith(p + "/"))
                   for t, p, kind in self.changes)

    def note_deleted(self, path: str) -> None:
        """The DELETE of `path` unlinked here is done (aisfs_mount/deletes.py)."""
        self.deleting.discard(path)
        self._note_gone(path)

    async def _list(self, path: str, limit: int | None, tree: bool,
                    now: float) -> Listing | None:
        children: dict[str, Child] = {}
        marker: ObjectInfo | None = None
        bucket, prefix = self.layout.prefix_of(path)
        parent = split(path)[0] if path else None
        if tree and path not in self.big and parent is not None and (
                now - self.walking.get(parent, -1e18) < WALK_GAP) and not (
                parent == "" and self.layout.all_buckets):
            # a walk through the subdirectories of `parent`: read them from this one on
            _, pprefix = self.layout.prefix_of(parent)
            got = await self._list_tree(parent, bucket, pprefix, now, start_after=prefix[:-1])
            if path in got:
                return got[path]
        elif tree and path not in self.big:
            got = await self._list_tree(path, bucket, prefix, now)
            if path in got:
                return got[path]
        self.stats.lists += 1
        # (a lookup's limit decides on the first page: a big directory's keys past it
        # are not listed to find out it is big)
        listed: list[ObjectInfo] = []
        prefixes: list[str] = []
        async for page in self.backend.list_dir(bucket, prefix,
                                                1000 if limit is None else limit + 1):
            if limit is not None:
                listed += page.objects
                prefixes += page.prefixes
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
                if self.backend.rich_listing and self.ttl:
                    self._first_window(path, prefix, listed, prefixes, now,
                                       self.stamp(now, path))
                return None
        lst = Listing(children, self.stamp(now, path), marker)
        self._add_local({path: lst}, path, now, whole=False)
        if self.changes and self._dropped_since(path, now):
            return lst  # (removed or dropped here while it was read: not kept)
        self.listings[path] = lst
        self.sizes[path] = len(children)
        return lst

    def _first_window(self, parent: str, prefix: str, objs: Sequence[ObjectInfo],
                      prefixes: Sequence[str], now: float, at: float) -> None:
        """What a lookup's listing of `parent` read before finding it too big (its first
        names, in order, with their metadata) kept as a window from the directory's
        start, as `_window` keeps one (a delimited listing: the directories among them
        are its prefixes): a stat of each file in turn starts from it, without a probe
        and a window listing of its own."""
        keys = sorted([*(o.key for o in objs), *prefixes])
        if len(keys) < 2:
            return
        last = keys[-1]
        dirs = {p[len(prefix):-1] for p in prefixes}
        pre = parent + "/" if parent else ""
        gone = {p for t, p in self.gone if t >= now}
        cut = len(prefix)
        for obj in objs:
            rest = obj.key[cut:]
            if (not rest or "/" in rest or rest in dirs or rest == "." or rest == ".."
                    or last <= obj.key + "/"):
                continue
            path = pre + rest
            if path not in self.deleting and path not in gone:
                self.seen[path] = (obj, at)
        tail = Tail("", last[cut:], at, dirs, False, keys=len(keys))
        tail.mid = keys[len(keys) // 2][cut:]
        tail.next_from = keys[-2][cut:]
        old = self.tails.get(parent)
        if old is not None:
            tail.added |= old.added
        self.tails[parent] = tail

    async def _list_tree(self, path: str, bucket: str, prefix: str, now: float,
                         start_after: str = "") -> dict[str, Listing]:
        """List the subtree at `path` whole if it has at most TREE_KEYS keys and keep the
        listing of every directory in it; else keep those of the subdirectories the keys
        read cover whole and note the directories it is too big for. With `start_after`
        (a walk of a big directory), its keys from there on: the listings of the whole
        subdirectories they cover are kept, not its own. Returns the listings kept."""
        objs: list[ObjectInfo] = []
        truncated = False
        most = WINDOW_KEYS if start_after else TREE_KEYS
        async for page in self.backend.list_all(bucket, prefix, most + 1, start_after):
            self.stats.lists += 1
            objs += page
            if len(objs) > most:
                truncated = True
                break
        built: dict[str, Listing] = {path: Listing({}, now, tree=True)}
        for obj in objs:
            parts = obj.key[len(prefix):].split("/")
            if any(not p or p in (".", "..") or len(p.encode()) > NAME_MAX
                   for p in parts[:-1]):
                continue  # a name the mount cannot show (as the delimited listing skips it)
            d = path
            for p in parts[:-1]:
                lst = built.get(d)
                if lst is None:
                    lst = built[d] = Listing({}, now, tree=True)
                lst.children[p] = Child(DIR)  # a directory shadows a file of its name
                d = f"{d}/{p}" if d else p
            last = parts[-1]
            lst = built.get(d)
            if lst is None:
                lst = built[d] = Listing({}, now, tree=True)
            if not last:
                lst.marker = obj
            elif (last not in (".", "..") and len(last.encode()) <= NAME_MAX
                  and last not in lst.children):
                lst.children[last] = Child(FILE, obj)
        cut = {path} if start_after else set()  # a window: `path` itself is partial
        if truncated:
            # the directories holding the last key read are cut short: the rest are whole
            rel = objs[-1].key[len(prefix):].split("/")[:-1]
            d = path
            cut.add(d)
            for p in rel:
                d = f"{d}/{p}" if d else p
                cut.add(d)
            if not start_after:  # (a window's end cuts what it cuts, big or not)
                self.big.update(cut)
        for d in cut:
            built.pop(d, None)
        self._add_local(built, path, now, whole=not truncated and not start_after)
        for d, lst in built.items():
            lst.fetched = self.stamp(now, d)
            self.listings[d] = lst
            self.sizes[d] = len(lst.children)
        return built

    def _add_local(self, built: dict[str, Listing], path: str, now: float,
                   whole: bool) -> None:
        """Put in the listings just read what this mount has that the store does not show
        yet: directories whose marker is on its way (with `whole`, the subtree at `path`
        was read whole, so one the store has nothing under is empty), files staged and
        not uploaded; and take out the names unlinked here whose DELETE is on its way or
        was done since the listing started (at `now`: it may show them), and the
        directories removed here whose DELETEs are not all done."""
        pre = path + "/" if path else ""
        for d in [d for d in self.deleting if d.startswith(pre)]:
            parent, name = split(d)
            lst = built.get(parent)
            if lst is not None and lst.children.get(name, _DIR).kind != DIR:
                del lst.children[name]
        for d in [d for d in self.removed if d.startswith(pre)]:
            parent, name = split(d)
            lst = built.get(parent)
            if lst is not None:
                lst.children.pop(name, None)
            for b in [b for b in built if b == d or b.startswith(d + "/")]:
                del built[b]
        for t, d, kind in self.changes:  # (in the order they were made)
            if t < now or not d.startswith(pre) or kind == FORGOT:
                continue
            parent, name = split(d)
            lst = built.get(parent)
            if lst is None:
                continue
            if kind is None:
                lst.children.pop(name, None)
            else:  # made here while it was read: the listing may show what it replaced
                lst.children[name] = Child(kind)
        for d in sorted(self.pending):
            if d.startswith(pre):
                parent, name = split(d)
                lst = built.get(parent)
                if lst is not None:
                    lst.children[name] = Child(DIR)
                    if whole and d not in built:
                        built[d] = Listing({}, now, tree=True)
        for inode in self.table.staged_below(path):
            assert inode.path is not None
            parent, name = split(inode.path)
            lst = built.get(parent)
            if lst is not None and not inode.unlinked and name not in lst.children:
                lst.children[name] = Child(inode.kind)

    def _prune(self, now: float) -> None:
        for p in [p for p, lst in self.listings.items() if now - lst.fetched >= self.ttl_of(p)]:
            del self.listings[p]

    def covered(self, path: str, now: float | None = None) -> bool:
        """A fresh window listing of the big directory holding `path` read past it."""
        got = self.seen.get(path)
        return got is not None and (
            (trio.current_time() if now is None else now) - got[1] < self.ttl_of(path))

    def seen_unchanged(self, inode: Inode, now: float | None = None) -> float | None:
        """When a fresh window listing that shows the object the file's attributes were
        read from was read (None: there is none)."""
        path = inode.path
        if path is None or inode.kind != FILE:
            return None
        got = self.seen.get(path)
        if got is None or ((trio.current_time() if now is None else now) - got[1]
                           >= self.ttl_of(path)):
            return None
        info, when = got
        return when if unchanged(info, inode.attrs) else None

    def as_of(self, path: str) -> float:
        """When what this mount knows of the names in the directory `path` was read from
        the store: its fresh listing's or window's time, else now (asked just now)."""
        lst = self.fresh(path)
        if lst is not None:
            return lst.fetched
        t = self.tails.get(path)
        now = trio.current_time()
        return t.fetched if t is not None and now - t.fetched < self.ttl_of(path) else now

    async def window(self, path: str, missing: bool = False) -> None:
        """Keep the files listed after `path` in its (big) directory, up to SEEN_KEYS keys
        in one listing without a delimiter (with metadata against our node): a stat of
        each file there in turn then costs a listing per SEEN_KEYS files, not a request
        each. A name with keys below it in the window is a directory (it wins) and is not
        kept, nor one whose `name/` would sort past the window's end."""
        parent, name = split(path)
        await self._window(parent, name, missing)

    def read_ahead(self, path: str, now: float | None = None) -> None:
        """A lookup found `path` in the second half of a window read ahead, or after the
        name a lookup's window was read for (a second name of it: a walk, which the
        first read ahead must keep ahead of), in a window of found files that did not
        reach the directory's end: the next window is listed in the background, so
        a stat of each file in turn (`ls -l` in name order, a loop over the files just
        made) does not wait for a listing every SEEN_KEYS files. Only one at a time per
        directory, one per window; a failure is left to the next lookup to meet."""
        parent, name = split(path)
        t = self.tails.get(parent)
        if (self.nursery is None or t is None or t.missing or t.ahead or t.mid is None
                or t.last is None or name < (t.mid if t.keys > SEEN_KEYS else t.start + "\0")
                or parent in self.ahead
                or ((trio.current_time() if now is None else now) - t.fetched
                    >= self.ttl_of(parent))):
            return
        t.ahead = True
        done = trio.Event()
        self.ahead[parent] = (t.next_from, done)
        # each twice the last, up to AHEAD_KEYS: the walk goes on, and a listing request
        # costs the mount about as much as 250 of the keys it brings - but one twice
        # as big as the window being walked still comes before the walk reaches its end
        keys = min(AHEAD_KEYS, 2 * t.keys)
        self.nursery.start_soon(self._read_ahead, parent, t.next_from, done, keys)

    async def _read_ahead(self, parent: str, start: str, done: trio.Event,
                          keys: int) -> None:
        try:
            await self._window(parent, start, False, keys)
        except Exception as e:  # (a lookup that needs it lists the names itself)
            log.debug("window after %r in %r not read ahead: %s", start, parent, e)
        finally:
            del self.ahead[parent]
            done.set()

    def ahead_pending(self, parent: str, name: str) -> bool:
        """A window being read ahead in the directory `parent` may show `name` (it starts
        before the name)."""
        got = self.ahead.get(parent)
        return got is not None and got[0] < name

    async def ahead_of(self, path: str) -> bool:
        """Wait for the window being read ahead in the directory of `path` if it may show
        it (`ahead_pending`); whether it waited."""
        parent, name = split(path)
        got = self.ahead.get(parent)
        if got is not None and got[0] < name:
            await got[1].wait()
            return True
        return False

    async def _window(self, parent: str, name: str, missing: bool,
                      keys: int = SEEN_KEYS) -> None:
        """`window` of the keys after `name` (relative to the directory `parent`)."""
        bucket, prefix = self.layout.prefix_of(parent)
        now = trio.current_time()
        if len(self.seen) > AHEAD_KEYS * 16:
            self.seen = {p: v for p, v in self.seen.items() if now - v[1] < self.ttl_of(p)}
        if len(self.tails) > KEEP_LISTINGS:
            self.tails = {p: t for p, t in self.tails.items() if now - t.fetched < self.ttl_of(p)}
        objs: list[ObjectInfo] = []
        truncated = False
        with self._reading():
            async for page in self.backend.list_all(bucket, prefix, keys + 1,
                                                    prefix + name):
                self.stats.lists += 1
                objs += page
                if len(objs) > keys:
                    truncated = True
                    break
            gone = {p for t, p in self.gone if t >= now}
        last = objs[-1].key if objs else ""
        cut = len(prefix)
        rests = [o.key[cut:] for o in objs]
        dirs = {r.split("/", 1)[0] for r in rests if "/" in r}
        pre = parent + "/" if parent else ""
        seen, deleting = self.seen, self.deleting
        at = self.stamp(now, parent)
        for obj, rest in zip(objs, rests, strict=True):
            if (not rest or "/" in rest or rest in dirs or rest == "." or rest == ".."
                    or truncated and last <= obj.key + "/"):
                continue
            path = pre + rest
            if path not in deleting and path not in gone:
                seen[path] = (obj, at)
        tail = Tail(name, last[len(prefix):] if truncated else None, at, dirs, missing,
                    keys=keys)
        if truncated:
            tail.mid = objs[len(objs) // 2].key[len(prefix):]
            tail.next_from = objs[-2].key[len(prefix):]
        old = self.tails.get(parent)
        if old is not None:
            tail.added |= old.added  # (made here while this one was read: it may miss them)
        self.tails[parent] = tail

    def window_for_missing(self, path: str) -> bool:
        """A window from the missing name at `path` is worth reading: none read within the
        timeout was for a missing name, or this one is past where that one ended (names
        made in order); names asked in no order get no window each."""
        parent, name = split(path)
        t = self.tails.get(parent)
        if t is None or trio.current_time() - t.fetched >= self.ttl_of(parent) or not t.missing:
            return True
        return t.last is not None and name > t.last

    def absent_since(self, path: str) -> float | None:
        """When a fresh window listing of the big directory holding `path` read where its
        keys would be and found none (a name after the window's start, not a directory
        in it, not made here since): the time of that listing, else None."""
        parent, name = split(path)
        t = self.tails.get(parent)
        if t is None or trio.current_time() - t.fetched >= self.ttl_of(parent):
            return None
        if name <= t.start or name in t.added or name in t.dirs:
            return None
        if t.last is not None and not name + "0" <= t.last:  # ("0" sorts right after "/")
            return None  # the window ended before the name's keys (or its dir's) would be
        got = self.seen.get(path)
        if got is not None and got[1] >= t.fetched:
            return None  # the window listed it
        return t.fetched

    def note_add(self, path: str, kind: str) -> None:
        self._note_change(path, kind)
        parent, name = split(path)
        tail = self.tails.get(parent)
        if tail is not None:
            tail.added.add(name)
        lst = self.listings.get(parent)
        if lst is not None:
            lst.children[name] = Child(kind)

    def note_remove(self, path: str) -> None:
        self._note_gone(path)
        self.seen.pop(path, None)
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
        self._note_change(path, FORGOT)
        self.listings.pop(path, None)

    def shows_unchanged(self, inode: Inode, now: float | None = None) -> float | None:
        """When the fresh listings that show the object (or marker) `inode`'s attributes
        were read from were read (the older one, for a directory); None if they don't.

        Then the attributes still hold and no HEAD is needed: a listing per directory per
        attr_timeout revalidates every file in it (a change of metadata alone by another
        client within the same second as the last one goes unseen until the next write).
        """
        path = inode.path
        if path is None or not inode.attrs.full:
            return None
        parent, name = split(path)
        lst = self.fresh(parent, now)
        child = None if lst is None else lst.children.get(name)
        if lst is None or child is None:
            return None
        if inode.kind == DIR:
            own = self.fresh(path, now)
            if child.kind != DIR or own is None:
                return None
            same = (not inode.attrs.marker if own.marker is None
                    else inode.attrs.marker and unchanged(own.marker, inode.attrs))
            return min(lst.fetched, own.fetched) if same else None
        same = child.kind == FILE and child.info is not None and unchanged(child.info,
                                                                           inode.attrs)
        return lst.fetched if same else None
