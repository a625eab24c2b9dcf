"""Directory markers sent in the background (`Markers`).

mkdir answers at once: the directory is in the inode table and the listings, and its
marker (an empty object named ``prefix/``) follows in a background PUT, at most
MARKERS_IN_FLIGHT at a time, retried once. fsyncdir waits for the markers of the
directory and of those made below it (EIO if one was not stored); rmdir, rename and a
metadata change of a directory wait for the markers at or below it; the mount's exit
waits for all of them, and sends again those it cancelled on their way.

Held back and sent in batches (32, or 0.5 s after the first) the node group-commits them
together: that made `cp -r` 1.16x faster under heavy load (load 11-29) but 0.6-0.8x at
load 8-12 (a commit round of 32 markers in 32 directories, which the next file's PUT
waits behind, costs more than one marker's), so each goes at once.
"""

from __future__ import annotations

import logging

import trio

from aisfs_mount.backend import Backend
from aisfs_mount.background import retried_once, wait_in_flight
from aisfs_mount.dirs import DirCache
from aisfs_mount.inodes import DIR_CONTENT_TYPE, Inode, meta_of
from aisfs_mount.paths import Layout
from aisfs_mount.stats import Stats

log = logging.getLogger("aisfs_mount.fs")  # the messages are the operations' (mkdir, fsyncdir)

MARKERS_IN_FLIGHT = 8  # directory markers sent at once in the background


class Markers:
    def __init__(self, backend: Backend, layout: Layout, dirs: DirCache, stats: Stats,
                 nursery: trio.Nursery) -> None:
        self.backend = backend
        self.layout = layout
        self.dirs = dirs
        self.stats = stats
        self.nursery = nursery
        # marker PUTs still in flight (path -> set when done), and those that failed
        # (path -> the error, reported by fsyncdir of the directory or one above it)
        self.in_flight: dict[str, trio.Event] = {}
        self.failed: dict[str, str] = {}
        self.limiter = trio.CapacityLimiter(MARKERS_IN_FLIGHT)
        # markers whose PUT the mount's exit cancelled (sent again by wait_all)
        self.cancelled: list[tuple[Inode, str, trio.Event]] = []

    def send(self, inode: Inode, path: str) -> None:
        """Start the marker PUT of the directory just made at `path`."""
        done = trio.Event()
        self.in_flight[path] = done
        self.dirs.pending.add(path)
        self.nursery.start_soon(self._put, inode, path, done)

    async def sent(self, path: str, children: bool = False, below: bool = False) -> None:
        """Wait for the marker PUT of the directory at `path` (and of the directories made
        directly in it, or anywhere below it) still in flight."""
        await wait_in_flight(self.in_flight, path, children, below)

    def failure_in(self, path: str) -> tuple[str, str] | None:
        """(path, error) of a marker not stored: the directory's own or one made below it."""
        pre = path + "/" if path else ""
        for p, err in list(self.failed.items()):
            if p == path or p.startswith(pre):
                return p, err
        return None

    def forget(self, path: str) -> None:
        """The directory at `path` is gone: its marker's failure is no longer news."""
        self.failed.pop(path, None)

    async def wait_all(self, timeout: float) -> None:
        """At exit (the mount's nursery is closed): send again the markers whose PUT the
        exit cancelled, and wait for those on their way, for at most `timeout` seconds."""
        with trio.move_on_after(timeout):
            async with trio.open_nursery() as nursery:
                again, self.cancelled = self.cancelled, []
                for inode, path, done in again:
                    nursery.start_soon(self._put, inode, path, done)
            for ev in list(self.in_flight.values()):
                await ev.wait()

    async def _put(self, inode: Inode, path: str, done: trio.Event) -> None:
        try:
            bucket, prefix = self.layout.prefix_of(path)
            async with self.limiter:
                info = await retried_once(
                    lambda: self.backend.put_bytes(bucket, prefix, b"", meta_of(inode),
                                                   DIR_CONTENT_TYPE),
                    log, "mkdir %r: marker PUT", path)
            inode.attrs.etag = info.etag
            self.failed.pop(path, None)
        except trio.Cancelled:
            self.cancelled.append((inode, path, done))  # the exit cut it: sent by wait_all
            raise
        except Exception as e:
            self.stats.upload_failures += 1
            self.failed[path] = str(e)
            log.error("mkdir %r: the directory's marker was not stored: %s", path, e)
        self.dirs.pending.discard(path)
        del self.in_flight[path]
        done.set()
