"""One job's record (an AIS "xaction"): what it is, how far it got, how it ended.

Sans-IO: a plain object the runner (``aisfs_node.jobs``) updates from the trio loop; the
``/v1`` handlers and the CLI read it as JSON (``to_json``) or in AIS's shapes
(``snap_json``: ``JobSnap``; ``status_json``: ``JobStatus``).
"""

from __future__ import annotations

import enum
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

MAX_ERRORS_LISTED = 100  # per-object errors kept by name (the count is exact)
_ID_FIRST = string.ascii_letters
_ID_REST = string.ascii_letters + string.digits


class JobState(enum.StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    ABORTED = "aborted"
    FAILED = "failed"


# the kinds, as AIS names them (xact/api_table.go)
PREFETCH = "prefetch-listrange"
EVICT_OBJECTS = "evict-listrange"
EVICT_BUCKET = "evict-remote-bck"
COPY_BUCKET = "copy-bck"
RESILVER = "resilver"
SCRUB = "scrub"


def new_job_id() -> str:
    """An AIS-looking job id: 10 characters, a letter first (``gB5d1gCkLx``)."""
    return secrets.choice(_ID_FIRST) + "".join(secrets.choice(_ID_REST) for _ in range(9))


def _iso(ns: int) -> str:
    """AIS's JSON time (Go's RFC 3339 with nanoseconds); Go's zero time for 0."""
    if not ns:
        return "0001-01-01T00:00:00Z"
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


@dataclass(eq=False)
class Job:
    """A job and its counters. ``objects_total``/``bytes_total`` are None while not known
    (a prefix is listed as the job goes); ``errors`` counts per-object failures (the job
    goes on past them when asked to: AIS's ``continue-on-error``)."""

    kind: str
    buckets: tuple[str, ...] = ()  # bucket URIs (``s3://b``, ``ais://b``); a copy: src, dst
    id: str = field(default_factory=new_job_id)
    state: JobState = JobState.RUNNING
    started_ns: int = field(default_factory=time.time_ns)
    finished_ns: int = 0
    objects_total: int | None = None
    bytes_total: int | None = None
    objects_done: int = 0  # handled: fetched, evicted, copied
    bytes_done: int = 0
    objects_skipped: int = 0  # nothing to do (already cached, not cached)
    errors: int = 0
    failed_objects: list[str] = field(default_factory=list)  # "name: why", at most 100
    error: str = ""  # why it failed or was aborted
    detail: dict[str, Any] = field(default_factory=dict)  # the kind's own (template, ...)

    @property
    def running(self) -> bool:
        return self.state is JobState.RUNNING

    def add(self, objects: int = 0, nbytes: int = 0) -> None:
        self.objects_done += objects
        self.bytes_done += nbytes

    def skip(self, objects: int = 1) -> None:
        self.objects_skipped += objects

    def object_failed(self, name: str, why: str) -> None:
        self.errors += 1
        if len(self.failed_objects) < MAX_ERRORS_LISTED:
            self.failed_objects.append(f"{name}: {why}")

    def finish(self, state: JobState, error: str = "") -> None:
        """Mark the end (once: a second call is ignored)."""
        if not self.running:
            return
        self.state = state
        self.error = error
        self.finished_ns = time.time_ns()

    def to_json(self) -> dict[str, Any]:
        """Our record: every field, plus ``running`` and ``elapsed_seconds``."""
        end = self.finished_ns or time.time_ns()
        return {
            "id": self.id, "kind": self.kind, "buckets": list(self.buckets),
            "state": self.state.value, "running": self.running,
            "started_ns": self.started_ns, "finished_ns": self.finished_ns,
            "elapsed_seconds": round((end - self.started_ns) / 1e9, 3),
            "objects_total": self.objects_total, "bytes_total": self.bytes_total,
            "objects_done": self.objects_done, "bytes_done": self.bytes_done,
            "objects_skipped": self.objects_skipped, "errors": self.errors,
            "failed_objects": list(self.failed_objects), "error": self.error,
            **({"detail": dict(self.detail)} if self.detail else {}),
        }

    def status_json(self) -> dict[str, Any]:
        """AIS's ``JobStatus`` (``GET /v1/cluster?what=status``)."""
        return {"uuid": self.id, "kind": self.kind, "err": self._abort_err(),
                "end_time": self.finished_ns, "aborted": self.state is JobState.ABORTED}

    def snap_json(self) -> dict[str, Any]:
        """AIS's ``JobSnap`` (``what=qryxstats``, one per job)."""
        snap: dict[str, Any] = {
            "id": self.id, "kind": self.kind,
            "start-time": _iso(self.started_ns), "end-time": _iso(self.finished_ns),
            "stats": {"loc-objs": self.objects_done, "loc-bytes": self.bytes_done,
                      "in-objs": self.objects_done, "in-bytes": self.bytes_done,
                      "out-objs": 0, "out-bytes": 0},
            "aborted": self.state is JobState.ABORTED,
            "is_idle": not self.running,
            "abort-err": self._abort_err(),
        }
        if self.buckets:
            snap["bck"] = bucket_model(self.buckets[0])
        if len(self.buckets) > 1:
            snap["src-bck"] = bucket_model(self.buckets[0])
            snap["dst-bck"] = bucket_model(self.buckets[1])
        return snap

    def _abort_err(self) -> str:
        return self.error if self.state in (JobState.ABORTED, JobState.FAILED) else ""


def bucket_model(uri: str) -> dict[str, Any]:
    """``s3://b`` -> AIS's ``{"name": "b", "provider": "aws", "namespace": ...}``."""
    scheme, sep, name = uri.partition("://")
    if not sep:
        scheme, name = "ais", uri
    provider = "aws" if scheme in ("s3", "aws") else scheme
    return {"name": name, "provider": provider, "namespace": {"uuid": "", "name": ""}}
