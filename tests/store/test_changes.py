"""The change feed's ring (aisfs/store/changes.py, sans IO) and what the store records in
it (every path that changes a current object)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aisfs.store.changes import DELETE, PUT, ChangeLog, parse_position


def test_since_returns_what_came_after() -> None:
    log = ChangeLog(capacity=8, epoch="e1")
    assert log.since("e1", 0).changes == []
    log.record([("b", "k1", PUT, "t1", 3, 5), ("c", "k2", DELETE, "", 0, 0)])
    got = log.since("e1", 0)
    assert not got.lost and got.seq == 2 and got.epoch == "e1"
    assert [(c.seq, c.bucket, c.key, c.what) for c in got.changes] == [
        (1, "b", "k1", PUT), (2, "c", "k2", DELETE)]
    assert [c.key for c in log.since("e1", 0, "c").changes] == ["k2"]
    assert log.since("e1", 1, "b").changes == [] and log.since("e1", 1, "b").seq == 2
    assert log.since("e1", 2).changes == []


def test_lost_when_epoch_differs_seq_off_the_ring_or_from_the_future() -> None:
    log = ChangeLog(capacity=4, epoch="e1")
    log.record([("b", f"k{i}", PUT, "", i, 0) for i in range(10)])
    assert log.since("other", 9).lost
    assert log.since("e1", 11).lost
    assert log.since("e1", 5).lost  # 6 fell off (7..10 kept)
    got = log.since("e1", 6)
    assert not got.lost and [c.seq for c in got.changes] == [7, 8, 9, 10]
    lost = log.since("e1", 0)
    assert lost.lost and lost.seq == 10 and lost.changes == []


def test_limit_goes_on_from_where_it_stopped() -> None:
    log = ChangeLog(capacity=100, epoch="e")
    log.record([("b", str(i), PUT, "", 0, 0) for i in range(10)])
    first = log.since("e", 0, limit=4)
    assert [c.seq for c in first.changes] == [1, 2, 3, 4] and first.seq == 4
    rest = log.since("e", first.seq, limit=100)
    assert [c.seq for c in rest.changes] == list(range(5, 11))


def test_listeners_are_woken_once_per_record() -> None:
    log = ChangeLog(epoch="e")
    woken: list[int] = []
    log.listeners.append(lambda: woken.append(log.seq))
    log.record([])
    log.record([("b", "k", PUT, "", 0, 0), ("b", "j", PUT, "", 0, 0)])
    assert woken == [2]


def test_parse_position() -> None:
    assert parse_position("abc123.42") == ("abc123", 42)
    for bad in ("", "abc", "abc.", ".5", "a b.1", "abc.-1", "abc.1e3", "é.1", "a.²",
                "a." + "9" * 20):
        with pytest.raises(ValueError):
            parse_position(bad)
    with pytest.raises(ValueError):
        ChangeLog(capacity=0)


@settings(max_examples=200, deadline=None)
@given(cap=st.integers(1, 20), batches=st.lists(st.lists(st.sampled_from("abc"), max_size=7),
                                                max_size=12),
       at=st.integers(-2, 80), bucket=st.sampled_from([None, "a", "b"]),
       limit=st.integers(1, 30))
def test_since_against_a_full_list(cap: int, batches: list[list[str]], at: int,
                                   bucket: str | None, limit: int) -> None:
    """Against a plain list of every change: what `since` gives is exactly the kept
    changes after `at` (filtered, up to the limit), or `lost` when some are gone."""
    log = ChangeLog(capacity=cap, epoch="e")
    every: list[tuple[int, str]] = []
    for batch in batches:
        log.record([(b, f"k{len(every) + i}", PUT, "", 0, 0) for i, b in enumerate(batch)])
        every += [(len(every) + i + 1, b) for i, b in enumerate(batch)]
    total = len(every)
    got = log.since("e", at, bucket, limit=limit)
    assert got.epoch == "e"
    kept_from = max(1, total - cap + 1)
    if at < 0 or at > total or at < kept_from - 1:
        assert got.lost and got.seq == total and not got.changes
        return
    assert not got.lost
    looked = every[at:at + limit]
    assert got.seq == (looked[-1][0] if looked else total)
    assert [c.seq for c in got.changes] == [s for s, b in looked if bucket in (None, b)]


# -- what the store records ------------------------------------------------------------

def _feed(store: object, since: int) -> list[tuple[str, str, str]]:
    log = store.publisher.changes  # type: ignore[attr-defined]
    return [(c.key, c.what, c.etag) for c in log.since(log.epoch, since, "b").changes]


async def test_every_path_that_changes_a_current_object_records(store: object) -> None:
    import hashlib

    from aisfs.store.types import ObjectMeta
    from tests.store.conftest import CHUNK, body_of

    s = store
    await s.create_bucket("b")  # type: ignore[attr-defined]
    log = s.publisher.changes  # type: ignore[attr-defined]
    at = log.seq
    info = await s.put_object("b", "k", body_of(b"x" * 10), ObjectMeta())  # type: ignore[attr-defined]
    assert _feed(s, at) == [("k", PUT, info.etag)]
    got = log.since(log.epoch, at).changes[0]
    assert (got.size, got.mtime_ns) == (10, info.mtime_ns)
    at = log.seq
    await s.copy_object("b", "k", "b", "k2")  # type: ignore[attr-defined]
    await s.rename_object("b", "k2", "k3")  # type: ignore[attr-defined]
    await s.rename_prefix("b", "k3", "z3")  # type: ignore[attr-defined]
    await s.delete_object("b", "k")  # type: ignore[attr-defined]
    feed = _feed(s, at)
    assert [(k, w) for k, w, _ in feed] == [
        ("k2", PUT), ("k2", DELETE), ("k3", PUT), ("k3", DELETE), ("z3", PUT), ("k", DELETE)]
    at = log.seq
    up = await s.create_upload("b", "mp", ObjectMeta())  # type: ignore[attr-defined]
    part = await s.put_part(up.upload_id, "b", "mp", 1, body_of(b"p" * CHUNK))  # type: ignore[attr-defined]
    done = await s.complete_upload(up.upload_id, "b", "mp", [(1, part.etag)])  # type: ignore[attr-defined]
    assert _feed(s, at) == [("mp", PUT, done.etag)]
    at = log.seq
    await s.objects._delete_batch([("b", "mp"), ("b", "z3")])  # type: ignore[attr-defined]
    assert sorted(_feed(s, at)) == [("mp", DELETE, ""), ("z3", DELETE, "")]
    # versioning: a delete marker hides the current; removing it brings the version back
    await s.update_bucket_props("b", {"versioning.status": "Enabled"})  # type: ignore[attr-defined]
    v1 = await s.put_object("b", "v", body_of(b"one"), ObjectMeta())  # type: ignore[attr-defined]
    at = log.seq
    marker = await s.delete_object("b", "v")  # type: ignore[attr-defined]
    assert _feed(s, at) == [("v", DELETE, "")]
    at = log.seq
    await s.delete_object("b", "v", marker.version_id)  # type: ignore[attr-defined]
    assert _feed(s, at) == [("v", PUT, v1.etag)]
    assert v1.etag == hashlib.md5(b"one").hexdigest()
