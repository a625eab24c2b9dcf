"""Group commit on the event loop: requests that arrive while a batch is being committed
go together in the next batch (one hand-off, one lock, one index transaction, one round
of fsyncs for all of them), and each caller gets its own item's outcome only once its
batch has returned - that is, once the batch is durable.

The first caller with nothing running leads: it commits the batch holding its own item.
When it is done, the oldest waiting caller (if any) leads the next batch, so no caller
waits for more than the batch in flight and its own. A ``gather`` hook, given the last
batch's size, is awaited by each leader before it takes the queue: a few passes of the
scheduler there let requests already received reach the queue (small PUTs).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

import outcome
import trio

from .files import fsync_dir

T = TypeVar("T")
R = TypeVar("R")

Batch = Callable[[list[T]], Awaitable[list[outcome.Outcome[R]]]]


class _Entry(Generic[T, R]):
    __slots__ = ("item", "lead", "result", "woken")

    def __init__(self, item: T) -> None:
        self.item = item
        self.lead = False
        self.result: outcome.Outcome[R] | None = None
        self.woken = trio.Event()


class Group(Generic[T, R]):
    """``await submit(item)``: ``item`` committed with those that arrived meanwhile."""

    def __init__(self, run_batch: Batch[T, R],
                 gather: Callable[[int], Awaitable[None]] | None = None) -> None:
        self._run_batch = run_batch  # one outcome per item, in order
        # awaited by a leader before it takes the queue: a scheduling hint that neither
        # raises nor is cancelled (its passes cancel-shielded), or the group would stay busy
        self._gather = gather
        self._queue: list[_Entry[T, R]] = []
        self._busy = False
        self._last = 0  # the size of the last batch

    async def submit(self, item: T) -> R:
        entry: _Entry[T, R] = _Entry(item)
        self._queue.append(entry)
        if self._busy:
            with trio.CancelScope(shield=True):  # its item may be in the batch running
                await entry.woken.wait()
        else:
            self._busy = True
            entry.lead = True
        if entry.lead:
            await self._lead()
        assert entry.result is not None
        return entry.result.unwrap()

    async def _lead(self) -> None:
        if self._gather is not None:
            await self._gather(self._last)
        batch, self._queue = self._queue, []
        self._last = len(batch)
        items = [e.item for e in batch]
        try:
            if len(batch) == 1:  # the leader's own item alone: a cancellation is its own
                results = await self._run_batch(items)
            else:  # others' items: never left half done
                with trio.CancelScope(shield=True):
                    results = await self._run_batch(items)
        except Exception as exc:  # the whole batch failed: each caller gets the error
            results = [outcome.Error(exc) for _ in batch]
        except BaseException:  # a lone leader cancelled: the next leader is woken
            results = [outcome.Error(RuntimeError("group commit interrupted")) for _ in batch]
            raise
        finally:
            if self._queue:  # the next batch: its oldest caller leads it
                nxt = self._queue[0]
                nxt.lead = True
                nxt.woken.set()
            else:
                self._busy = False
            for e, r in zip(batch, results, strict=True):
                e.result = r
                e.woken.set()


SYNC_THREADS = 8


class _Calls:
    """The calls of one ``_together``: how many are left, the first error, and a lock
    held until the last one is done (so the caller is woken once, not once per call)."""

    __slots__ = ("done", "error", "left", "lock")

    def __init__(self, left: int) -> None:
        self.left = left
        self.error: BaseException | None = None
        self.lock = threading.Lock()
        self.done = threading.Lock()
        self.done.acquire()

    def finished(self, error: BaseException | None) -> None:
        with self.lock:
            if error is not None and self.error is None:
                self.error = error
            self.left -= 1
            last = self.left == 0
        if last:
            self.done.release()


_JOBS: queue.SimpleQueue[tuple[Callable[[Any], object], Any, _Calls]] = queue.SimpleQueue()
_STARTED: list[threading.Thread] = []
_START_LOCK = threading.Lock()


def _sync_worker() -> None:
    get = _JOBS.get
    while True:
        fn, arg, calls = get()
        try:
            fn(arg)
        except BaseException as e:  # noqa: BLE001 - handed to the caller, which raises it
            calls.finished(e)
        else:
            calls.finished(None)


def _together(fn: Callable[[Any], object], items: list[Any]) -> None:
    """``fn(item)`` for every item at once: all but the first in the pool's threads, the
    first in this one; returns once every call has, raising the first error."""
    if len(_STARTED) < SYNC_THREADS:
        with _START_LOCK:
            while len(_STARTED) < SYNC_THREADS:
                t = threading.Thread(target=_sync_worker, name="aisfs-fsync", daemon=True)
                t.start()
                _STARTED.append(t)
    calls = _Calls(len(items))
    put = _JOBS.put
    for item in items[1:]:
        put((fn, item, calls))
    try:
        fn(items[0])
    except BaseException as e:  # noqa: BLE001 - raised once the others have returned
        calls.finished(e)
    else:
        calls.finished(None)
    calls.done.acquire()  # the last call's release
    if calls.error is not None:
        raise calls.error


def fsync_together(fds: Iterable[int] = (), dirs: Iterable[str] = ()) -> None:
    """fsync the files, then the directories, a batch's from several threads at once.

    One after the other, each fsync waits for its own journal commit and device flush
    (~4 ms each on a busy disk: 16 directories took 68 ms); issued together the file
    system folds them into one or two commits (4 ms for the same 16). Every one has
    returned - each durable - when this does. The calling thread takes one of them; the
    pool's threads (plain threads on one job queue: a ThreadPoolExecutor's future per
    fsync cost more of the GIL than the fsyncs' own Python) live as long as the process
    (one pool for every store in it)."""
    files, todo = list(fds), list(dirs)
    if len(files) + len(todo) < 2:
        for fd in files:
            os.fsync(fd)
        for d in todo:
            fsync_dir(d)
        return
    if files:
        _together(os.fsync, files)
    if todo:
        _together(fsync_dir, todo)


def _files_then_dir(job: tuple[list[int], str]) -> None:
    fds, d = job
    for fd in fds:
        os.fsync(fd)
    fsync_dir(d)


def fsync_linked(files: Iterable[tuple[int, str]], dirs: Iterable[str] = ()) -> None:
    """``fsync_together`` for new files just linked into their directories: ``files``
    are (fd, its directory) pairs; each job fsyncs the files of one directory, then that
    directory; the directories of ``dirs`` no file named go alone.

    Half the jobs (hand-offs to the pool) of files first, then directories: a batch of
    small PUTs puts each manifest in its own directory (256 per mountpath), so a job is
    mostly one file and its directory. A directory is fsynced only after every new file
    of the batch in it: a name renamed over an acknowledged file (an overwrite's
    manifest) is never made durable before the bytes it now points to - the old file's
    content, once durable, is replaced only by durable content. Every file and every
    directory has been fsynced when this returns."""
    by_dir: dict[str, list[int]] = {}
    for fd, d in files:
        by_dir.setdefault(d, []).append(fd)
    jobs: list[tuple[list[int], str]] = [(fds, d) for d, fds in by_dir.items()]
    jobs += [([], d) for d in dict.fromkeys(dirs) if d not in by_dir]
    if len(jobs) == 1:
        _files_then_dir(jobs[0])
    elif jobs:
        _together(_files_then_dir, jobs)
