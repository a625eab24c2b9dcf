"""The node's one list of jobs: running ones and the last ``keep_finished`` finished.

Sans-IO and single-threaded (the trio loop). Other job systems show through it as
*sources*: a callable returning records made on the fly (the store's resilver and
scrub, which run in threads of their own), listed beside the registry's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .record import Job

MAX_FINISHED = 200  # finished records kept (the oldest dropped first)

JobSource = Callable[[], Iterable[Job]]


class JobRegistry:
    def __init__(self, keep_finished: int = MAX_FINISHED) -> None:
        self.keep_finished = keep_finished
        self._jobs: dict[str, Job] = {}  # in start order
        self._sources: list[JobSource] = []

    def add(self, job: Job) -> Job:
        """Register ``job`` (running); the oldest finished records beyond the bound go."""
        self._jobs[job.id] = job
        self.prune()
        return job

    def add_source(self, source: JobSource) -> None:
        """Show the records ``source()`` returns too (they are not stoppable here)."""
        self._sources.append(source)

    def prune(self) -> None:
        finished = [j for j in self._jobs.values() if not j.running]
        for job in finished[: max(0, len(finished) - self.keep_finished)]:
            del self._jobs[job.id]

    def own(self, job_id: str) -> Job | None:
        """One of the registry's own jobs (not a source's): those can be aborted."""
        return self._jobs.get(job_id)

    def get(self, job_id: str) -> Job | None:
        found = self._jobs.get(job_id)
        if found is not None:
            return found
        return next((j for j in self._from_sources() if j.id == job_id), None)

    def jobs(self, kind: str = "", *, running_only: bool = False) -> list[Job]:
        """Every job (of ``kind`` if given), newest first."""
        every = [*self._jobs.values(), *self._from_sources()]
        every.sort(key=lambda j: j.started_ns, reverse=True)
        return [j for j in every
                if (not kind or j.kind == kind) and (j.running or not running_only)]

    def find(self, id_or_kind: str) -> list[Job]:
        """The job with that id, else the jobs of that kind (newest first)."""
        job = self.get(id_or_kind)
        return [job] if job is not None else self.jobs(id_or_kind)

    def _from_sources(self) -> list[Job]:
        return [job for source in self._sources for job in source()]
