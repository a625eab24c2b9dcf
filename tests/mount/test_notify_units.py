"""The change feed's bookkeeping in the mount, without a kernel (aisfs_mount/notify.py,
`DirCache.stamp`/`changed`): what a change drops, what is this mount's own, how fetches
that began before a change or before the feed went live are dated."""

from __future__ import annotations

from typing import Any

import trio

from aisfs_mount.backend import ObjectInfo
from aisfs_mount.dirs import Child, DirCache, Listing
from aisfs_mount.feeds import BucketFeed
from aisfs_mount.inodes import DIR, FILE, Attrs, InodeTable
from aisfs_mount.notify import Notify
from aisfs_mount.paths import Layout
from aisfs_mount.stats import Stats


def _setup(short: float = 1.0, long: float = 300.0) -> tuple[Notify, DirCache, InodeTable,
                                                               list[float]]:
    root = Attrs(fetched=float("inf"))
    table = InodeTable(root)
    dirs = DirCache(None, Layout(False, "b", "p/"), table, Stats(), short)  # type: ignore[arg-type]
    ttls: list[float] = []

    def set_ttl(t: float) -> None:
        dirs.ttl = t
        ttls.append(t)

    backend: Any = None
    n = Notify(backend, "b", "p/", table, dirs, set_ttl, short, long, 1.0)
    return n, dirs, table, ttls


async def test_up_demotes_what_was_read_before_and_stamp_dates_fetches() -> None:
    n, dirs, table, ttls = _setup()
    t0 = trio.current_time()
    info = ObjectInfo("p/d/a", 1, 0, "e1", {})
    dirs.listings["d"] = Listing({"a": Child(FILE, info)}, t0)
    a = table.add("d/a", FILE, Attrs(size=1, etag="e1", fetched=t0, full=True))
    assert dirs.stamp(t0, "d") == t0  # no feed: as read
    await trio.sleep(0.01)
    await n._up(trio.current_time())
    assert ttls == [300.0] and n.live
    assert dirs.listings["d"].fetched == t0 - 299.0  # read before: attr_timeout's trust
    assert a.attrs.fetched == t0 - 299.0
    later = trio.current_time()
    assert dirs.stamp(later, "d") == later
    assert dirs.stamp(t0, "d") == t0 - 299.0  # begun before the feed was live
    await trio.sleep(0.01)
    n.apply("p/d/a", "put", "e2", 2)  # another client's overwrite
    assert n.applied == 1 and "d" not in dirs.listings
    assert a.attrs.fetched == -1e18 and n.inos == [a.ino]
    assert dirs.stamp(later, "d/a") == later - 299.0  # begun before the change
    assert dirs.stamp(later, "d") == later - 299.0
    await trio.sleep(0.01)
    t = trio.current_time()
    assert dirs.stamp(t, "d/a") == t  # begun after it


async def test_own_changes_are_skipped() -> None:
    n, dirs, table, _ = _setup()
    await n._up(trio.current_time())
    now = trio.current_time()
    dirs.listings[""] = Listing({"d": Child(DIR)}, now)
    dirs.listings["d"] = Listing({"mine": Child(FILE)}, now)
    mine = table.add("d/mine", FILE, Attrs(size=3, etag="m", fetched=now, full=True))
    n.apply("p/d/mine", "put", "m", 3)  # its own upload
    n.apply("p/d/gone", "delete", "", 0)  # unlinked here: the listing no longer shows it
    n.apply("q/elsewhere", "put", "x", 1)  # not under the mount's prefix
    assert n.skipped == 2 and n.applied == 0 and "d" in dirs.listings
    assert mine.attrs.fetched == now
    staged = table.add("d/open", FILE, Attrs(fetched=now))
    staged.stage = object()  # type: ignore[assignment]
    n.apply("p/d/open", "put", "other", 9)  # being written here: its close decides
    assert n.skipped == 3
    mine.attrs.ctime_ns = 1_000 * 10**9
    n.apply("p/d/mine", "put", "m", 3, 1_000 * 10**9 + 5)  # its own, a second apart at most
    assert n.skipped == 4 and n.applied == 0
    n.apply("p/d/mine", "put", "m", 3, 1_500 * 10**9)  # another's copy onto itself (chmod)
    assert n.applied == 1 and mine.attrs.fetched == -1e18 and "d" not in dirs.listings
    dirs.listings["d"] = Listing({"mine": Child(FILE)}, now)
    n.apply("p/d/new", "put", "n", 1)  # another client's new file in a listed directory
    assert n.applied == 2 and "d" not in dirs.listings and "" in dirs.listings
    n.apply("p/e/f", "put", "n", 1)  # a new directory: the root's listing changes too
    assert "" not in dirs.listings


