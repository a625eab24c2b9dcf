"""The node's jobs (AIS xactions): the runner and the jobs themselves.

How a job is started and stopped (records and the registry: ``aisfs.jobs``)::

    from aisfs.jobs import Job, COPY_BUCKET
    from aisfs_node.jobs import runner_of, for_each, resolve_bucket

    async def work(job: Job) -> None:          # does the job, updates job's counters
        job.objects_total = len(names)
        async def one(name: str) -> None:
            ...                                 # job.add(objects=1, nbytes=n)
        await for_each(names, one, limit=8)    # bounded concurrency, lazy over iterables

    runner = runner_of(node)                   # node: node.native.wire.Node
    rb = await resolve_bucket(runner.remote, "aws", "b")   # -> aisfs.backend.Resolved
    job = runner.start(Job(kind=COPY_BUCKET, buckets=("ais://a", "s3://b")), work)
    job.id                                     # what /v1 answers (text/plain)
    runner.abort(job.id)                       # cancels the work's scope: "aborted"
    await runner.wait(job.id)                  # until it ends

The work function needs no try/except: the runner records the end (finished; failed
with the error's text when it raises or leaves ``job.error`` set; aborted). A per-object
failure the job goes on past: ``job.object_failed(name, why)``.

- runner.py    ``JobRunner``, ``for_each``, ``runner_of``/``attach``
- buckets.py   ``resolve_bucket``: a /v1 bucket (provider, name) as the backend sees it
- prefetch.py  ``prefetch-listrange``;  evict.py: ``evict-listrange``, ``evict-remote-bck``
- store.py     the store's resilver and scrub shown as records in the registry
- copy.py      ``copy-bck`` (H2's)
"""

from .buckets import remote_only, resolve_bucket
from .runner import (
    MAX_RUNNING,
    JobRunner,
    JobWork,
    attach,
    error_text,
    first_error,
    for_each,
    runner_of,
    start_jobs,
)

__all__ = ["MAX_RUNNING", "JobRunner", "JobWork", "attach", "error_text", "first_error",
           "for_each", "remote_only", "resolve_bucket", "runner_of", "start_jobs"]
