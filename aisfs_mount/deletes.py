"""Unlinks whose DELETE goes in the background, many keys to a request (`Deletes`).

unlink of a file no one has open answers once the mount knows: the name is gone from the
inode table and the listings, and its key is queued. A sender per bucket takes what is
queued when a request slot is free (DELETES_IN_FLIGHT at once) and sends it: one key as a
DeleteObject, more as one DeleteObjects of up to BATCH_KEYS keys (the node deletes them
together: one index transaction, one round of fsyncs) - so `rm` of many files costs a
request per few hundred names, not a round trip each, and the queue fills while one is in
flight. Past QUEUED_MAX names queued or in flight an unlink waits for room. A key that
failed is retried once; an endpoint that answers DeleteObjects with NotImplemented gets
single DELETEs from then on, 16 at a time (so does a batch holding a key XML cannot
carry, a control character).

Until its DELETE is done the name is missing for this mount whatever the store still
lists (`DirCache.deleting`), and whatever could be overtaken by it waits: an upload, a
symlink, a mkdir or a rename to the same name, a rename or an fsyncdir of a directory
above it, and the mount's exit. rmdir queues its marker's DELETE the same way
(`remove_dir`) without waiting for those below it. As on a local disk, fsync of the
directory makes the unlinks and rmdirs in it durable: fsyncdir returns when they (and
those below them) are done, EIO if one failed (logged).

The first unlink in a bucket, and every one after a DELETE there failed, is sent before
unlink returns, so an answer that refuses it (EACCES, a read-only bucket) reaches `rm`.
"""

from __future__ import annotations

import logging

import trio

from aisfs.errors import S3Error
from aisfs_mount.backend import Backend
from aisfs_mount.background import wait_in_flight
from aisfs_mount.dirs import DirCache
from aisfs_mount.paths import Layout, split
from aisfs_mount.stats import Stats

log = logging.getLogger("aisfs_mount.fs")  # the messages are the operations' (unlink, fsyncdir)

DELETES_IN_FLIGHT = 4  # DELETE or DeleteObjects requests sent at once in the background
BATCH_KEYS = 1000  # keys in one DeleteObjects (S3's most)
QUEUED_MAX = 10_000  # names queued or in flight before an unlink waits for room
SINGLES_AT_ONCE = 16  # DELETEs at once of a batch the endpoint would not take whole

Queued = list[tuple[str, str]]  # (path, key) of one bucket, in the order unlinked


