"""The node's LRU task (aisfs_node/lru.py) in this process over a real store: its runs are jobs
of the node's runner, and a run stopped before it began (waiting for a runner's slot)
is over all the same - the next request starts a new one."""

from __future__ import annotations

import trio
import trio.testing

from aisfs.config import NodeConfig
from aisfs.jobs import Job, JobState
from aisfs.store import Store
from aisfs.store.lru import access_times
from aisfs_node.jobs import JobRunner, attach
from aisfs_node.lru import KIND, LruService
from aisfs_node.metrics import Metrics


async def forever(job: Job) -> None:
    await trio.sleep_forever()


class FakeNode:  # what runner_of() keys on (the wire.Node)
    pass


async def test_runs_are_jobs_and_a_stopped_one_is_over(store: Store) -> None:
    async with trio.open_nursery() as nursery:
        runner = JobRunner(nursery, max_running=1)
        node = FakeNode()
        attach(node, runner)
        lru = LruService(NodeConfig(), store, Metrics(), node)
        await nursery.start(lru.serve)

        blocker = runner.start(Job(kind="other"), forever)  # holds the only slot
        await trio.testing.wait_all_tasks_blocked()
        waiting = lru.request("test")
        assert lru.request("again") is waiting  # one run at a time
        assert lru.status()["running"]
        runner.abort(waiting.id)
        st = lru.status()
        assert not st["running"] and st["progress"]["state"] == "aborted"

        runner.abort(blocker.id)
        run = lru.request("test")
        assert run.id != waiting.id
        job = await runner.wait(run.id)
        assert job is not None and job.kind == KIND and job.state is JobState.FINISHED
        assert job.detail["reason"] == "test" and job.detail["above_highwm"] is False
        prog = lru.status()["progress"]
        assert prog["id"] == run.id and prog["state"] == "finished"
        nursery.cancel_scope.cancel()


async def test_reads_not_yet_flushed_are_written_when_the_task_stops(store: Store) -> None:
    lru = LruService(NodeConfig(), store, Metrics())
    async with trio.open_nursery() as nursery:
        await nursery.start(lru.serve)
        access_times(store.index).touch("@aws:b", "k", 12345)
        nursery.cancel_scope.cancel()  # before the first tick
    assert store.index.rows("SELECT bucket, key, atime_ns FROM atimes") == [("@aws:b", "k", 12345)]
