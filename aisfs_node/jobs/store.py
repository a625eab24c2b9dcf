"""The store's resilver and scrub (``aisfs.store.jobs.Progress``, run in threads of their
own) shown as ``Job`` records: a registry source, so ``aisfs job show`` and ``/v1``'s job
queries list them beside the node's jobs. Read-only: they are stopped by the store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aisfs.jobs import RESILVER, SCRUB, Job, JobState

_STATES = {"running": JobState.RUNNING, "done": JobState.FINISHED,
           "aborted": JobState.ABORTED, "failed": JobState.FAILED}


def job_of_progress(kind: str, prog: dict[str, Any]) -> Job:
    """A store job's progress record (``Progress.to_json()``) as a ``Job``."""
    buckets = tuple(f"ais://{b}" for b in prog.get("buckets") or ())
    job = Job(kind=kind, buckets=buckets, id=str(prog.get("id") or ""),
              state=_STATES.get(str(prog.get("state")), JobState.RUNNING),
              started_ns=int(prog.get("started_ns") or 0),
              finished_ns=int(prog.get("finished_ns") or 0),
              objects_total=int(prog.get("objects_total") or 0),
              bytes_total=int(prog.get("bytes_total") or 0),
              objects_done=int(prog.get("objects_done") or 0),
              bytes_done=int(prog.get("bytes_done") or 0),
              errors=int(prog.get("unrepairable_count") or 0) + int(prog.get("lost_chunks") or 0),
              failed_objects=[f"{name}: unrepairable" for name in
                              (prog.get("unrepairable") or [])[:100]],
              error=str(prog.get("error") or ""))
    job.detail = {k: prog[k] for k in ("reason", "chunks_checked", "copies_added",
                                        "copies_removed", "copies_repaired",
                                        "manifests_fixed", "lost_chunks") if prog.get(k)}
    return job


def store_jobs_source(status: Callable[[], dict[str, Any]]) -> Callable[[], list[Job]]:
    """A registry source over ``StoreAdmin.status`` (its current or last resilver/scrub)."""
    def jobs() -> list[Job]:
        st = status()
        found = []
        for kind, key in ((RESILVER, "resilver"), (SCRUB, "scrub")):
            prog = st.get(key)
            if prog:
                found.append(job_of_progress(kind, prog))
        return found

    return jobs