class Deletes:
    def __init__(self, backend: Backend, layout: Layout, dirs: DirCache, stats: Stats,
                 nursery: trio.Nursery) -> None:
        self.backend = backend
        self.layout = layout
        self.dirs = dirs
        self.stats = stats
        self.nursery = nursery
        # DELETEs queued or in flight (path -> set when done), and those that failed (path
        # -> the error, reported by fsyncdir of the directory)
        self.in_flight: dict[str, trio.Event] = {}
        self.failed: dict[str, str] = {}
        self.trusted: set[str] = set()  # buckets where a DELETE went through, none failed
        self.queued: dict[str, Queued] = {}  # bucket -> names not sent yet
        self.draining: set[str] = set()  # buckets whose sender runs
        self.slots = trio.Semaphore(DELETES_IN_FLIGHT)
        self.room = trio.Semaphore(QUEUED_MAX)
        self.batches = True  # False once the endpoint answered DeleteObjects NotImplemented

    async def delete(self, path: str) -> None:
        """Delete the object at `path`: in the background once its bucket took one."""
        await self.done(path)
        bucket, key = self.layout.key(path)
        if bucket not in self.trusted:
            await self.backend.delete(bucket, key)
            self.trusted.add(bucket)
            return
        await self._queue(path, bucket, key)

    async def remove_dir(self, path: str) -> None:
        """rmdir: the marker's DELETE, queued as an unlink's (any store takes a DELETE of
        a marker that is not there). rmdir does not wait for the DELETEs of what was in
        the directory: until they and the marker's are done, listings read meanwhile do
        not show it (`DirCache.removed`), whatever keys the store still has under it."""
        bucket, prefix = self.layout.prefix_of(path)
        await self.done(path)
        pre = path + "/"
        below = sum(1 for p in self.in_flight if p.startswith(pre))
        queued = bucket in self.trusted
        if below + queued:  # (counted down by `_finish`: set before any wait)
            self.dirs.removed[path] = below + queued
        if queued:
            await self._queue(path, bucket, prefix)
        else:
            await self.backend.delete(bucket, prefix)  # (sent now: a refusal reaches rmdir)
            self.trusted.add(bucket)

    async def _queue(self, path: str, bucket: str, key: str) -> None:
        await self.room.acquire()
        self.in_flight[path] = trio.Event()
        self.dirs.deleting.add(path)
        self.failed.pop(path, None)
        self.queued.setdefault(bucket, []).append((path, key))
        if bucket not in self.draining:
            self.draining.add(bucket)
            self.nursery.start_soon(self._drain, bucket, self.nursery)

    async def done(self, path: str, children: bool = False, below: bool = False) -> None:
        """Wait for the DELETE of `path` (and of the names directly in it, or anywhere
        below it) still queued or in flight. A directory removed here under that name:
        all of its (a name made again waits for them, so no listing hides it after)."""
        below = below or path in self.dirs.removed
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
        """At exit (the mount's nursery is closed): send what is still queued (the exit
        cancelled it, or what was on its way), and wait for it, for at most `timeout`."""
        with trio.move_on_after(timeout):
            async with trio.open_nursery() as nursery:
                self.draining.clear()
                for bucket in [b for b, q in self.queued.items() if q]:
                    self.draining.add(bucket)
                    nursery.start_soon(self._drain, bucket, nursery)
            for ev in list(self.in_flight.values()):
                await ev.wait()

    async def _drain(self, bucket: str, nursery: trio.Nursery) -> None:
        """Send the names queued in `bucket`, a batch per free slot, until none is left."""
        try:
            while self.queued.get(bucket):
                await self.slots.acquire()
                q = self.queued[bucket]
                batch, q[:BATCH_KEYS] = q[:BATCH_KEYS], []
                if batch:
                    nursery.start_soon(self._send, bucket, batch)
                else:
                    self.slots.release()
        finally:
            self.draining.discard(bucket)

    async def _send(self, bucket: str, batch: Queued) -> None:
        try:
            errors = await self._delete_keys(bucket, [k for _, k in batch])
        except BaseException:  # cancelled (alone or in a group): sent again by wait_all
            self.queued.setdefault(bucket, [])[:0] = batch
            raise
        finally:
            self.slots.release()
        for path, key in batch:
            self._finish(path, bucket, errors.get(key))

    def _finish(self, path: str, bucket: str, error: str | None) -> None:
        if error is None:
            self.dirs.note_deleted(path)  # (a listing started before may still show it)
        else:
            self.stats.delete_failures += 1
            self.failed[path] = error
            self.trusted.discard(bucket)
            log.error("unlink %r: the object was not deleted: %s", path, error)
        self.dirs.deleting.discard(path)
        self.in_flight.pop(path).set()
        self.room.release()
        d = path
        while d:  # the directories removed around it: shown again once all theirs are done
            left = self.dirs.removed.get(d)
            if left is not None:
                if left > 1:
                    self.dirs.removed[d] = left - 1
                else:
                    del self.dirs.removed[d]
            d = split(d)[0]

    async def _delete_keys(self, bucket: str, keys: list[str]) -> dict[str, str]:
        """Delete `keys`, each failure retried once: those not deleted, with why."""
        errors = await self._attempt(bucket, keys)
        if errors:
            log.warning("DELETE of %d key(s) in %r failed (%s), retrying", len(errors),
                        bucket, next(iter(errors.values())))
            errors = await self._attempt(bucket, list(errors))
        return errors

    async def _attempt(self, bucket: str, keys: list[str]) -> dict[str, str]:
        if len(keys) > 1 and self.batches:
            try:
                return await self.backend.delete_many(bucket, keys)
            except S3Error as e:  # (a key XML 1.0 cannot carry: MalformedXML, one by one)
                if e.code not in ("NotImplemented", "MalformedXML"):
                    return {k: str(e) for k in keys}
                self.batches = e.code != "NotImplemented"
            except Exception as e:
                return {k: str(e) for k in keys}
        errors: dict[str, str] = {}
        if len(keys) == 1:
            try:
                await self.backend.delete(bucket, keys[0])
            except Exception as e:
                errors[keys[0]] = str(e)
            return errors
        limit = trio.CapacityLimiter(SINGLES_AT_ONCE)

        async def one(key: str) -> None:
            async with limit:
                try:
                    await self.backend.delete(bucket, key)
                except Exception as e:
                    errors[key] = str(e)

        async with trio.open_nursery() as nursery:
            for k in keys:
                nursery.start_soon(one, k)
        return errors
