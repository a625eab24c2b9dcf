"""A remote copy's chunks hashed in one pass, in order across writer threads
(store/writer.py ``_InOrder``)."""

from __future__ import annotations

import os

import pytest
import trio

from aisfs.store.chunks import chunk_hash
from aisfs.store.digest import Digest
from aisfs.store.threads import run_sync
from aisfs.store.writer import HASH_SLICE, _InOrder


def _chunks() -> list[bytes]:
    return [os.urandom(3 * HASH_SLICE + 17), os.urandom(HASH_SLICE), os.urandom(5)]


def test_ids_and_digest_are_those_of_two_passes_whatever_order_tasks_start() -> None:
    chunks = _chunks()
    whole = Digest("xxhash", None, md5=False)
    for c in chunks:
        whole.update(c)
    dg = Digest("xxhash", None, md5=False)
    ids: dict[int, str] = {}

    async def main() -> None:
        order = _InOrder(dg)

        async def one(i: int) -> None:
            try:
                await order.wait(i)
                ids[i] = await run_sync(order.hash, i, chunks[i])
            finally:
                order.leave(i)

        async with trio.open_nursery() as nursery:
            for i in reversed(range(len(chunks))):  # the last chunk's task first
                nursery.start_soon(one, i)

    trio.run(main)
    assert ids == {i: chunk_hash(c) for i, c in enumerate(chunks)}
    assert dg.value() == whole.value() and dg.size == sum(map(len, chunks))


def test_a_chunk_that_left_without_its_turn_fails_the_later_ones() -> None:
    chunks = _chunks()

    async def main() -> None:
        order = _InOrder(Digest("xxhash", None, md5=False))
        await order.wait(0)
        assert await run_sync(order.hash, 0, chunks[0]) == chunk_hash(chunks[0])
        order.leave(0)  # done: nothing changes
        await order.wait(1)
        order.leave(1)  # chunk 1 never hashed (cancelled before its thread ran)
        with pytest.raises(RuntimeError):
            await order.wait(2)

    trio.run(main)


def test_without_a_digest_each_chunk_is_hashed_on_its_own() -> None:
    async def main() -> None:
        order = _InOrder(None)
        c = os.urandom(100)
        await order.wait(5)  # no turn waited for
        assert order.hash(5, c) == chunk_hash(c)
        order.leave(0)

    trio.run(main)
