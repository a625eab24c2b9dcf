"""Unlinks whose DeleteObject goes in the background (`Deletes`).

unlink of a file no one has open answers once the mount knows: the name is gone from the
inode table and the listings, and its DELETE follows in the background, at most
DELETES_IN_FLIGHT at a time (an unlink past that waits for a slot), retried once - so
`rm` of many files costs the store's DELETE rate, not a round trip each. Until it is done
the name is missing for this mount whatever the store still lists (`DirCache.deleting`),
and whatever could be overtaken by it waits: an upload, a symlink or a rename to the same
name, an rmdir, a rename or an fsyncdir of a directory above it, and the mount's exit.
As on a local disk, fsync of the directory makes the unlinks in it durable: fsyncdir
returns when they are done, EIO if one failed (logged).

The first unlink in a bucket, and every one after a DELETE there failed, is sent before
unlink returns, so an answer that refuses it (EACCES, a read-only bucket) reaches `rm`.
"""

from __future__ import annotations

import logging

import trio

from aisfs_mount.backend import Backend
from aisfs_mount.background import retried_once, wait_in_flight
from aisfs_mount.dirs import DirCache
from aisfs_mount.paths import Layout
from aisfs_mount.stats import Stats

log = logging.getLogger("aisfs_mount.fs")  # the messages are the operations' (unlink, fsyncdir)

DELETES_IN_FLIGHT = 16  # DeleteObjects sent at once in the background


class Deletes:
    def __init__(self, backend: Backend, layout: Layout, dirs: DirCache, stats: Stats,
                 nursery: trio.Nursery) -> None:
        self.backend = backend
        self.layout = layout
        self.dirs = dirs
        self.stats = stats
        self.nursery = nursery
        # DELETEs still in flight (path -> set when done), and those that failed (path ->
        # the error, reported by fsyncdir of the directory)
        self.in_flight: dict[str, trio.Event] = {}
        self.failed: dict[str, str] = {}
        self.trusted: set[str] = set()  # buckets where a DELETE went through, none failed
        self.slots = trio.Semaphore(DELETES_IN_FLIGHT)
        # DELETEs the mount's exit cancelled on their way (sent again by wait_all)
        self.cancelled: list[tuple[str, str, str, trio.Event]] = []

    async def delete(self, path: str) -> None:
        """Delete the object at `path`: in the background once its bucket took one."""
        await self.done(path)
        bucket, key = self.layout.key(path)
        if bucket not in self.trusted:
            await self.backend.delete(bucket, key)
            self.trusted.add(bucket)
            return
        await self.slots.acquire()
        done = trio.Event()
        self.in_flight[path] = done
        self.dirs.deleting.add(path)
        self.failed.pop(path, None)
        self.nursery.start_soon(self._delete, path, bucket, key, done)

    async def done(self, path: str, children: bool = False, below: bool = False) -> None:
        """Wait for the DELETE of `path` (and of the names directly in it, or anywhere
        below it) still in flight."""
        await wait_in_flight(self.in_flight, path, children, below)

    def failure_in(self, path: str) -> tuple[str, str] | None:
        """(path, error) of a DELETE of a name directly in the directory `path` that
        failed, reported once (as a local disk's fsync reports a write error once)."""
        pre = path + "/" if path else ""
        for p, err in list(self.failed.items()):
            if p.startswith(pre) and "/" not in p[len(pre):]:
                del self.failed[p]
                return p, err
        return None

    async def wait_all(self, timeout: float) -> None:
        """At exit (the mount's nursery is closed): send again the DELETEs the exit
        cancelled, and wait for those still on their way, for at most `timeout` seconds."""
        with trio.move_on_after(timeout):
            async with trio.open_nursery() as nursery:
                again, self.cancelled = self.cancelled, []
                for path, bucket, key, done in again:
                    await self.slots.acquire()
                    nursery.start_soon(self._delete, path, bucket, key, done)
            for ev in list(self.in_flight.values()):
                await ev.wait()

    async def _delete(self, path: str, bucket: str, key: str, done: trio.Event) -> None:
        try:
            await retried_once(lambda: self.backend.delete(bucket, key), log,
                               "unlink %r: DELETE", path)
            self.dirs.note_deleted(path)  # (a listing started before may still show it)
        except trio.Cancelled:
            self.cancelled.append((path, bucket, key, done))  # sent again by wait_all
            raise
        except Exception as e:
            self.stats.delete_failures += 1
            self.failed[path] = str(e)
            self.trusted.discard(bucket)
            log.error("unlink %r: the object was not deleted: %s", path, e)
        finally:
            self.slots.release()
        self.dirs.deleting.discard(path)
        del self.in_flight[path]
        done.set()
