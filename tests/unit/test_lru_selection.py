"""The LRU run's choice, sans-IO (aisfs.backend.lru.evict_lru): objects with sizes and
access times on one or two file systems, a usage function that is what is left of them,
an evict that may refuse (read or replaced meanwhile). Which are evicted, and when the
run stops."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from aisfs.backend.lru import LruReport, Watermarks, evict_lru
from aisfs.store.lru import Candidate, FsUsage

TOTAL = 10_000


@dataclass
class World:
    objects: list[tuple[Candidate, int]]  # (candidate, its file system 0/1)
    base: list[int]  # bytes used on each file system by what is never evicted
    refuse: set[str]  # keys whose evict says no
    page: int

    def __post_init__(self) -> None:
        self.left = {c.key: (c, fs) for c, fs in self.objects}
        self.calls: list[str] = []

    def usage(self) -> list[FsUsage]:
        used = list(self.base)
        for c, fs in self.left.values():
            used[fs] += c.size
        return [FsUsage(f"fs{i}", TOTAL, u) for i, u in enumerate(used)]

    def coldest(self, after: Candidate | None) -> list[Candidate]:
        order = sorted((c for c, _ in self.left.values()),
                       key=lambda c: (c.atime_ns, c.bucket, c.key))
        if after is not None:
            mark = (after.atime_ns, after.bucket, after.key)
            order = [c for c in order if (c.atime_ns, c.bucket, c.key) > mark]
        return order[: self.page]

    def evict(self, c: Candidate) -> bool:
        self.calls.append(c.key)
        if c.key in self.refuse:
            return False
        del self.left[c.key]
        return True


@st.composite
def worlds(draw: st.DrawFn) -> tuple[World, Watermarks, int]:
    n = draw(st.integers(0, 30))
    objects = []
    for i in range(n):
        size = draw(st.integers(1, 900))
        atime = draw(st.integers(0, 50))
        objects.append((Candidate("b", f"k{i:03d}", size, atime, 1), draw(st.integers(0, 1))))
    base = [draw(st.integers(0, 6000)), draw(st.integers(0, 6000))]
    refuse = {c.key for c, _ in objects if draw(st.booleans()) and draw(st.booleans())}
    low = draw(st.integers(0, 99))
    high = draw(st.integers(low, 100))
    cutoff = draw(st.integers(0, 60))
    return World(objects, base, refuse, draw(st.integers(1, 7))), Watermarks(low, high), cutoff


def _order(c: Candidate) -> tuple[int, str, str]:
    return (c.atime_ns, c.bucket, c.key)


@settings(max_examples=400, deadline=None)
@given(worlds())
def test_evicts_coldest_first_down_to_lowwm(case: tuple[World, Watermarks, int]) -> None:
    world, marks, cutoff = case
    before = world.usage()
    started = {u.fs for u in before if marks.over_high(u)}
    rep = evict_lru(world.usage, world.coldest, world.evict, marks, cutoff)
    evicted = [c for c, _ in world.objects if c.key not in world.left]
    assert rep.evicted == len(evicted)
    assert rep.evicted_bytes == sum(c.size for c in evicted)
    assert rep.started == bool(started)
    if not started:  # under the high watermark: nothing is touched
        assert not world.calls and not evicted
        return
    # never one accessed at or after the cutoff, never one that refused
    assert all(c.atime_ns < cutoff and c.key not in world.refuse for c in evicted)
    # least recently used first: every evicted object is colder than every eligible one
    # left
    eligible_left = [c for c, _ in world.left.values()
                     if c.atime_ns < cutoff and c.key not in world.refuse]
    if evicted and eligible_left:
        assert max(map(_order, evicted)) < min(map(_order, eligible_left))
    # it stops under lowwm on every file system it started for, or with nothing left
    after = world.usage()
    under = marks.need(after, started) == 0
    assert rep.reached_lowwm == under
    assert under or not eligible_left
    # and not one object later than needed
    if evicted:
        last = max(evicted, key=_order)
        world.left[last.key] = (last, dict((c.key, fs) for c, fs in world.objects)[last.key])
        assert marks.need(world.usage(), started) > 0


@settings(deadline=None)
@given(worlds())
def test_a_stop_request_ends_the_run_before_the_next_object(
    case: tuple[World, Watermarks, int],
) -> None:
    world, marks, cutoff = case
    rep = evict_lru(world.usage, world.coldest, world.evict, marks, cutoff, stop=lambda: True)
    assert rep.evicted == 0 and not world.calls


def test_one_file_system_over_highwm_is_freed_the_others_are_not_looked_at() -> None:
    objs = [(Candidate("b", f"k{i}", 1000, i, 1), i % 2) for i in range(8)]
    # fs0: 4000 of objects + 5500 = 95 %; fs1: 4000 + 0 = 40 %
    world = World(objs, [5500, 0], set(), 3)
    rep = evict_lru(world.usage, world.coldest, world.evict, Watermarks(75, 90), cutoff_ns=100)
    # fs0 needs 9500 - 7500 + 1 = 2001 bytes: three of its objects, the coldest first,
    # fs1's colder objects k1, k3 go on the way (the order is one, node-wide)
    assert world.calls == ["k0", "k1", "k2", "k3", "k4"]
    assert rep.reached_lowwm and rep.evicted == 5
    assert "nothing" not in rep.summary() and "under the low watermark" in rep.summary()


def test_watermarks_arithmetic() -> None:
    m = Watermarks(lowwm=75, highwm=90)
    assert not m.over_high(FsUsage("a", 100, 90)) and m.over_high(FsUsage("a", 100, 91))
    assert m.excess(FsUsage("a", 100, 74)) == 0
    assert m.excess(FsUsage("a", 100, 75)) == 1  # "under lowwm" is strict
    assert m.excess(FsUsage("a", 0, 0)) == 0
    assert LruReport().summary().endswith("nothing to evict")
