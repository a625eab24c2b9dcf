"""The node's LRU task: cached remote objects evicted past the high watermark.

Every ``TICK_SECONDS`` (at most ``lru.capacity_upd_time``) the task writes the access
times GETs recorded in memory to the index, and looks at the mountpaths' file systems
(statvfs: a few syscalls): one above ``space.highwm`` starts a run at once, so a burst of
writes is answered within a tick, not within ``capacity_upd_time``. Every
``capacity_upd_time`` a run starts anyway (it ends at once under the high watermark).
``request()`` starts one now (``POST /v1/daemon/lru``, ``aisfs start lru``).

A run (``aisfs.backend.lru``) evicts least recently used first until every file system it
started for is under ``space.lowwm``; it runs in a worker thread, one at a time, and is
stopped between two objects when the node stops. Each run is logged (one line), counted
in ``/metrics`` (``ais_target_lru_evict_count``/``_bytes``) and kept as the last run's
record for ``GET /v1/daemon/lru``. With ``lru.enabled = false`` nothing runs but the
flush of access times.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import Any

import trio

from aisfs.backend.lru import LruReport, Watermarks, run_lru_sync
from aisfs.config import NodeConfig
from aisfs.store.lru import access_times, fs_usage_sync
from aisfs.store.store import Store
from node.metrics import Metrics

log = logging.getLogger("aisfs.node")

TICK_SECONDS = 5.0  # flush of access times and the cheap look at usage
KIND = "lru"


class LruRun:
    """One run's record (an AIS xaction of kind ``lru``)."""

    def __init__(self, reason: str) -> None:
        self.id = "lru-" + secrets.token_hex(4)
        self.reason = reason
        self.report = LruReport()
        self.state = "running"
        self.error = ""
        self.started_ns = time.time_ns()
        self.finished_ns = 0

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
    def __init__(self, cfg: NodeConfig, store: Store, metrics: Metrics) -> None:
        self.cfg = cfg
        self.store = store
        self.metrics = metrics
        self.current: LruRun | None = None
        self.last: LruRun | None = None
        self._nursery: trio.Nursery | None = None
        self._next_scheduled = 0.0

    def marks(self) -> Watermarks:
        return Watermarks(lowwm=self.cfg.space.lowwm, highwm=self.cfg.space.highwm)

    def status(self) -> dict[str, Any]:
        shown = self.current or self.last
        return {"running": self.current is not None, "pending": False,
                "enabled": self.cfg.lru.enabled,
                "progress": shown.to_json() if shown is not None else None}

    async def serve(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """The task (in the node's nursery): ticks until cancelled."""
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

    async def _tick(self) -> None:
        times = access_times(self.store.index)
        if len(times):
            await trio.to_thread.run_sync(times.flush_sync, self.store.index)
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
        if self.current is not None:
            return self.current
        if self._nursery is None:
            raise RuntimeError("the LRU task is not running")
        run = self.current = LruRun(reason)
        self._nursery.start_soon(self._run, run)
        return run

    async def _run(self, run: LruRun) -> None:
        stop = threading.Event()  # set when the node stops: the run ends between objects
        started = time.monotonic()
        run.state = "aborted"
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
            run.state = "finished"
        except Exception as e:
            run.state, run.error = "failed", str(e)
            log.exception("lru %s failed", run.id)
        finally:
            run.finished_ns = time.time_ns()
            self.current, self.last = None, run
            rep = run.report
            if rep.evicted:
                self.metrics.lru_evicted(rep.evicted, rep.evicted_bytes)
            log.info("lru %s (%s) %s in %.2fs: %s", run.id, run.reason, run.state,
                     time.monotonic() - started, run.error or rep.summary())


async def _set_on_cancel(stop: threading.Event) -> None:
    try:
        await trio.sleep_forever()
    finally:
        stop.set()
