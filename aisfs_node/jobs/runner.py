"""``JobRunner``: jobs as trio tasks in the node's nursery, registered, abortable.

A job is a ``Job`` record (aisfs.jobs) and a *work* function ``async def work(job)``
that does the job and updates the record's counters. The runner registers the record,
runs the work in its own cancel scope (at most ``max_running`` jobs at once; the others
wait their turn, shown running with no progress), and records the end:

- the work returns: ``finished`` (``failed`` if it left ``job.error`` set);
- it raises: ``failed`` with the error's message (an S3Error's own, else the type);
- ``abort(id)``: its scope is cancelled: ``aborted``; the node stopping: ``aborted`` too.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from typing import TypeVar

import trio

from aisfs import errors
from aisfs.backend import RemoteObjects
from aisfs.errors import S3Error
from aisfs.jobs import Job, JobRegistry, JobState
from aisfs.store.store import Store

log = logging.getLogger("aisfs.jobs")

MAX_RUNNING = 4  # jobs at work at once
JobWork = Callable[[Job], Awaitable[None]]
T = TypeVar("T")


class JobRunner:
    def __init__(self, nursery: trio.Nursery, registry: JobRegistry | None = None, *,
                 remote: RemoteObjects | None = None, store: Store | None = None,
                 max_running: int = MAX_RUNNING) -> None:
        self.registry = registry if registry is not None else JobRegistry()
        self.remote = remote  # the node's backend buckets, for the jobs that need them
        self.store = store
        self.active = 0  # jobs whose work is running
        self._nursery = nursery
        self._slots = trio.Semaphore(max_running)
        self._scopes: dict[str, trio.CancelScope] = {}
        self._done: dict[str, trio.Event] = {}

    def start(self, job: Job, work: JobWork) -> Job:
        """Register ``job`` and run ``work(job)`` in the background; returns at once."""
        self.registry.add(job)
        self._contend_while_busy()
        self._scopes[job.id] = trio.CancelScope()
        self._done[job.id] = trio.Event()
        self._nursery.start_soon(self._run, job, work, name=f"job {job.kind} {job.id}")
        log.info("job %s %s started (%s)", job.kind, job.id, " ".join(job.buckets))
        return job

    def abort(self, job_id: str, reason: str = "aborted") -> Job | None:
        """Stop a running job (a finished one is returned as it is); None: no such job
        of the runner's (a store job's record cannot be stopped here)."""
        job = self.registry.own(job_id)
        if job is None:
            return None
        scope = self._scopes.get(job_id)
        if job.running and scope is not None:
            job.finish(JobState.ABORTED, reason)
            scope.cancel()
        return job

    def abort_kind(self, kind: str, reason: str = "aborted") -> list[Job]:
        """Stop every running job of ``kind``."""
        jobs = [j for j in self.registry.jobs(kind, running_only=True)
                if self.registry.own(j.id) is j]
        for job in jobs:
            self.abort(job.id, reason)
        return jobs

    def _contend_while_busy(self) -> None:
        """A running job counts as contention for the store's short steps: they go to
        worker threads then, not on the event loop (``aisfs.store.threads.ShortSteps``:
        on the loop only when one request is in flight - a job's many concurrent fills
        would otherwise run their commits, fsyncs included, one at a time on the loop).
        Wraps the store's ``uncontended`` once, when the first job starts (the server
        has set it by then)."""
        store = self.store
        if store is None or getattr(store.uncontended, "jobs_guard", False):
            return
        served_alone = store.uncontended

        def uncontended() -> bool:
            return self.active == 0 and served_alone()

        uncontended.jobs_guard = True  # type: ignore[attr-defined]
        store.uncontended = uncontended

    async def wait(self, job_id: str) -> Job | None:
        """Until the job ends (tests, the bench)."""
        done = self._done.get(job_id)
        if done is not None:
            await done.wait()
        return self.registry.own(job_id)

    async def _run(self, job: Job, work: JobWork) -> None:
        scope = self._scopes[job.id]
        try:
            with scope:
                async with self._slots:
                    self.active += 1
                    try:
                        await work(job)
                    finally:
                        self.active -= 1
            if scope.cancelled_caught:
                job.finish(JobState.ABORTED, job.error or "aborted")
            else:
                job.finish(JobState.FAILED if job.error else JobState.FINISHED, job.error)
        except trio.Cancelled:
            job.finish(JobState.ABORTED, "the node is stopping")
            raise
        except BaseException as e:  # noqa: B036 - every failure ends the job, recorded
            err = first_error(e)
            if not isinstance(err, Exception):
                raise
            job.finish(JobState.FAILED, error_text(err))
            if not isinstance(err, S3Error | OSError):
                log.exception("job %s %s failed", job.kind, job.id, exc_info=err)
        finally:
            self._scopes.pop(job.id, None)
            self._done.pop(job.id).set()
            self.registry.prune()
            log.info("job %s %s %s: %d objects, %d bytes, %d skipped, %d errors%s",
                     job.kind, job.id, job.state.value, job.objects_done, job.bytes_done,
                     job.objects_skipped, job.errors, f" ({job.error})" if job.error else "")


def error_text(e: BaseException) -> str:
    """An error as a job records it: an S3Error's code and message, else its type and
    text."""
    if isinstance(e, S3Error):
        return f"{e.code}: {e.message}"
    return f"{type(e).__name__}: {e}"


def first_error(e: BaseException) -> BaseException:
    """The error a job reports out of its nursery's group (:func:`aisfs.errors.first_error`,
    cancelled siblings passed over)."""
    return errors.first_error(e, ignore=trio.Cancelled)


async def for_each(items: AsyncIterable[T] | Iterable[T],
                   worker: Callable[[T], Awaitable[None]], limit: int) -> None:
    """``worker(item)`` for every item, at most ``limit`` at once; items are taken only as
    a slot frees (a long listing is never read ahead). A worker's exception stops the
    rest and is raised (in an exception group: see ``first_error``)."""
    slots = trio.Semaphore(max(1, limit))

    async def one(item: T) -> None:
        try:
            await worker(item)
        finally:
            slots.release()

    async with trio.open_nursery() as nursery:
        if isinstance(items, AsyncIterable):
            async for item in items:
                await slots.acquire()
                nursery.start_soon(one, item)
        else:
            for item in items:
                await slots.acquire()
                nursery.start_soon(one, item)


_RUNNERS: weakref.WeakKeyDictionary[object, JobRunner] = weakref.WeakKeyDictionary()


def attach(node: object, runner: JobRunner) -> None:
    """Make ``runner`` the one ``runner_of(node)`` finds (the app does this at start)."""
    _RUNNERS[node] = runner


def runner_of(node: object) -> JobRunner:
    """The job runner of a node (``aisfs_node.native.wire.Node``); 503 before the node started
    one."""
    runner = _RUNNERS.get(node)
    if runner is None:
        raise S3Error("ServiceUnavailable", "the node's job runner is not started", status=503)
    return runner


def start_jobs(node: object, store: Store, remote: RemoteObjects | None,
               nursery: trio.Nursery) -> JobRunner:
    """The node's runner (``runner_of(node)``), its registry showing the store's resilver
    and scrub too; jobs run in ``nursery`` (cancelled when the node stops)."""
    from .store import store_jobs_source

    runner = JobRunner(nursery, remote=remote, store=store)
    runner.registry.add_source(store_jobs_source(store.admin.status))
    attach(node, runner)
    return runner