async def test_down_expires_everything() -> None:
    n, dirs, table, ttls = _setup()
    await n._up(trio.current_time())
    now = trio.current_time()
    dirs.listings["d"] = Listing({}, now)
    a = table.add("d/a", FILE, Attrs(fetched=now))
    await n._down()
    assert ttls == [300.0, 1.0] and not n.live and dirs.demote == 0.0
    assert dirs.listings["d"].fetched == -1e18 and a.attrs.fetched == -1e18


def _all_setup() -> tuple[BucketFeed, BucketFeed, DirCache, InodeTable]:
    """Two buckets' feeds of an `--all` mount (attr_timeout 1, notify_timeout 300)."""
    table = InodeTable(Attrs(fetched=float("inf")))
    dirs = DirCache(None, Layout(True), table, Stats(), 1.0)  # type: ignore[arg-type]
    dirs.live, dirs.long = {}, 300.0
    backend: Any = None
    a = BucketFeed(backend, "a", table, dirs, 1.0, 300.0, 1.0)
    b = BucketFeed(backend, "b", table, dirs, 1.0, 300.0, 1.0)
    return a, b, dirs, table


async def test_all_buckets_each_have_their_window() -> None:
    fa, fb, dirs, table = _all_setup()
    t0 = trio.current_time()
    for bk in ("a", "b"):
        dirs.listings[""] = Listing({"a": Child(DIR), "b": Child(DIR)}, t0)
        dirs.listings[bk] = Listing({"d": Child(DIR)}, t0)
        dirs.listings[f"{bk}/d"] = Listing({"f": Child(FILE)}, t0)
        table.add(bk, DIR, Attrs(fetched=t0))
        table.add(f"{bk}/d/f", FILE, Attrs(size=1, etag="e", fetched=t0, full=True))
    assert dirs.ttl_of("a/d") == dirs.ttl_of("") == 1.0  # no feed live: attr_timeout
    await trio.sleep(0.01)
    await fa._up(trio.current_time())
    assert dirs.ttl_of("a/d") == dirs.ttl_of("a") == dirs.attr_ttl("a/d/f") == 300.0
    assert dirs.attr_ttl("a") == dirs.ttl_of("") == dirs.ttl_of("b/d") == 1.0
    # read before a's feed was live: attr_timeout's trust; b's and the top untouched
    assert dirs.listings["a/d"].fetched == t0 - 299.0 == dirs.listings["a"].fetched
    assert table.find("a/d/f").attrs.fetched == t0 - 299.0  # type: ignore[union-attr]
    assert table.find("a").attrs.fetched == t0  # type: ignore[union-attr]
    assert dirs.listings["b/d"].fetched == t0 == dirs.listings[""].fetched
    later = trio.current_time()
    assert dirs.stamp(later, "a/d") == later and dirs.stamp(t0, "a/d") == t0 - 299.0
    assert dirs.stamp(t0, "b/d") == t0 and dirs.stamp_reply(t0, "b/d") >= later
    await fb._up(trio.current_time())
    fa.apply("d/g", "put", "x", 1)  # another client's new file in a: a's listing goes
    assert fa.applied == 1 and "a/d" not in dirs.listings and "a" in dirs.listings
    assert "" in dirs.listings and "b/d" in dirs.listings  # (not the top, not b's)
    await fb._down()  # b's feed lost: b alone falls back
    assert dirs.live is not None and set(dirs.live) == {"a"} and fa.live and not fb.live
    assert dirs.ttl_of("b/d") == 1.0 and dirs.listings["b/d"].fetched == -1e18
    assert table.find("b/d/f").attrs.fetched == -1e18  # type: ignore[union-attr]
    assert dirs.listings["a"].fetched == t0 - 299.0 and dirs.ttl_of("a") == 300.0
    assert table.find("b").attrs.fetched == t0  # type: ignore[union-attr]
