"""The job registry and runner: records kept and bounded, ends recorded (finished,
failed, aborted), bounded concurrency; on a real trio loop, no mocks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import trio

from aisfs.errors import S3Error
from aisfs.jobs import Job, JobRegistry, JobState
from aisfs_node.jobs import JobRunner, for_each


def test_registry_bounds_finished_and_finds() -> None:
    reg = JobRegistry(keep_finished=2)
    jobs = [reg.add(Job(kind="k", started_ns=i + 1)) for i in range(4)]
    for j in jobs[:3]:
        j.finish(JobState.FINISHED)
    reg.prune()
    assert [j.id for j in reg.jobs()] == [jobs[3].id, jobs[2].id, jobs[1].id]
    assert reg.find("k") == reg.jobs("k") and reg.find(jobs[3].id) == [jobs[3]]
    assert reg.jobs(running_only=True) == [jobs[3]]
    assert reg.get("nope") is None and reg.find("nope") == []
    shown = Job(kind="scrub", id="store1", started_ns=99)
    reg.add_source(lambda: [shown])
    assert reg.get("store1") is shown and reg.own("store1") is None
    assert reg.jobs()[0] is shown


def test_record_shapes() -> None:
    job = Job(kind="prefetch-listrange", buckets=("s3://b",))
    job.add(objects=2, nbytes=10)
    job.skip()
    for i in range(150):
        job.object_failed(f"o{i}", "NoSuchKey")
    assert job.errors == 150 and len(job.failed_objects) == 100
    assert job.status_json()["end_time"] == 0 and job.snap_json()["end-time"].startswith("0001")
    job.finish(JobState.ABORTED, "stopped")
    job.finish(JobState.FINISHED)  # a second end is ignored
    st = job.status_json()
    assert st["aborted"] and st["err"] == "stopped" and st["end_time"] > 0
    snap = job.snap_json()
    assert snap["bck"] == {"name": "b", "provider": "aws", "namespace": {"uuid": "", "name": ""}}
    assert snap["stats"]["loc-objs"] == 2 and snap["aborted"] and snap["is_idle"]
    rec = job.to_json()
    assert rec["state"] == "aborted" and rec["objects_skipped"] == 1 and not rec["running"]


async def test_runner_records_each_end() -> None:
    async def ok(job: Job) -> None:
        job.add(objects=1)

    async def bad(job: Job) -> None:
        raise S3Error("NoSuchKey", "gone")

    at_work = trio.Event()

    async def forever(job: Job) -> None:
        job.add(objects=1)
        at_work.set()
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        runner = JobRunner(nursery)
        a = runner.start(Job(kind="t"), ok)
        b = runner.start(Job(kind="t"), bad)
        c = runner.start(Job(kind="t"), forever)
        await runner.wait(a.id)
        await runner.wait(b.id)
        await at_work.wait()
        assert runner.abort(c.id) is c
        await runner.wait(c.id)
        assert runner.abort("nope") is None
    assert (a.state, b.state, c.state) == (JobState.FINISHED, JobState.FAILED,
                                           JobState.ABORTED)
    assert b.error == "NoSuchKey: gone" and c.error == "aborted" and c.finished_ns


async def test_for_each_bounds_concurrency() -> None:
    active = peak = 0

    async def work(n: int) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await trio.sleep(0.001)
        active -= 1

    async def items() -> AsyncIterator[int]:
        for n in range(50):
            yield n

    await for_each(items(), work, 4)
    assert peak == 4
    await for_each(range(10), work, 100)


def test_cli_progress_line() -> None:
    from aisfs.cli.jobs import job_line

    job = Job(kind="prefetch-listrange", id="abc")
    job.objects_total = 10
    job.add(objects=4, nbytes=4096)
    job.skip()
    line = job_line(job.to_json(), bar=True)
    assert line.startswith("prefetch-listrange abc running: [############............]  50%")
    assert "5/10 objects, 4.00KiB, 1 skipped" in line
    job.objects_total = None
    job.object_failed("x", "NoSuchKey")
    job.finish(JobState.FAILED, "NoSuchKey: x")
    line = job_line(job.to_json(), bar=True)  # no total: no bar
    assert line == ("prefetch-listrange abc failed: 5 objects, 4.00KiB, 1 skipped, 1 errors "
                    "[NoSuchKey: x]")
