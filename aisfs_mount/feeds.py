"""The change feeds of an `--all` mount: one per local bucket it has looked into.

An `--all` mount against our node (with `-o notify`, the default) follows the change feed
(aisfs_mount/notify.py) of each bucket it looks into - a lookup, getattr, open or readdir
at or below the bucket's directory `touch`es it - a `BucketFeed` each, its own liveness
and trust window: while one is live what was read in its bucket is trusted for
`notify_timeout` (`DirCache.live`, `DirCache.ttl_of`), a change there drops what the mount
holds of its path; when it is lost (an error, the node restarted, changes fallen off the
ring) that bucket alone falls back to `attr_timeout` - what was read in it expired, the
kernel's entries under its directory invalidated - and it subscribes again. What is
kept elsewhere is untouched: the top level (the list of buckets, and each bucket's own
existence) keeps `attr_timeout`, and so does a bucket whose feed the node does not give
(a bucket with a backend: 501) - not asked again for `notify_timeout` unless a mkdir
makes it here. A bucket removed by another client is seen when its feed's next poll is
refused (404): the top level's listing and the bucket's entry are dropped then.

Bounded: at most `MAX_FEEDS` long polls at once (each holds one of the backend's pooled
connections), the least recently touched one dropped to `attr_timeout` (as if lost) when
another bucket is looked into; a feed whose bucket was not touched for `notify_timeout`
stops the same way (by then the kernel's entries from it have run out). A mount that
looks into no bucket polls nothing.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import pyfuse3
import trio

from aisfs_mount.dirs import DirCache
from aisfs_mount.inodes import InodeTable
from aisfs_mount.notify import Notify, invalidate_entry, invalidate_inodes
from aisfs_mount.remote.node import NodeBackend

log = logging.getLogger(__name__)

MAX_FEEDS = 8  # long polls at once (of the backend's 32 pooled connections)


def _no_ttl(ttl: float) -> None:
    """(A bucket's feed sets no mount-wide window: `DirCache.live` is its bucket's.)"""


class BucketFeed(Notify):
    """One bucket's feed in an `--all` mount: its paths are under the bucket's directory,
    and its window is its bucket's alone (`DirCache.live`)."""

    def __init__(self, backend: NodeBackend, bucket: str, table: InodeTable,
                 dirs: DirCache, short: float, long: float, wait: float) -> None:
        super().__init__(backend, bucket, "", table, dirs, _no_ttl, short, long, wait,
                         root=bucket)
        self.touched = trio.current_time()
        self.scope = trio.CancelScope()

    def _live(self, since: float, demote: float) -> None:
        assert self.dirs.live is not None
        if self.scope.cancel_called:  # (stopped as its answer came: another may follow)
            self.live = False
            return
        self.dirs.live[self.bucket] = since

    def _fallen(self) -> None:
        assert self.dirs.live is not None
        self.dirs.live.pop(self.bucket, None)


class Feeds:
    def __init__(self, backend: NodeBackend, table: InodeTable, dirs: DirCache,
                 short: float, long: float, wait: float, nursery: trio.Nursery,
                 limit: int = MAX_FEEDS) -> None:
        self.backend = backend
        self.table = table
        self.dirs = dirs
        self.short = short
        self.long = long
        self.wait = wait
        self.nursery = nursery
        self.limit = limit
        dirs.live = {}
        dirs.long = long
        self.feeds: OrderedDict[str, BucketFeed] = OrderedDict()  # least recent first
        self.off: dict[str, float] = {}  # bucket -> until when no feed is asked for

    def touch(self, path: str) -> None:
        """The mount looks into the bucket of `path`: its feed, followed from now if it
        is not yet (and the node gave one when last asked)."""
        bucket = path.partition("/")[0]
        if not bucket:
            return
        now = trio.current_time()
        feed = self.feeds.get(bucket)
        if feed is not None:
            feed.touched = now
            self.feeds.move_to_end(bucket)
            return
        if self.off.get(bucket, -1e18) > now:
            return
        feed = self.feeds[bucket] = BucketFeed(self.backend, bucket, self.table, self.dirs,
                                               self.short, self.long, self.wait)
        while len(self.feeds) > self.limit:
            old = next(iter(self.feeds.values()))
            log.info("change feed of %r dropped: %d buckets followed at most", old.bucket,
                     self.limit)
            self.stop(old)
        self.nursery.start_soon(self._run, feed)

    def made(self, bucket: str) -> None:
        """A bucket was made here: its feed may be asked for again at once."""
        self.off.pop(bucket, None)

    def removed(self, bucket: str) -> None:
        """A bucket was removed here: its feed stops."""
        feed = self.feeds.get(bucket)
        if feed is not None:
            self.stop(feed)
        self.off.pop(bucket, None)

    def stop(self, feed: BucketFeed) -> None:
        """Stop following `feed`: its bucket falls back to `attr_timeout` now."""
        if self.feeds.get(feed.bucket) is feed:
            del self.feeds[feed.bucket]
        feed.scope.cancel()
        inos = feed.fall_back()
        if inos:
            self.nursery.start_soon(trio.to_thread.run_sync, invalidate_inodes, inos)

    async def _run(self, feed: BucketFeed) -> None:
        with feed.scope:
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._idle, feed)
                    await feed.run()
                    nursery.cancel_scope.cancel()
                # (the node does not cover the bucket: attr_timeout, not asked again for
                # long)
                self.off[feed.bucket] = trio.current_time() + self.long
                self.stop(feed)
                if feed.refused == 404:
                    self._gone(feed.bucket)
            except Exception:  # a bug must cost the bucket's feed, not the mount
                log.exception("change feed of %r: unexpected failure", feed.bucket)
                self.off[feed.bucket] = trio.current_time() + self.long
                if self.feeds.get(feed.bucket) is feed:
                    del self.feeds[feed.bucket]
                assert self.dirs.live is not None
                self.dirs.live.pop(feed.bucket, None)

    def _gone(self, bucket: str) -> None:
        """The node says the bucket is gone (its feed's 404): the top level's listing and
        the bucket's own attributes are dropped, and the kernel's entry of it."""
        self.dirs.forget("")
        inode = self.table.find(bucket)
        if inode is not None and inode.stage is None:
            inode.attrs.fetched = -1e18
        invalidate_entry(pyfuse3.ROOT_INODE, bucket.encode())

    async def _idle(self, feed: BucketFeed) -> None:
        """Stop the feed once its bucket was not touched for `long`."""
        while True:
            await trio.sleep_until(feed.touched + self.long)
            if trio.current_time() - feed.touched >= self.long:
                log.info("change feed of %r stopped: not used for %g s", feed.bucket,
                         self.long)
                self.stop(feed)
                return
