"""Lifecycle rules on versions, sans-IO (aisfs.s3.lifecycle): VersionTracker's view of a
version listing, version_action as AWS documents it (Expiration on the current version
only, NoncurrentDays from the successor's creation, NewerNoncurrentVersions, expired
object delete markers, filters on every version), and properties (hypothesis)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aisfs.s3 import lifecycle as lc

DAY = 10  # ns: a short day keeps the arithmetic readable


def rule(**kw: object) -> lc.LifecycleRule:
    f = kw.pop("filter", lc.LifecycleFilter())
    return lc.LifecycleRule(id="r", status=str(kw.pop("status", lc.ENABLED)),
                            filter=f, **kw)  # type: ignore[arg-type]


def views(entries: list[tuple[str, int, int, bool]]) -> list[lc.VersionView]:
    """(key, size, mtime, is_marker) in listing order -> the tracker's views."""
    t = lc.VersionTracker()
    out = []
    for i, (key, size, mtime, marker) in enumerate(entries):
        nxt = entries[i + 1][0] if i + 1 < len(entries) else None
        out.append(t.view(key, size, mtime, marker, nxt))
    return out


def test_tracker_places_each_version() -> None:
    v = views([("a", 1, 300, False), ("a", 1, 200, False), ("a", 1, 100, False),
               ("b", 0, 50, True), ("c", 0, 40, True), ("c", 3, 30, False)])
    assert [x.is_latest for x in v] == [True, False, False, True, True, False]
    assert [x.noncurrent_since_ns for x in v] == [None, 300, 200, None, None, 40]
    assert [x.newer_noncurrent for x in v] == [0, 0, 1, 0, 0, 0]
    assert v[3].only_version and not v[4].only_version and not v[0].only_version


def test_expiration_acts_on_the_current_version_only() -> None:
    r = [rule(expiration_days=1)]
    cur, old = views([("k", 5, 0, False), ("k", 5, 0, False)])
    assert lc.version_action(r, cur, None, 10 * DAY, DAY) == lc.EXPIRE
    assert lc.version_action(r, old, None, 10 * DAY, DAY) is None
    assert lc.version_action(r, cur, None, DAY - 1, DAY) is None  # not yet


def test_current_delete_marker() -> None:
    days, eodm = [rule(expiration_days=1)], [rule(expired_object_delete_marker=True)]
    alone = views([("k", 0, 0, True)])[0]
    with_older = views([("k", 0, 0, True), ("k", 1, 0, False)])[0]
    assert lc.version_action(eodm, alone, None, 0, DAY) == lc.REMOVE  # at once
    assert lc.version_action(eodm, with_older, None, 10 * DAY, DAY) is None
    assert lc.version_action(days, with_older, None, 10 * DAY, DAY) is None
    assert lc.version_action(days, alone, None, 10 * DAY, DAY) == lc.REMOVE  # old enough
    assert lc.version_action(days, alone, None, DAY - 1, DAY) is None
    off = [rule(expired_object_delete_marker=False)]
    assert lc.version_action(off, alone, None, 10 * DAY, DAY) is None


def test_noncurrent_days_count_from_the_successor() -> None:
    r = [rule(noncurrent_days=2)]
    # written at 0, overwritten at 100: noncurrent since 100, due at expiry_ns(100, 2)
    _, old = views([("k", 1, 100, False), ("k", 1, 0, False)])
    due = lc.expiry_ns(100, 2, DAY)
    assert lc.version_action(r, old, None, due - 1, DAY) is None
    assert lc.version_action(r, old, None, due, DAY) == lc.REMOVE


def test_newer_noncurrent_versions_keeps_the_newest() -> None:
    r = [rule(noncurrent_days=1, newer_noncurrent_versions=2)]
    v = views([("k", 1, t, False) for t in (40, 30, 20, 10, 0)])
    got = [lc.version_action(r, x, None, 100 * DAY, DAY) for x in v]
    assert got == [None, None, None, lc.REMOVE, lc.REMOVE]


def test_noncurrent_delete_markers_are_removed() -> None:
    r = [rule(noncurrent_days=1)]
    v = views([("k", 1, 20, False), ("k", 0, 10, True), ("k", 1, 0, False)])
    assert [lc.version_action(r, x, None, 100 * DAY, DAY) for x in v] == \
        [None, lc.REMOVE, lc.REMOVE]


def test_filters_apply_to_versions() -> None:
    big = lc.LifecycleFilter(prefix="p/", size_greater_than=10, form="and")
    tagged = lc.LifecycleFilter(tags=(("t", "x"),), form="tag")
    v = views([("p/k", 1, 30, False), ("p/k", 5, 20, False), ("p/k", 50, 10, False)])
    r = [rule(filter=big, noncurrent_days=1)]
    assert [lc.version_action(r, x, None, 100 * DAY, DAY) for x in v] == \
        [None, None, lc.REMOVE]
    other = views([("q/k", 1, 30, False), ("q/k", 50, 10, False)])
    assert lc.version_action(r, other[1], None, 100 * DAY, DAY) is None
    t = [rule(filter=tagged, noncurrent_days=1)]
    assert lc.needs_tags(t, "any") and not lc.needs_tags(r, "p/k")
    assert lc.version_action(t, v[1], {"t": "x"}, 100 * DAY, DAY) == lc.REMOVE
    assert lc.version_action(t, v[1], {"t": "y"}, 100 * DAY, DAY) is None


def test_disabled_rules_do_nothing() -> None:
    r = [rule(status=lc.DISABLED, noncurrent_days=1, expiration_days=1)]
    assert all(lc.version_action(r, x, None, 100 * DAY, DAY) is None
               for x in views([("k", 1, 1, False), ("k", 1, 0, False)]))


@given(st.lists(st.integers(0, 1000), min_size=1, max_size=30),
       st.integers(1, 5), st.integers(0, 40))
def test_newer_noncurrent_property(gaps: list[int], days: int, keep: int) -> None:
    """Long after everything: exactly the noncurrent versions beyond the ``keep`` newest
    go; the current never does; a version is never due before its successor's time plus
    the days."""
    times, t = [], 0
    for g in gaps:
        t += g
        times.append(t)
    times.reverse()  # newest first
    r = [rule(noncurrent_days=days, newer_noncurrent_versions=keep or None)]
    v = views([("k", 1, x, False) for x in times])
    late = [lc.version_action(r, x, None, 10**9, DAY) for x in v]
    assert late[0] is None
    assert sum(a == lc.REMOVE for a in late) == max(0, len(v) - 1 - (keep or 0))
    for x in v[1:]:
        assert x.noncurrent_since_ns is not None
        before = x.noncurrent_since_ns + days * DAY - 1
        assert lc.version_action(r, x, None, before, DAY) is None
