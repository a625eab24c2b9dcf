"""The node's LRU task: cached remote objects evicted past the high watermark.

Every ``TICK_SECONDS`` (at most ``lru.capacity_upd_time``) the task writes the access
times GETs recorded in memory to the index, and looks at the mountpaths' file systems
(statvfs: a few syscalls): one above ``space.highwm`` starts a run at once, so a burst of
writes is answered within a tick, not within ``capacity_upd_time``. Every
``capacity_upd_time`` a run starts anyway (it ends at once under the high watermark).
``request()`` starts one now (``POST /v1/daemon/lru``, ``aisfs start lru``).

Each run is a job of kind ``lru`` in the node's job registry (``aisfs_node.jobs``: listed by
``/v1`` as an AIS xaction, stopped by ``aisfs job stop``) once the node's job runner is
started; the task runs it in its own nursery before that.

A run (``aisfs.backend.lru``) evicts least recently used first until every file system it
started for is under ``space.lowwm``; it runs in a worker thread, one at a time, and is
stopped between two objects when the node stops. Each run is logged (one line), counted
in ``/metrics`` (``ais_target_lru_evict_count``/``_bytes``) and kept as the last run's
record for ``GET /v1/daemon/lru``. With ``lru.enabled = false`` nothing runs but the
flush of access times.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import trio

from aisfs.backend.lru import LruReport, Watermarks, run_lru_sync
from aisfs.config import NodeConfig
from aisfs.errors import S3Error
from aisfs.jobs import Job, new_job_id
from aisfs.store.lru import access_times, fs_usage_sync
from aisfs.store.store import Store
from aisfs_node.jobs import JobRunner, runner_of
from aisfs_node.metrics import Metrics

log = logging.getLogger("aisfs.node")

TICK_SECONDS = 5.0  # flush of access times and the cheap look at usage
KIND = "lru"


class LruRun:
    """One run's record (an AIS xaction of kind ``lru``)."""

    def __init__(self, reason: str) -> None:
        self.id = new_job_id()  # the same id as its job record
        self.reason = reason
        self.report = LruReport()
        self.state = "running"
        self.error = ""
        self.started_ns = time.time_ns()
        self.finished_ns = 0
        self.job: Job | None = None  # its record in the node's job registry, if any

    @property
    def running(self) -> bool:
        return self.state == "running"

    def to_json(self) -> dict[str, Any]:
        rep = self.report
        return {
            "id": self.id, "kind": KIND, "reason": self.reason, "state": self.state,
            "running": self.running, "started_ns": self.started_ns,
            "finished_ns": self.finished_ns, "objects_done": rep.evicted,
            "bytes_done": rep.evicted_bytes, "objects_skipped": rep.skipped,
            "above_highwm": rep.started, "reached_lowwm": rep.reached_lowwm,
            "usage_before": [_usage(u) for u in rep.before],
            "usage_after": [_usage(u) for u in rep.after], "error": self.error,
        }


def _usage(u: Any) -> dict[str, Any]:
    return {"fs": u.fs, "total": u.total, "used": u.used, "percent": round(u.percent, 2)}


