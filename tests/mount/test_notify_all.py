"""The change feeds of an `--all` mount (aisfs_mount/feeds.py): one per bucket looked
into. With a long attr_timeout the mount still sees another client's PUT, overwrite,
DELETE and new file in each of two buckets, because each bucket's feed tells it; a
bucket whose feed fails (the bucket removed) falls back alone, the other's listings stay
trusted; a node restarted under the mount (sigv4: the polls are signed) is followed
again in both; a bucket with a backend (the node answers 501 to its feed) keeps
attr_timeout in the same mount; at most MAX_FEEDS feeds, the least recent dropped; an
unused bucket's feed stops."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import test_notify
from mountkit import Endpoint, Moto, Mount, MountFactory, free_port, s3_client
from test_notify import size_of, until
from test_tree import _all_requests, _requests

from support.clients import fronting
from support.node import NodeProcess, new_node

pytestmark = [pytest.mark.fuse, pytest.mark.timeout(240)]

own_node = test_notify.own_node  # (the fixture: a node of its own, sigv4 enforced)


@pytest.fixture
def node_only(endpoint: Endpoint) -> None:
    if endpoint.kind != "node":
        pytest.skip("the change feed is our node's")


def _two_buckets(s3: Any) -> tuple[str, str]:
    names = (f"all-a-{uuid.uuid4().hex[:10]}", f"all-b-{uuid.uuid4().hex[:10]}")
    for b in names:
        s3.create_bucket(Bucket=b)
        s3.put_object(Bucket=b, Key="d/a", Body=b"1")
    return names


def _changes_seen(s3: Any, bucket: str, root: Path, native: str = "") -> None:
    """Another client's overwrite, new file, DELETE, new directory, copy onto a file and
    (with the node's `native` URL: unsigned) rename in `bucket`, seen by the `--all`
    mount at `root` (its attr_timeout too long to explain it)."""
    d = root / bucket / "d"
    s3.put_object(Bucket=bucket, Key="d/gone", Body=b"g")
    until(lambda: sorted(os.listdir(d)) == ["a", "gone"], "the bucket's listing")
    s3.put_object(Bucket=bucket, Key="d/a", Body=b"22")
    until(lambda: size_of(d / "a") == 2, f"the overwrite in {bucket}")
    assert (d / "a").read_bytes() == b"22"
    s3.put_object(Bucket=bucket, Key="d/new", Body=b"333")
    until(lambda: "new" in os.listdir(d) and size_of(d / "new") == 3, f"a new file in {bucket}")
    s3.delete_object(Bucket=bucket, Key="d/gone")
    until(lambda: size_of(d / "gone") == -1 and "gone" not in os.listdir(d),
          f"the DELETE in {bucket}")
    s3.put_object(Bucket=bucket, Key="e/deep/f", Body=b"x")
    until(lambda: size_of(root / bucket / "e" / "deep" / "f") == 1, f"a new dir in {bucket}")
    s3.copy_object(Bucket=bucket, Key="d/a", CopySource={"Bucket": bucket, "Key": "d/new"})
    until(lambda: size_of(d / "a") == 3, f"a copy onto a file in {bucket}")
    if native:
        httpx.post(f"{native}/v1/objects/{bucket}/d/new", timeout=30,
                   json={"action": "rename-obj", "name": "d/moved"}).raise_for_status()
        until(lambda: size_of(d / "new") == -1 and size_of(d / "moved") == 3
              and sorted(os.listdir(d)) == ["a", "moved"], f"a rename in {bucket}")


def _feeds_live(m: Mount, buckets: tuple[str, ...]) -> None:
    """Each bucket looked into, and its feed live (what is read from then on is trusted
    past attr_timeout; a change made before may be missed - rightly)."""
    for b in buckets:
        assert size_of(m.path / b / "d" / "a") >= 1
        until(lambda b=b: f"change feed of {b!r} live" in m.log_text(), f"{b}'s feed")


def test_all_mount_sees_changes_in_each_bucket(
        node_only: None, endpoint: Endpoint, mount_factory: MountFactory) -> None:
    a, b = _two_buckets(endpoint.s3)
    m = mount_factory("--all", "attr_timeout=600")
    _feeds_live(m, (a, b))
    native = endpoint.url[: -len("/s3")]
    _changes_seen(endpoint.s3, a, m.path, native)
    _changes_seen(endpoint.s3, b, m.path, native)


def test_without_the_feeds_the_old_value_stays(
        node_only: None, endpoint: Endpoint, mount_factory: MountFactory) -> None:
    a, _ = _two_buckets(endpoint.s3)
    m = mount_factory("--all", "attr_timeout=600,notify=0")
    assert size_of(m.path / a / "d" / "a") == 1
    endpoint.s3.put_object(Bucket=a, Key="d/a", Body=b"22")
    time.sleep(3)  # (what a feed would have told by now: they are off)
    assert size_of(m.path / a / "d" / "a") == 1


def test_one_bucket_falling_back_leaves_the_other_trusted(
        node_only: None, endpoint: Endpoint, mount_factory: MountFactory) -> None:
    """B removed by another client: its feed fails (404) and stops, B's part of the
    mount falls back; A's listings and attributes stay trusted (no request) and its feed
    still tells."""
    s3 = endpoint.s3
    a, b = _two_buckets(s3)
    m = mount_factory("--all", "attr_timeout=600")
    _feeds_live(m, (a, b))
    da = m.path / a / "d"
    assert os.listdir(da) == ["a"] and os.listdir(m.path / b / "d") == ["a"]
    s3.delete_object(Bucket=b, Key="d/a")
    until(lambda: size_of(m.path / b / "d" / "a") == -1, "the DELETE in B")
    s3.delete_bucket(Bucket=b)
    until(lambda: f"no change feed for {b!r}" in m.log_text(), "B's feed stopped", wait=30)
    before = _requests(endpoint)
    for _ in range(3):  # a readdir always reaches the mount: its listing answers
        assert os.listdir(da) == ["a"] and size_of(da / "a") == 1
    spent = _requests(endpoint) - before
    assert sum(spent.values()) == 0, spent
    s3.put_object(Bucket=a, Key="d/a", Body=b"4444")
    until(lambda: size_of(da / "a") == 4, "a change in A after B's feed stopped")
    until(lambda: not (m.path / b).exists(), "B gone from the top level")


def test_all_mount_follows_a_node_restart_sigv4(
        own_node: tuple[NodeProcess, str], mount_factory: MountFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """In sigv4 mode (the mount signs its polls); the node stopped and started again:
    each bucket falls back, subscribes again, and what changes after is seen in both."""
    node, url = own_node
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDNOTIFY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "notify-secret")
    import boto3

    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                      aws_access_key_id="AKIDNOTIFY", aws_secret_access_key="notify-secret")
    a, b = _two_buckets(s3)
    m = mount_factory("--all", "attr_timeout=600", url=url)
    _feeds_live(m, (a, b))
    _changes_seen(s3, a, m.path)
    _changes_seen(s3, b, m.path)
    assert node.stop() == 0
    node.start()
    for i, bk in enumerate((a, b)):
        s3.put_object(Bucket=bk, Key="d/a", Body=b"x" * (5 + i))
        until(lambda bk=bk, i=i: size_of(m.path / bk / "d" / "a") == 5 + i,
              f"a change in {bk} after the restart", wait=30)
    for i, bk in enumerate((a, b)):
        s3.put_object(Bucket=bk, Key="d/a", Body=b"y" * (7 + i))
        until(lambda bk=bk, i=i: size_of(m.path / bk / "d" / "a") == 7 + i,
              f"a change in {bk} after the resubscription")


@pytest.fixture
def fronting_node(tmp_path: Path) -> Iterator[tuple[Endpoint, Any, Any]]:
    """A node whose [backend.s3] is a moto server (open mode), a native-API client of
    it, and an S3 client of moto."""
    moto = Moto(free_port()).start()
    config = (f'[backend.s3]\nendpoint = "{moto.url}"\naccess_key = "FAKEKEY"\n'
              'secret_key = "FAKESECRET"\nretries = 1\n')
    node = new_node(tmp_path / "front", config=config).start()
    try:
        with httpx.Client(base_url=node.s3_url[: -len("/s3")], timeout=30) as http:
            yield (Endpoint(node.s3_url, "node", s3_client(node.s3_url), node.stop), http,
                   s3_client(moto.url))
    finally:
        node.stop()
        moto.stop()


def test_a_backend_bucket_keeps_attr_timeout(
        fronting_node: tuple[Endpoint, Any, Any], mount_factory: MountFactory) -> None:
    """In one `--all` mount (attr_timeout=2, notify_timeout=600): a bucket fronting a
    backend bucket has no feed (501) and shows another client's overwrite through the
    node once attr_timeout ran out; a local bucket beside it is trusted past
    attr_timeout (its feed is live: a readdir and a stat there ask the node nothing)."""
    front, http, backend = fronting_node
    s3 = front.s3
    local = f"all-l-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=local)
    s3.put_object(Bucket=local, Key="d/a", Body=b"1")
    fronted, remote = f"all-f-{uuid.uuid4().hex[:10]}", f"all-r-{uuid.uuid4().hex[:10]}"
    backend.create_bucket(Bucket=remote)
    fronting(http, fronted, remote)
    s3.put_object(Bucket=fronted, Key="d/a", Body=b"1")
    m = mount_factory("--all", "attr_timeout=2,notify_timeout=600", url=front.url)
    _feeds_live(m, (local,))
    assert size_of(m.path / fronted / "d" / "a") == 1
    until(lambda: f"no change feed for {fronted!r}" in m.log_text(), "the 501")
    s3.put_object(Bucket=fronted, Key="d/a", Body=b"22")
    until(lambda: size_of(m.path / fronted / "d" / "a") == 2, "attr_timeout's refresh")
    dl = m.path / local / "d"
    assert os.listdir(dl) == ["a"]
    time.sleep(2.5)  # past attr_timeout: without the feed the readdir would list again
    before = _requests(front)
    assert os.listdir(dl) == ["a"] and size_of(dl / "a") == 1
    spent = _requests(front) - before
    spent.pop("ListBuckets", None)  # (the bucket's own entry: the top level's attr_timeout)
    assert sum(spent.values()) == 0, spent


def test_feeds_are_bounded_least_recent_dropped(
        node_only: None, endpoint: Endpoint, mount_factory: MountFactory) -> None:
    """Nine buckets looked into: at most eight feeds (MAX_FEEDS); the least recently used
    is dropped to attr_timeout - what was read of it expired, so a change made since is
    seen at its next look - and followed again from then on."""
    s3 = endpoint.s3
    names = [f"all-{i}-{uuid.uuid4().hex[:10]}" for i in range(9)]
    for b in names:
        s3.create_bucket(Bucket=b)
        s3.put_object(Bucket=b, Key="d/a", Body=b"1")
    m = mount_factory("--all", "attr_timeout=600")
    _feeds_live(m, tuple(names[:8]))
    assert "dropped" not in m.log_text()
    _feeds_live(m, (names[8],))
    until(lambda: f"change feed of {names[0]!r} dropped" in m.log_text(), "the LRU drop")
    s3.put_object(Bucket=names[0], Key="d/a", Body=b"22")  # (no feed tells it)
    until(lambda: size_of(m.path / names[0] / "d" / "a") == 2,  # expired when dropped
          "read again after the drop")
    until(lambda: m.log_text().count(f"change feed of {names[0]!r} live") == 2,
          "followed again")
    until(lambda: f"change feed of {names[1]!r} dropped" in m.log_text(), "the next drop")
    s3.put_object(Bucket=names[0], Key="d/a", Body=b"333")
    until(lambda: size_of(m.path / names[0] / "d" / "a") == 3, "a change told again")
    for b in names[2:]:  # (still followed: a change in each is told)
        s3.put_object(Bucket=b, Key="d/a", Body=b"4444")
        until(lambda b=b: size_of(m.path / b / "d" / "a") == 4, f"a change in {b}")


@pytest.fixture
def fresh_node(tmp_path: Path) -> Iterator[Endpoint]:
    """A node of this test's own (open mode): no other mount's polls parked on it."""
    node = new_node(tmp_path / "fresh", mountpaths=1).start()
    try:
        yield Endpoint(node.s3_url, "node", s3_client(node.s3_url), node.stop)
    finally:
        node.stop()


def test_an_unused_bucket_s_feed_stops(
        fresh_node: Endpoint, mount_factory: MountFactory) -> None:
    """A bucket not used for notify_timeout: its feed stops (no poll while the mount is
    idle), and starts again when the bucket is looked into."""
    endpoint = fresh_node
    a, _ = _two_buckets(endpoint.s3)
    m = mount_factory("--all", "attr_timeout=1,notify_timeout=3,timeout=2",  # (wait 1 s)
                      url=endpoint.url)
    _feeds_live(m, (a,))
    until(lambda: f"change feed of {a!r} stopped: not used" in m.log_text(), "the idle stop")
    polls = _all_requests(endpoint)["ListChanges"]
    time.sleep(3)  # (a live feed's polls, parked 1 s each, would answer 2 or 3 times)
    # (the node counts a poll as it answers: the one parked when the feed stopped, once)
    assert _all_requests(endpoint)["ListChanges"] <= polls + 1
    endpoint.s3.put_object(Bucket=a, Key="d/a", Body=b"22")
    until(lambda: size_of(m.path / a / "d" / "a") == 2, "attr_timeout's refresh")
    until(lambda: m.log_text().count(f"change feed of {a!r} live") == 2, "followed again")
