"""The change feed route (aisfs_node/native/changes.py): what boto3 changes shows in
``GET /v1/buckets/B?what=changes``, the long poll, bad arguments 400, unknown bucket 404,
a restart's new epoch, and SigV4 in sigv4 mode."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from support.node import NodeProcess

from .conftest import start, stop_and_check
from .test_mount_extras import SIGV4_CONFIG, signed

pytestmark = pytest.mark.timeout(120)


def s3(url: str, key: str = "k", secret: str = "s") -> Any:
    return boto3.client("s3", endpoint_url=url + "/s3", region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)


def feed(url: str, bucket: str, since: str | None = None, wait: float | None = None,
         ) -> httpx.Response:
    params: dict[str, str] = {"what": "changes"}
    if since is not None:
        params["since"] = since
    if wait is not None:
        params["wait"] = str(wait)
    return httpx.get(f"{url}/v1/buckets/{bucket}", params=params, timeout=60)


def test_boto3_changes_show_in_the_feed(shared_node: NodeProcess) -> None:
    url = shared_node.url
    c = s3(url)
    c.create_bucket(Bucket="feed1")
    c.create_bucket(Bucket="feed1other")
    start_ = feed(url, "feed1").json()
    assert start_["changes"] == [] and not start_["lost"]
    pos = start_["position"]
    put = c.put_object(Bucket="feed1", Key="a/b", Body=b"hello")
    c.put_object(Bucket="feed1other", Key="x", Body=b"elsewhere")
    c.copy_object(Bucket="feed1", Key="c", CopySource={"Bucket": "feed1", "Key": "a/b"})
    c.delete_objects(Bucket="feed1", Delete={"Objects": [{"Key": "c"}]})
    c.delete_object(Bucket="feed1", Key="a/b")
    got = feed(url, "feed1", pos).json()
    assert not got["lost"]
    assert [(ch["key"], ch["what"]) for ch in got["changes"]] == [
        ("a/b", "put"), ("c", "put"), ("c", "delete"), ("a/b", "delete")]
    first = got["changes"][0]
    assert first["etag"] == put["ETag"].strip('"') and first["size"] == 5
    assert first["mtime_ns"] > 0
    again = feed(url, "feed1", got["position"]).json()
    assert again["changes"] == [] and again["position"] >= got["position"]


def poll_while_putting(url: str, c: Any, bucket: str, key: str) -> dict[str, Any]:
    """A long poll from the bucket's current position, parked (0.5 s) before ``key`` is
    PUT by ``c``: its answer."""
    pos = feed(url, bucket).json()["position"]
    answer: dict[str, Any] = {}

    def poll() -> None:
        answer["r"] = feed(url, bucket, pos, wait=25).json()

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.5)
    c.put_object(Bucket=bucket, Key=key, Body=b"x")
    t.join(timeout=30)
    return answer["r"]


def test_long_poll_answers_when_a_change_comes(shared_node: NodeProcess) -> None:
    url = shared_node.url
    c = s3(url)
    c.create_bucket(Bucket="feed2")
    got = poll_while_putting(url, c, "feed2", "late")
    assert [ch["key"] for ch in got["changes"]] == ["late"]
    # nothing new: a short wait ends with no change, the same position
    r = feed(url, "feed2", got["position"], wait=0.2).json()
    assert r["changes"] == [] and not r["lost"]


def test_bad_arguments_and_unknown_bucket(shared_node: NodeProcess) -> None:
    url = shared_node.url
    s3(url).create_bucket(Bucket="feed3")
    for since in ("x", "abc", "abc.-1", "abc.1.2", ".5", "é.1"):
        r = feed(url, "feed3", since)
        assert r.status_code == 400, (since, r.text)
    for wait in ("nan", "inf", "-1", "soon"):
        r = httpx.get(f"{url}/v1/buckets/feed3", params={"what": "changes", "wait": wait})
        assert r.status_code == 400, (wait, r.text)
    assert feed(url, "nosuchfeedbucket").status_code == 404
    assert feed(url, "nosuchfeedbucket", "abc.1").status_code == 404
    r = feed(url, "feed3", "otherepoch.5")
    assert r.status_code == 200 and r.json()["lost"] and r.json()["changes"] == []
    r = feed(url, "feed3", "abc.99999999999", wait=0.1)
    assert r.status_code == 200 and r.json()["lost"]


def test_restart_is_a_new_epoch(tmp_path: Path) -> None:
    proc = start(tmp_path)
    try:
        c = s3(proc.url)
        c.create_bucket(Bucket="feed4")
        c.put_object(Bucket="feed4", Key="k", Body=b"x")
        pos = feed(proc.url, "feed4").json()["position"]
    finally:
        stop_and_check(proc)
    proc.start()
    try:
        got = feed(proc.url, "feed4", pos).json()
        assert got["lost"] and got["epoch"] != pos.split(".")[0]
    finally:
        stop_and_check(proc)


def test_sigv4_mode(tmp_path: Path) -> None:
    proc = start(tmp_path, SIGV4_CONFIG)
    try:
        url = proc.url
        c = s3(url, "AKIDNATIVE", "native-secret")
        c.create_bucket(Bucket="feed5")
        assert feed(url, "feed5").status_code in (401, 403)
        r = signed("GET", f"{url}/v1/buckets/feed5?what=changes")
        assert r.status_code == 200, r.text
        pos = r.json()["position"]
        c.put_object(Bucket="feed5", Key="signed", Body=b"x")
        r = signed("GET", f"{url}/v1/buckets/feed5?what=changes&since={pos}&wait=5")
        assert [ch["key"] for ch in r.json()["changes"]] == ["signed"], r.text
        r = signed("GET", f"{url}/v1/buckets/feed5?what=changes&since={pos}",
                   secret="nope")
        assert r.status_code == 403
    finally:
        stop_and_check(proc)


def test_read_workers_hand_the_feed_to_the_primary(tmp_path: Path) -> None:
    """With read workers every /v1 call is the primary's: one epoch on every connection,
    and a long poll that came through a worker is woken by a change."""
    from .conftest import FAST_CONFIG

    proc = start(tmp_path, FAST_CONFIG + "[net]\nworkers = 2\n")
    try:
        url = proc.url
        c = s3(url)
        c.create_bucket(Bucket="feed6")
        epochs = set()
        for _ in range(6):  # new connections, spread over the processes
            with httpx.Client() as h:
                epochs.add(h.get(f"{url}/v1/buckets/feed6",
                                 params={"what": "changes"}).json()["epoch"])
        assert len(epochs) == 1
        got = poll_while_putting(url, c, "feed6", "through")
        assert [ch["key"] for ch in got["changes"]] == ["through"]
    finally:
        stop_and_check(proc)
