"""A remote copy's chunks hashed in one pass, in order across writer threads
(store/writer.py ``_InOrder``)."""

from __future__ import annotations

import os
import threading

import pytest

from aisfs.store.chunks import chunk_hash
from aisfs.store.digest import Digest
from aisfs.store.writer import HASH_SLICE, _InOrder


def _chunks() -> list[bytes]:
    return [os.urandom(3 * HASH_SLICE + 17), os.urandom(HASH_SLICE), os.urandom(5)]


def test_ids_and_digest_are_those_of_two_passes_whatever_order_threads_start() -> None:
    chunks = _chunks()
    whole = Digest("xxhash", None, md5=False)
    for c in chunks:
        whole.update(c)
    dg = Digest("xxhash", None, md5=False)
    order = _InOrder(dg)
    ids: dict[int, str] = {}
    threads = [threading.Thread(target=lambda i=i: ids.__setitem__(i, order.hash(i, chunks[i])))
               for i in reversed(range(len(chunks)))]  # the last chunk's thread first
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert ids == {i: chunk_hash(c) for i, c in enumerate(chunks)}
    assert dg.value() == whole.value() and dg.size == sum(map(len, chunks))


def test_a_chunk_that_left_without_its_turn_fails_the_later_ones() -> None:
    chunks = _chunks()
    order = _InOrder(Digest("xxhash", None, md5=False))
    assert order.hash(0, chunks[0]) == chunk_hash(chunks[0])
    order.leave(0)  # done: nothing changes
    order.leave(1)  # chunk 1 never hashed (cancelled before its thread ran)
    with pytest.raises(RuntimeError):
        order.hash(2, chunks[2])


def test_without_a_digest_each_chunk_is_hashed_on_its_own() -> None:
    order = _InOrder(None)
    c = os.urandom(100)
    assert order.hash(5, c) == chunk_hash(c)  # no turn waited for
    order.leave(0)
