"""A listing's cost follows the entries it returns: counted, never timed.

SQL statements are counted by sqlite3's trace callback on the listing thread's reader
connection, rows stepped by the listing itself (``ListCost``). A level of 1,000
subdirectories must cost about one statement and one or two rows per entry, however many
objects each subdirectory holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aisfs.store import Store
from aisfs.store.listing import ListCost
from aisfs.store.types import ListPage

from .conftest import make_config


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open_sync(make_config(tmp_path, n=1))
    try:
        s.buckets.create_sync("b", None)
        yield s
    finally:
        s.close_sync()


def fill(store: Store, dirs: int, per_dir: int, top: int = 0) -> None:
    keys = [f"d{d:05d}/o{i:05d}" for d in range(dirs) for i in range(per_dir)]
    keys += [f"d{d:05d}/sub/o" for d in range(0, dirs, 7)]  # deeper levels too
    keys += [f"top{i}" for i in range(top)]
    with store.index.wlock:
        store.index.w.execute("DELETE FROM objects WHERE bucket = 'b'")
        store.index.w.executemany(
            "INSERT INTO objects (bucket, key, size, etag, mtime_ns, generation, manifest) "
            "VALUES ('b', ?, 1, 'e', 1, 1, '{}')",
            [(k,) for k in keys],
        )


def measured(store: Store, prefix: str = "", delimiter: str = "/", start_after: str = "",
             max_keys: int = 1000, with_extra: bool = True) -> tuple[ListPage, int, ListCost]:
    statements: list[str] = []
    conn = store.index.r
    store.buckets.get_sync("b")  # (its own one statement, not the listing's)
    conn.set_trace_callback(statements.append)
    cost = ListCost()
    try:
        page = store.lister.list_sync(
            "b", prefix, delimiter, start_after, max_keys, with_extra, cost
        )
    finally:
        conn.set_trace_callback(None)
    listing = [s for s in statements if "FROM objects" in s]
    assert cost.statements == len(listing)
    return page, len(statements), cost


@pytest.mark.parametrize("per_dir", [3, 40])
def test_one_level_of_1000_subdirectories(store: Store, per_dir: int) -> None:
    fill(store, 1000, per_dir, top=5)
    page, statements, cost = measured(store)
    returned = len(page.entries) + len(page.common_prefixes)
    assert returned == 1000 and len(page.common_prefixes) == 1000 and page.is_truncated
    # one statement per common prefix (the seek past it) plus the first; each reads the
    # row it lands on, no more: flat in per_dir
    assert cost.statements <= returned + 1, cost
    assert cost.rows <= returned + 1, cost
    assert statements <= returned + 2  # + the bucket look-up
    # the rest of the level: the 5 keys after the prefixes, one statement
    page, _, cost = measured(store, start_after=page.next_marker or "")
    assert [e.key for e in page.entries] == [f"top{i}" for i in range(5)]
    assert not page.is_truncated and cost.statements == 1 and cost.rows == 5


def test_cost_is_flat_in_the_objects_under_each_prefix(store: Store) -> None:
    costs = []
    for per_dir in (1, 10, 100):
        fill(store, 300, per_dir)
        page, _, cost = measured(store)
        assert len(page.common_prefixes) == 300
        costs.append((cost.statements, cost.rows))
    assert costs[0] == costs[1] == costs[2], costs


def test_small_pages_cost_what_they_return(store: Store) -> None:
    fill(store, 1000, 20, top=3)
    for max_keys in (1, 10, 100):
        page, _, cost = measured(store, max_keys=max_keys)
        assert len(page.common_prefixes) == max_keys and page.is_truncated
        assert cost.statements <= max_keys + 1 and cost.rows <= max_keys + 1, (max_keys, cost)
        # the next page from a marker on a prefix, and from a marker inside one
        for marker in (page.next_marker or "", (page.next_marker or "") + "o00003"):
            nxt, _, cost = measured(store, start_after=marker, max_keys=max_keys)
            assert nxt.common_prefixes[0] > marker
            assert cost.statements <= max_keys + 2 and cost.rows <= max_keys + 2, cost


def test_a_level_below_the_top_and_a_flat_listing(store: Store) -> None:
    fill(store, 1000, 5)
    # one subdirectory: its 5 objects and 'sub/' (d00000 has one), nothing else read
    page, _, cost = measured(store, prefix="d00000/")
    assert len(page.entries) == 5 and page.common_prefixes == ["d00000/sub/"]
    assert cost.statements <= 2 and cost.rows <= 6, cost
    # no delimiter: one statement, one row per key (and one to tell the page is truncated)
    page, _, cost = measured(store, delimiter="", max_keys=1000)
    assert len(page.entries) == 1000 and page.is_truncated
    assert cost.statements == 1 and cost.rows == 1001, cost


def test_listing_parses_no_manifest(store: Store) -> None:
    fill(store, 10, 2)
    statements: list[str] = []
    conn = store.index.r
    conn.set_trace_callback(statements.append)
    try:
        store.lister.list_sync("b", "", "/", "", 1000, True)
        store.lister.list_sync("b", "d00001/", "/", "", 1000, True)
    finally:
        conn.set_trace_callback(None)
    assert statements
    assert not any("json" in s.lower() or "manifest" in s.lower() for s in statements)
