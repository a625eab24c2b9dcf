"""Jobs (AIS "xactions"), the sans-IO part: records, the registry, object selections.

The node runs them (``aisfs_node.jobs``: ``JobRunner``); ``/v1`` reports them as AIS does
(``aisfs_node.native.jobs``); the CLI shows them (``aisfs job show|wait|stop``).

API (small on purpose; ``aisfs_node.jobs`` documents how a job is started and aborted)::

    from aisfs.jobs import Job, JobState, JobRegistry

    job = Job(kind="copy-bck", buckets=("ais://src", "s3://dst"))
    job.objects_total = 10          # when known (None: not known yet)
    job.add(objects=1, nbytes=4096)  # one object done
    job.skip()                       # one object needed nothing
    job.object_failed("a/b", "NoSuchKey")   # one object failed (the job may go on)
    job.finish(JobState.FINISHED)    # or FAILED/ABORTED with an error text (the runner
                                     # does this: a job's work function never has to)
    job.to_json()                    # our record; .status_json()/.snap_json(): AIS's

    registry = JobRegistry()         # one per node (the runner owns it)
    registry.add(job); registry.get(job.id); registry.jobs(kind="", running_only=False)
    registry.find("copy-bck")        # by id, else by kind
    registry.add_source(fn)          # fn() -> records shown beside (store resilver/scrub)

- record.py     ``Job``, ``JobState``, the kind names (``PREFETCH``, ``EVICT_OBJECTS``,
                ``EVICT_BUCKET``, ``COPY_BUCKET``, ``RESILVER``, ``SCRUB``)
- registry.py   ``JobRegistry``: running and the last finished (bounded), plus sources
- template.py   ``parse_template``: ``shard-{000..999}.tar``, ``{0..10..2}``, ``@999``
- selection.py  ``parse_selection``: AIS's list-range message (names, range or prefix)
"""

from .record import (
    COPY_BUCKET,
    EVICT_BUCKET,
    EVICT_OBJECTS,
    PREFETCH,
    RESILVER,
    SCRUB,
    Job,
    JobState,
    bucket_model,
    new_job_id,
)
from .registry import MAX_FINISHED, JobRegistry, JobSource
from .selection import Selection, SelectionError, parse_selection
from .template import MAX_EXPANSION, Range, Template, TemplateError, parse_template

__all__ = [
    "COPY_BUCKET", "EVICT_BUCKET", "EVICT_OBJECTS", "MAX_EXPANSION", "MAX_FINISHED",
    "PREFETCH", "RESILVER", "SCRUB", "Job", "JobRegistry", "JobSource", "JobState",
    "Range", "Selection", "SelectionError", "Template", "TemplateError", "bucket_model",
    "new_job_id", "parse_selection", "parse_template",
]