class LruService:
    def __init__(
        self, cfg: NodeConfig, store: Store, metrics: Metrics, node: object = None
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.metrics = metrics
        self.node = node  # whose job runner (aisfs_node.jobs.runner_of) records the runs
        self.current: LruRun | None = None
        self.last: LruRun | None = None
        self._nursery: trio.Nursery | None = None
        self._next_scheduled = 0.0

    def marks(self) -> Watermarks:
        return Watermarks(lowwm=self.cfg.space.lowwm, highwm=self.cfg.space.highwm)

    def status(self) -> dict[str, Any]:
        self._settle()
        shown = self.current or self.last
        return {"running": self.current is not None, "pending": False,
                "enabled": self.cfg.lru.enabled,
                "progress": shown.to_json() if shown is not None else None}

    async def serve(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """The task (in the node's nursery): ticks until cancelled."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                self._next_scheduled = trio.current_time() + self.cfg.lru.capacity_upd_time
                while True:
                    await trio.sleep(min(TICK_SECONDS, max(0.05, self.cfg.lru.capacity_upd_time)))
                    try:
                        await self._tick()
                    except Exception:
                        log.exception("lru: tick failed")
        finally:  # the node stops: the last reads' access times are kept (the store is open)
            with trio.CancelScope(shield=True):
                times = access_times(self.store.index)
                try:
                    if len(times):
                        await trio.to_thread.run_sync(times.flush_sync, self.store.index)
                except Exception as e:  # e.g. the index is gone: only recency is lost
                    log.warning("lru: access times not written at stop: %s", e)

    async def _tick(self) -> None:
        times = access_times(self.store.index)
        if len(times):
            await trio.to_thread.run_sync(times.flush_sync, self.store.index)
        self._settle()
        if not self.cfg.lru.enabled or self.current is not None:
            return
        if trio.current_time() >= self._next_scheduled:
            self._next_scheduled = trio.current_time() + self.cfg.lru.capacity_upd_time
            self.request("scheduled")
            return
        marks = self.marks()
        usage = await trio.to_thread.run_sync(fs_usage_sync, self.store)
        if any(marks.over_high(u) for u in usage):
            self.request("above the high watermark")

    def request(self, reason: str = "requested") -> LruRun:
        """Start a run now (the one running, if any, is returned instead)."""
        self._settle()
        if self.current is not None:
            return self.current
        if self._nursery is None:
            raise RuntimeError("the LRU task is not running")
        run = self.current = LruRun(reason)
        runner = self._runner()
        if runner is None:
            self._nursery.start_soon(self._run, run, None)
        else:
            run.job = Job(kind=KIND, id=run.id, detail={"reason": reason})
            runner.start(run.job, lambda j: self._run(run, j))
        return run

    def _settle(self) -> None:
        """A run whose job was stopped before it began (waiting for a slot of the
        runner's) never ran: it is over all the same."""
        run = self.current
        if run is not None and run.job is not None and not run.job.running \
                and run.state == "running":
            run.state, run.error = run.job.state.value, run.job.error
            run.finished_ns = run.job.finished_ns or time.time_ns()
            self.current, self.last = None, run

    def _runner(self) -> JobRunner | None:
        if self.node is None:
            return None
        try:
            return runner_of(self.node)
        except S3Error:  # not started (yet)
            return None

    async def _run(self, run: LruRun, job: Job | None) -> None:
        stop = threading.Event()  # set when the node stops: the run ends between objects
        started = time.monotonic()
        state = "aborted"  # unless it gets to the end (the node stopping, a job stop)
        try:
            if not self.cfg.lru.enabled:
                run.error = "lru.enabled is false"
            else:
                async with trio.open_nursery() as watch:
                    watch.start_soon(_set_on_cancel, stop)
                    await trio.to_thread.run_sync(
                        lambda: run_lru_sync(self.store, self.marks(),
                                             self.cfg.lru.dont_evict_time, stop.is_set,
                                             run.report))
                    watch.cancel_scope.cancel()
            state = "finished"
        except Exception as e:
            state, run.error = "failed", str(e)
            log.exception("lru %s failed", run.id)
        finally:
            run.state = state
            run.finished_ns = time.time_ns()
            self.current, self.last = None, run
            rep = run.report
            if rep.evicted:
                self.metrics.lru_evicted(rep.evicted, rep.evicted_bytes)
            if job is not None:
                _record(job, run)
            log.info("lru %s (%s) %s in %.2fs: %s", run.id, run.reason, run.state,
                     time.monotonic() - started, run.error or rep.summary())


def _record(job: Job, run: LruRun) -> None:
    """The run's outcome on its job record (the runner records the end)."""
    rep = run.report
    job.add(objects=rep.evicted, nbytes=rep.evicted_bytes)
    job.skip(rep.skipped)
    summary = run.to_json()
    job.detail.update({k: summary[k] for k in (
        "above_highwm", "reached_lowwm", "usage_before", "usage_after")})
    if run.state == "failed":
        job.error = run.error


async def _set_on_cancel(stop: threading.Event) -> None:
    try:
        await trio.sleep_forever()
    finally:
        stop.set()
