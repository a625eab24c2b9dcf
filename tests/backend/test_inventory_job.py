"""The create-inventory job over a real backend (moto), in process: the file it publishes,
and what a job stopped mid-way leaves - the previous inventory, no temporary file."""

from __future__ import annotations

import pytest
import trio

from aisfs.backend.provider import BucketRef, Provider
from aisfs.errors import S3Error
from aisfs.inventory import list_page, open_reader
from aisfs.jobs import JobState
from aisfs_node.inventory import catalog_of, inventory_page, start_create
from aisfs_node.jobs import JobRunner

from .conftest import Front
from .test_inventory import fill

pytestmark = pytest.mark.parametrize("target", ["moto"], indirect=True)


async def test_create_then_list(front: Front) -> None:
    await trio.to_thread.run_sync(fill, front.target, front.bucket, ["p/1", "p/2", "q"])
    async with trio.open_nursery() as nursery:
        runner = JobRunner(nursery, remote=front.ro)
        job = start_create(runner, front.ro, front.rb, name="one", prefix="p/")
        await runner.wait(job.id)
        assert job.state is JobState.FINISHED and job.objects_done == 2, job.error
        page = await inventory_page(front.store, front.rb.bucket, "one", delimiter="/")
        assert (page.entries, page.common_prefixes) == ([], ["p/"])
        page = await inventory_page(front.store, front.rb.bucket, "", prefix="p/")
        assert [e.key for e in page.entries] == ["p/1", "p/2"]
        assert page.entries[0].size == 3 and page.entries[0].etag  # the backend's
        plain = front.backends.resolve(BucketRef(Provider.AIS, "plain"), {})
        with pytest.raises(S3Error, match="not a remote bucket"):
            start_create(runner, front.ro, plain)


async def test_a_stopped_create_keeps_the_previous_inventory(front: Front) -> None:
    keys = [f"k{i:05d}" for i in range(3500)]
    await trio.to_thread.run_sync(fill, front.target, front.bucket, keys[:10])
    catalog = catalog_of(front.store)
    async with trio.open_nursery() as nursery:
        runner = JobRunner(nursery, remote=front.ro)
        first = start_create(runner, front.ro, front.rb, name="snap")
        await runner.wait(first.id)
        await trio.to_thread.run_sync(fill, front.target, front.bucket, keys[10:])
        again = start_create(runner, front.ro, front.rb, name="snap", force=True)
        while again.objects_done < 1000:  # noqa: ASYNC110 - a job's counter: its first page
            await trio.sleep(0.01)
        assert list(catalog.bucket_dir(front.rb.bucket).glob(".snap.*.tmp"))
        runner.abort(again.id)
        await runner.wait(again.id)
        assert again.state is JobState.ABORTED
    assert not list(catalog.bucket_dir(front.rb.bucket).glob(".*"))
    conn = open_reader(catalog.resolve(front.rb.bucket, "snap"))
    assert [e.key for e in list_page(conn).entries] == keys[:10]
    conn.close()
