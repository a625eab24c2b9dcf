"""Deletes that arrive together are committed together (aisfs/store/groups.py): each
caller gets its own outcome, only after its batch is durable; nothing is left behind."""

from __future__ import annotations

from pathlib import Path

import outcome
import pytest
import trio
import trio.testing

from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, Store, open_store
from aisfs.store.groups import Group

from .conftest import body_of, chunk_files, make_config, rand


async def _delete(store: Store, bucket: str, key: str, out: dict[str, str]) -> None:
    try:
        await store.delete_object(bucket, key)
        out[f"{bucket}/{key}"] = "ok"
    except S3Error as e:
        out[f"{bucket}/{key}"] = e.code


@pytest.mark.parametrize("inline_max", [0, 65536])
async def test_concurrent_deletes_each_get_their_own_outcome(
    tmp_path: Path, inline_max: int
) -> None:
    config = make_config(tmp_path, fsync=True, inline_max=inline_max)
    async with open_store(config) as store:
        await store.create_bucket("b")
        for i in range(24):
            await store.put_object("b", f"k{i}", body_of(rand(3000)), ObjectMeta())
        await store.put_object("b", "keep", body_of(b"kept"), ObjectMeta())
        out: dict[str, str] = {}
        async with trio.open_nursery() as nursery:
            for i in range(24):
                nursery.start_soon(_delete, store, "b", f"k{i}", out)
            nursery.start_soon(_delete, store, "b", "missing", out)
            nursery.start_soon(_delete, store, "nobucket", "k0", out)
        assert out.pop("b/missing") == "NoSuchKey"
        assert out.pop("nobucket/k0") == "NoSuchBucket"
        assert set(out.values()) == {"ok"} and len(out) == 24
        for i in range(24):
            with pytest.raises(S3Error, match="NoSuchKey"):
                await store.head_object("b", f"k{i}")
        assert (await store.head_object("b", "keep")).size == 4
        await store.gc()
        report = await store.fsck(rebuild=False)
        assert report.clean and report.objects == 1, report
        if not inline_max:  # the deleted objects' chunks are gone (one: keep's)
            assert len(chunk_files(config)) == 1
    async with open_store(config) as store:  # and after a reopen
        report = await store.fsck(rebuild=True)
        assert report.clean and report.objects == 1, report


async def test_the_same_key_twice_together_is_deleted_once(tmp_path: Path) -> None:
    async with open_store(make_config(tmp_path)) as store:
        await store.create_bucket("b")
        await store.put_object("b", "k", body_of(b"x"), ObjectMeta())
        codes: list[str] = []

        async def delete() -> None:
            try:
                await store.delete_object("b", "k")
                codes.append("ok")
            except S3Error as e:
                codes.append(e.code)

        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(delete)
        assert sorted(codes) == ["NoSuchKey"] * 3 + ["ok"]


async def test_group_batches_what_arrives_while_one_runs() -> None:
    sizes: list[int] = []
    release = trio.Event()

    async def run_batch(items: list[int]) -> list[outcome.Outcome[int]]:
        sizes.append(len(items))
        if len(sizes) == 1:
            await release.wait()  # the first batch is slow: the rest arrive meanwhile
        return [outcome.Value(i * 10) if i >= 0 else outcome.Error(ValueError(i))
                for i in items]

    group: Group[int, int] = Group(run_batch)
    got: dict[int, int | str] = {}

    async def submit(i: int) -> None:
        try:
            got[i] = await group.submit(i)
        except ValueError:
            got[i] = "error"

    async with trio.open_nursery() as nursery:
        nursery.start_soon(submit, 0)
        await trio.testing.wait_all_tasks_blocked()
        for i in (1, 2, -3, 4):
            nursery.start_soon(submit, i)
        await trio.testing.wait_all_tasks_blocked()
        assert got == {}  # nobody is answered before its batch returns
        release.set()
    assert sizes == [1, 4]
    assert got == {0: 0, 1: 10, 2: 20, -3: "error", 4: 40}
    # and then a lone caller leads a batch of its own at once
    assert await group.submit(5) == 50 and sizes == [1, 4, 1]


async def test_a_batch_that_raises_fails_each_caller_and_the_next_batch_runs() -> None:
    calls: list[list[int]] = []

    async def run_batch(items: list[int]) -> list[outcome.Outcome[int]]:
        calls.append(items)
        if len(calls) == 1:
            raise OSError("disk gone")
        return [outcome.Value(i) for i in items]

    group: Group[int, int] = Group(run_batch)
    with pytest.raises(OSError, match="disk gone"):
        await group.submit(1)
    assert await group.submit(2) == 2


async def test_a_lone_caller_cancelled_before_its_step_raises_cancelled() -> None:
    done: list[list[int]] = []

    async def run_batch(items: list[int]) -> list[outcome.Outcome[int]]:
        await trio.lowlevel.checkpoint_if_cancelled()  # as the store's step does first
        done.append(items)
        return [outcome.Value(i) for i in items]

    group: Group[int, int] = Group(run_batch)
    with trio.CancelScope() as scope:
        scope.cancel()
        await group.submit(1)
    assert scope.cancelled_caught and done == []
    assert await group.submit(2) == 2 and done == [[2]]
