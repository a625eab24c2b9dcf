"""Directory markers sent in the background, in batches (`Markers`).

mkdir answers at once: the directory is in the inode table and the listings, and its
marker (an empty object named ``prefix/``) follows in a background PUT, retried once.
Markers are held back and sent together - when BATCH are waiting, or BATCH_DELAY after
the first of them, at most MARKERS_IN_FLIGHT at a time - so the node commits them in a
few group commits instead of one fsync'd commit each, none of them between a `cp -r`'s
file uploads (a marker sent alone made the next close() wait for its commit round).
Anyone who waits for a marker sends what is held at once: fsyncdir waits for the markers
of the directory and of those made below it (EIO if one was not stored); rmdir, rename
and a metadata change of a directory wait for the markers at or below it; the mount's
exit waits for all of them.
"""

from __future__ import annotations

import logging

import trio

from aisfs_mount.backend import Backend
from aisfs_mount.dirs import DirCache
from aisfs_mount.inodes import DIR_CONTENT_TYPE, Inode, meta_of
from aisfs_mount.paths import Layout
from aisfs_mount.stats import Stats

log = logging.getLogger("aisfs_mount.fs")  # the messages are the operations' (mkdir, fsyncdir)

MARKERS_IN_FLIGHT = 32  # directory markers sent at once in the background
BATCH = 32  # markers held back until this many wait ...
BATCH_DELAY = 0.5  # ... or this many seconds passed since the first of them


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
        # markers held back (`send`), and the generation of the batch they belong to
        self.held: list[tuple[Inode, str, trio.Event]] = []
        self.batch = 0

    def send(self, inode: Inode, path: str) -> None:
        """Send (soon, with others) the marker PUT of the directory just made at `path`."""
        done = trio.Event()
        self.in_flight[path] = done
        self.dirs.pending.add(path)
        self.held.append((inode, path, done))
        if len(self.held) >= BATCH:
            self.flush()
        elif len(self.held) == 1:
            self.nursery.start_soon(self._flush_later, self.batch)

    def flush(self) -> None:
        """Start the PUTs of the markers held back."""
        held, self.held = self.held, []
        self.batch += 1
        for inode, path, done in held:
            self.nursery.start_soon(self._put, inode, path, done)

    async def _flush_later(self, batch: int) -> None:
        await trio.sleep(BATCH_DELAY)
        if self.batch == batch and self.held:
            self.flush()

    async def sent(self, path: str, children: bool = False, below: bool = False) -> None:
        """Wait for the marker PUT of the directory at `path` (and of the directories made
        directly in it, or anywhere below it) still in flight."""
        pre = path + "/" if path else ""
        waits = []
        for p, ev in self.in_flight.items():
            tail = p[len(pre):] if p.startswith(pre) else None
            if p == path or tail is not None and (below or children and "/" not in tail):
                waits.append(ev)
        if waits and self.held:
            self.flush()
        for ev in waits:
            await ev.wait()

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
        """At exit (the mount's nursery is closed): send the markers still held, or whose
        PUT the exit cancelled, and wait for them, for at most `timeout` seconds."""
        with trio.move_on_after(timeout):
            async with trio.open_nursery() as nursery:
                held, self.held = self.held, []
                for inode, path, done in held:
                    nursery.start_soon(self._put, inode, path, done)
            for ev in list(self.in_flight.values()):
                await ev.wait()

    async def _put(self, inode: Inode, path: str, done: trio.Event) -> None:
        try:
            bucket, prefix = self.layout.prefix_of(path)
            async with self.limiter:
                for attempt in (1, 2):
                    try:
                        info = await self.backend.put_bytes(bucket, prefix, b"",
                                                            meta_of(inode), DIR_CONTENT_TYPE)
                        break
                    except Exception as e:
                        if attempt == 2:
                            raise
                        log.warning("mkdir %r: marker PUT failed (%s), retrying", path, e)
            inode.attrs.etag = info.etag
            self.failed.pop(path, None)
        except trio.Cancelled:
            self.held.append((inode, path, done))  # the exit cancelled it: sent by wait_all
            raise
        except Exception as e:
            self.stats.upload_failures += 1
            self.failed[path] = str(e)
            log.error("mkdir %r: the directory's marker was not stored: %s", path, e)
        self.dirs.pending.discard(path)
        del self.in_flight[path]
        done.set()
