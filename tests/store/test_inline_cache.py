"""The in-memory copy of inline objects' verified bytes (aisfs/store/inline_cache.py): a
GET or HEAD of a small object served from the index row and memory, never a stale
version, within its bound."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, Store, StoreConfig, open_store
from aisfs.store.inline_cache import ENTRY_OVERHEAD, InlineCache, cache_for
from aisfs.store.manifest import inline_hash
from aisfs.store.types import ObjectInfo

from .conftest import body_of, make_config, rand, read_all

INLINE = 4096


@pytest.fixture
def config(tmp_path: Path) -> StoreConfig:
    return make_config(tmp_path, inline_max=INLINE)


@pytest.fixture
async def store(config: StoreConfig) -> AsyncIterator[Store]:
    async with open_store(config) as s:
        yield s
        report = await s.fsck(rebuild=False)
        assert report.clean, report


def disk_reads(store: Store) -> list[tuple[str, str]]:
    """Record every read that goes to the disks (and the thread it runs in)."""
    seen: list[tuple[str, str]] = []
    real = store.reader._from_disks

    def from_disks(info: ObjectInfo, with_data: bool) -> ObjectInfo:
        seen.append((info.key, threading.current_thread().name))
        return real(info, with_data)

    store.reader._from_disks = from_disks  # type: ignore[method-assign]
    return seen


async def get(store: Store, key: str, *, with_data: bool = True) -> bytes:
    return await read_all(store, await store.head_object("b", key, with_data=with_data))


# -- the cache alone ---------------------------------------------------------------------


def test_hit_only_on_the_same_generation_and_checksum() -> None:
    c = InlineCache()
    c.put("b", "k", 5, "x5", b"five")
    assert c.get("b", "k", 5, "x5") == b"five"
    assert c.get("b", "k", 5, "other") is None
    assert c.get("b", "k", 4, "x5") is None
    assert c.get("b", "k", 6, "x5") is None  # a newer row: the old entry goes
    assert len(c) == 0 and c.used == 0


def test_a_slow_first_read_does_not_replace_a_later_put() -> None:
    c = InlineCache()
    c.put("b", "k", 7, "x7", b"new")
    c.put("b", "k", 6, "x6", b"old")  # read of generation 6 finishing late
    assert c.get("b", "k", 7, "x7") == b"new"
    c.put("b", "k", 8, "x8", b"newer")
    assert c.get("b", "k", 8, "x8") == b"newer" and len(c) == 1


def test_bounded_least_recently_used_out() -> None:
    c = InlineCache(limit=3 * (100 + ENTRY_OVERHEAD))
    for i in range(3):
        c.put("b", f"k{i}", 1, "x", bytes(100))
    assert c.get("b", "k0", 1, "x") is not None  # k0 used: k1 is now the oldest
    c.put("b", "k3", 1, "x", bytes(100))
    assert c.get("b", "k1", 1, "x") is None
    assert all(c.get("b", k, 1, "x") is not None for k in ("k0", "k2", "k3"))
    c.put("b", "big", 1, "x", bytes(c.limit))  # more than the whole bound: not kept
    assert c.get("b", "big", 1, "x") is None and len(c) == 3


ops = st.lists(
    st.tuples(
        st.sampled_from(["put", "get", "forget"]),
        st.sampled_from(["a", "b", "c", "d"]),
        st.integers(1, 4),
        st.integers(0, 700),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(ops)
def test_never_over_the_bound_never_another_version(steps: list[tuple[str, str, int, int]]) -> None:
    c = InlineCache(limit=2000)
    for op, key, gen, size in steps:
        data = bytes([gen]) * size
        if op == "put":
            c.put("b", key, gen, inline_hash(data), data)
        elif op == "get":
            got = c.get("b", key, gen, inline_hash(data))
            assert got is None or got == data
        else:
            c.forget("b", key)
        assert 0 <= c.used <= c.limit
        assert c.used == sum(len(e[2]) + ENTRY_OVERHEAD for e in c._entries.values())


# -- through the store -------------------------------------------------------------------


async def test_put_then_get_and_head_read_no_manifest_and_take_no_thread(store: Store) -> None:
    await store.create_bucket("b")
    data = rand(3000)
    await store.put_object("b", "k", body_of(data), ObjectMeta())
    seen = disk_reads(store)
    assert await get(store, "k") == data
    head = await store.head_object("b", "k")
    assert head.inline == data and head.is_inline  # locate still tells an inline object
    assert seen == []
    # a chunked object's HEAD: the row alone, on the loop
    await store.put_object("b", "big", body_of(rand(INLINE + 1)), ObjectMeta())
    info = await store.head_object("b", "big")
    assert info.inline is None and info.data is None and seen == []
    assert await get(store, "big") == (await get(store, "big"))
    assert [k for k, _ in seen] == ["big", "big"]  # a GET of it reads its chunk


async def test_first_read_fills_the_cache(config: StoreConfig) -> None:
    data = rand(1000)
    async with open_store(config) as store:
        await store.create_bucket("b")
        await store.put_object("b", "k", body_of(data), ObjectMeta())
    async with open_store(config) as store:  # a new process's cache: empty
        seen = disk_reads(store)
        main = threading.current_thread().name
        assert await get(store, "k", with_data=False) == data
        assert await get(store, "k") == data
        assert len(seen) == 1 and seen[0][1] != main  # one read, in a worker thread


async def test_no_stale_bytes_after_any_change(store: Store) -> None:
    await store.create_bucket("b")
    one, two, three = rand(100), rand(200), rand(300)
    await store.put_object("b", "k", body_of(one), ObjectMeta())
    await store.put_object("b", "src", body_of(two), ObjectMeta())
    assert await get(store, "k") == one
    await store.copy_object("b", "src", "b", "k")  # not filled by the copy
    assert await get(store, "k") == two
    await store.put_object("b", "k", body_of(three), ObjectMeta())
    assert await get(store, "k") == three
    await store.put_object("b", "k", body_of(rand(INLINE + 10)), ObjectMeta())  # chunked
    info = await store.head_object("b", "k")
    assert info.inline is None and info.size == INLINE + 10
    await store.put_object("b", "k", body_of(one), ObjectMeta())
    await store.rename_object("b", "k", "moved")
    with pytest.raises(Exception, match="NoSuchKey"):
        await store.head_object("b", "k")
    assert await get(store, "moved") == one

    def tag(meta: ObjectMeta) -> None:
        meta.user["x"] = "y"

    await store.update_object_meta("b", "moved", tag)
    info = await store.head_object("b", "moved", with_data=True)
    assert info.meta.user == {"x": "y"} and info.inline == one
    await store.delete_object("b", "moved")
    with pytest.raises(Exception, match="NoSuchKey"):
        await store.head_object("b", "moved")
    await store.delete_object("b", "src")


async def test_bounded_and_correct_past_the_bound(store: Store) -> None:
    await store.create_bucket("b")
    cache = cache_for(store.index)
    cache.limit = 4 * (3000 + ENTRY_OVERHEAD)
    objs = {f"k{i}": rand(3000) for i in range(12)}
    for k, v in objs.items():
        await store.put_object("b", k, body_of(v), ObjectMeta())
    for _ in range(2):
        for k, v in objs.items():
            assert await get(store, k) == v
            assert cache.used <= cache.limit and len(cache) <= 4


async def test_concurrent_puts_and_gets_of_one_key(store: Store) -> None:
    await store.create_bucket("b")
    versions = [rand(500 + i) for i in range(20)]
    await store.put_object("b", "k", body_of(versions[0]), ObjectMeta())

    async def writer() -> None:
        for v in versions[1:]:
            await store.put_object("b", "k", body_of(v), ObjectMeta())

    async def reader() -> None:
        for _ in range(40):
            info = await store.head_object("b", "k", with_data=True)
            assert await read_all(store, info) in versions
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as n:
        n.start_soon(writer)
        n.start_soon(reader)
        n.start_soon(reader)
    assert await get(store, "k") == versions[-1]


async def test_a_read_overlapping_a_put_gets_either_version(store: Store) -> None:
    """The row read, then the object replaced before its manifest is read (the cache
    empty): the read gets the new version, not an error; deleted meanwhile: NoSuchKey."""
    await store.create_bucket("b")
    old, new = rand(700), rand(900)
    await store.put_object("b", "k", body_of(old), ObjectMeta())
    seen = store.reader._record("b", "k")
    await store.put_object("b", "k", body_of(new), ObjectMeta())
    cache_for(store.index).forget("b", "k")
    got = await trio.to_thread.run_sync(store.reader._from_disks, seen, True)
    assert got.inline == new and got.data == new and got.generation > seen.generation
    assert await read_all(store, got) == new
    await store.delete_object("b", "k")
    with pytest.raises(S3Error, match="NoSuchKey"):
        await trio.to_thread.run_sync(store.reader._from_disks, seen, True)


async def test_a_read_inside_a_puts_commit_waits_for_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row read, then a PUT installs its manifest and has not committed the index yet
    (the row still names the old generation, whose bytes are gone): the read waits for
    the commit and gets the new version - not StoreCorruption (a 500)."""
    await store.create_bucket("b")
    old, new = rand(700), rand(900)
    await store.put_object("b", "k", body_of(old), ObjectMeta())
    seen = store.reader._record("b", "k")
    at_commit, go = threading.Event(), threading.Event()
    commit = store.index.commit

    def held_commit() -> None:
        if not at_commit.is_set():
            at_commit.set()
            go.wait(30)
        commit()

    monkeypatch.setattr(store.index, "commit", held_commit)
    got: list[ObjectInfo] = []

    async def read() -> None:
        got.append(await trio.to_thread.run_sync(store.reader._from_disks, seen, True))

    async with trio.open_nursery() as n:
        n.start_soon(store.put_object, "b", "k", body_of(new), ObjectMeta())
        await trio.to_thread.run_sync(at_commit.wait, 30)
        cache_for(store.index).forget("b", "k")
        n.start_soon(read)
        await trio.sleep(0.1)  # the read finds the newer copy and waits (or not yet: passes)
        go.set()
    assert got[0].inline == new and got[0].generation > seen.generation
    assert await read_all(store, got[0]) == new
