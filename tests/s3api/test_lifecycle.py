"""Bucket lifecycle rules against a real node, with boto3 (and the aws CLI once), open and
SigV4: Put/Get/DeleteBucketLifecycleConfiguration round trips and AWS's refusals, the
``x-amz-expiration`` header, and the worker with a one-second "day"
(``AISFS_LC_DAY_SECONDS=1``, ``AISFS_LC_INTERVAL=0.5``) expiring objects by prefix, tag
and size while the rest (and a Disabled rule's objects) stay, and aborting old uploads."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import http.client
import json
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.clients import have, s3_client
from support.lifecycle import fast_lifecycle_node
from support.node import NodeProcess, new_node

WAIT = 60.0  # the most a poll waits for the worker (it acts within a few seconds)


@pytest.fixture(params=["open", "sigv4"])
def served(request: pytest.FixtureRequest, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[NodeProcess, Any]]:
    """A node whose lifecycle day lasts a second, run every half second; a boto3 client."""
    with fast_lifecycle_node(tmp_path, monkeypatch, request.param) as node_and_client:
        yield node_and_client


def code_of(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT}s: {what}")
        time.sleep(0.2)


def keys(s3: Any, bucket: str) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


RULES: list[dict[str, Any]] = [
    {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
     "Expiration": {"Days": 30}},
    {"ID": "tagged", "Status": "Disabled",
     "Filter": {"Tag": {"Key": "class", "Value": "tmp"}},
     "Expiration": {"Date": datetime(2031, 1, 1, tzinfo=UTC)}},
    {"ID": "and", "Status": "Enabled",
     "Filter": {"And": {"Prefix": "big/", "Tags": [{"Key": "a", "Value": "1"},
                                                    {"Key": "b", "Value": "2"}],
                        "ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 1000}},
     "Expiration": {"Days": 7}},
    {"ID": "small", "Status": "Enabled", "Filter": {"ObjectSizeLessThan": 5},
     "Expiration": {"Days": 2}},
    {"ID": "versions", "Status": "Enabled", "Filter": {"Prefix": ""},
     "NoncurrentVersionExpiration": {"NoncurrentDays": 5, "NewerNoncurrentVersions": 3},
     "Expiration": {"ExpiredObjectDeleteMarker": True}},
    {"ID": "uploads", "Status": "Enabled", "Filter": {"Prefix": "mpu/"},
     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 4}},
]


def test_round_trip_get_and_delete(served: Any) -> None:
    _node, s3 = served
    s3.create_bucket(Bucket="lcb")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="lcb")
    assert code_of(e) == ("NoSuchLifecycleConfiguration", 404)
    s3.put_bucket_lifecycle_configuration(Bucket="lcb",
                                          LifecycleConfiguration={"Rules": RULES})
    assert s3.get_bucket_lifecycle_configuration(Bucket="lcb")["Rules"] == RULES
    legacy = [{"ID": "old", "Status": "Enabled", "Prefix": "x/", "Expiration": {"Days": 1000}}]
    s3.put_bucket_lifecycle_configuration(Bucket="lcb",
                                          LifecycleConfiguration={"Rules": legacy})
    assert s3.get_bucket_lifecycle_configuration(Bucket="lcb")["Rules"] == legacy
    s3.delete_bucket_lifecycle(Bucket="lcb")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="lcb")
    assert code_of(e) == ("NoSuchLifecycleConfiguration", 404)
    s3.delete_bucket_lifecycle(Bucket="lcb")  # none: still 204
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="missing")
    assert code_of(e) == ("NoSuchBucket", 404)


def _put(s3: Any, *rules: dict[str, Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as e:
        s3.put_bucket_lifecycle_configuration(
            Bucket="lcb", LifecycleConfiguration={"Rules": list(rules)})
    return code_of(e)


def rule(**kw: Any) -> dict[str, Any]:
    return {"ID": "r", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}} | kw


def test_refusals_as_aws(served: Any) -> None:
    _node, s3 = served
    s3.create_bucket(Bucket="lcb")
    bad = ("InvalidArgument", 400)
    assert _put(s3, rule(Expiration={"Days": 0})) == bad
    assert _put(s3, rule(Expiration={"Date": datetime(2031, 1, 1, 12, tzinfo=UTC)})) == bad
    assert _put(s3, rule(ID="x" * 256)) == bad
    assert _put(s3, rule(), rule()) == bad
    assert _put(s3, rule(NoncurrentVersionExpiration={"NoncurrentDays": 0})) == bad
    assert _put(s3, rule(AbortIncompleteMultipartUpload={"DaysAfterInitiation": 0})) == bad
    malformed = ("MalformedXML", 400)
    assert _put(s3, rule(Status="Sometimes")) == malformed
    assert _put(s3, rule(Expiration={"Days": 1, "Date": datetime(2031, 1, 1, tzinfo=UTC)})) \
        == malformed
    assert _put(s3, rule(Filter={"Prefix": "a", "ObjectSizeLessThan": 4})) == malformed
    assert _put(s3, rule(Prefix="a")) == malformed  # Prefix and Filter
    assert _put(s3, rule(Expiration={"Days": 1, "ExpiredObjectDeleteMarker": True})) \
        == malformed
    assert _put(s3, *[rule(ID=f"r{i}") for i in range(1001)]) == malformed
    request = ("InvalidRequest", 400)
    no_action = {"ID": "r", "Status": "Enabled", "Filter": {}}
    assert _put(s3, no_action) == request
    assert _put(s3, rule(Filter={"And": {"ObjectSizeGreaterThan": 9,
                                         "ObjectSizeLessThan": 9}})) == request
    assert _put(s3, rule(Filter={"Tag": {"Key": "k", "Value": "v"}},
                         AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1})) == request
    transition = rule(Transitions=[{"Days": 30, "StorageClass": "GLACIER"}])
    assert _put(s3, transition) == ("NotImplemented", 501)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="lcb")
    assert code_of(e) == ("NoSuchLifecycleConfiguration", 404)  # nothing was kept


def _raw_put(node: NodeProcess, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    url = urllib.parse.urlsplit(node.s3_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request("PUT", url.path + "/lcb?lifecycle", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_integrity_header_is_required_and_checked(tmp_path: Path) -> None:
    node = new_node(tmp_path).start()  # open auth: plain requests
    try:
        s3_client(node.s3_url).create_bucket(Bucket="lcb")
        body = (b"<LifecycleConfiguration><Rule><ID>a</ID><Status>Enabled</Status><Filter/>"
                b"<Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>")
        status, answer = _raw_put(node, body, {})
        assert status == 400 and b"<Code>InvalidRequest</Code>" in answer
        assert b"Content-MD5" in answer
        wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
        status, answer = _raw_put(node, body, {"Content-MD5": wrong})
        assert status == 400 and b"<Code>BadDigest</Code>" in answer
        right = base64.b64encode(hashlib.md5(body).digest()).decode()
        assert _raw_put(node, body, {"Content-MD5": right})[0] == 200
        sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
        assert _raw_put(node, body, {"x-amz-checksum-sha256": sha})[0] == 200
    finally:
        assert node.stop() == 0


def test_expiration_header_on_put_get_head(served: Any) -> None:
    _node, s3 = served
    s3.create_bucket(Bucket="lcb")
    days = 100_000  # a "day" is a second here: far enough
    s3.put_bucket_lifecycle_configuration(Bucket="lcb", LifecycleConfiguration={"Rules": [
        {"ID": "logs-rule", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
         "Expiration": {"Days": days}},
        {"ID": "off", "Status": "Disabled", "Filter": {}, "Expiration": {"Days": 1}},
    ]})
    put = s3.put_object(Bucket="lcb", Key="logs/a", Body=b"x")
    head = s3.head_object(Bucket="lcb", Key="logs/a")
    got = s3.get_object(Bucket="lcb", Key="logs/a")
    modified = head["LastModified"].timestamp()
    expected = email.utils.formatdate(modified + days + 1, usegmt=True)
    value = f'expiry-date="{expected}", rule-id="logs-rule"'
    assert head["Expiration"] == value
    assert got["Expiration"] == value
    assert put["Expiration"] == value
    s3.put_object(Bucket="lcb", Key="data/b", Body=b"x")
    assert "Expiration" not in s3.head_object(Bucket="lcb", Key="data/b")


OBJECTS = {
    # key: (size, tags, expires)
    "logs/a": (3, {}, True),  # prefix rule
    "logs/b": (300, {}, True),
    "data/tagged": (3, {"class": "tmp"}, True),  # tag rule
    "data/other-tag": (3, {"class": "keep"}, False),
    "big/large": (5000, {}, True),  # size rule: And{prefix big/, > 1000}
    "big/small": (20, {}, False),
    "keep/x": (3, {}, False),  # only a Disabled rule covers it
    "dated/z": (3, {}, True),  # a Date in the past
    "other/y": (3, {}, False),
}


def test_worker_expires_by_prefix_tag_and_size(served: Any) -> None:
    """Prefix, tag, size (And) and Date rules expire their objects; the rest stay."""
    node, s3 = served
    s3.create_bucket(Bucket="lcb")
    for key, (size, tags, _) in OBJECTS.items():
        tagging = urllib.parse.urlencode(tags)
        s3.put_object(Bucket="lcb", Key=key, Body=b"z" * size, Tagging=tagging)
    s3.put_bucket_lifecycle_configuration(Bucket="lcb", LifecycleConfiguration={"Rules": [
        {"ID": "prefix", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
         "Expiration": {"Days": 1}},
        {"ID": "tag", "Status": "Enabled", "Filter": {"Tag": {"Key": "class", "Value": "tmp"}},
         "Expiration": {"Days": 1}},
        {"ID": "size", "Status": "Enabled",
         "Filter": {"And": {"Prefix": "big/", "ObjectSizeGreaterThan": 1000}},
         "Expiration": {"Days": 1}},
        {"ID": "disabled", "Status": "Disabled", "Filter": {"Prefix": "keep/"},
         "Expiration": {"Days": 1}},
        {"ID": "date", "Status": "Enabled", "Filter": {"Prefix": "dated/"},
         "Expiration": {"Date": datetime(2001, 1, 1, tzinfo=UTC)}},
    ]})
    staying = {k for k, (_, _, expires) in OBJECTS.items() if not expires}
    eventually(lambda: keys(s3, "lcb") <= staying, "the covered objects expired")
    assert keys(s3, "lcb") == staying
    if node.config_file is None:  # open auth: the CLI needs no keys
        shown = subprocess.run(
            [sys.executable, "-m", "aisfs", "job", "show", "lifecycle", "--json",
             "--endpoint", node.url], capture_output=True, text=True, timeout=120, check=True)
        jobs = json.loads(shown.stdout)
        assert {j["kind"] for j in jobs} == {"lifecycle"}
        assert all(j["buckets"] == ["ais://lcb"] for j in jobs)
        assert sum(j["objects_done"] for j in jobs) == len(OBJECTS) - len(staying)


def test_worker_aborts_old_incomplete_uploads(served: Any) -> None:
    _node, s3 = served
    s3.create_bucket(Bucket="lcb")
    old = s3.create_multipart_upload(Bucket="lcb", Key="tmp/upload")["UploadId"]
    kept = s3.create_multipart_upload(Bucket="lcb", Key="keep/upload")["UploadId"]
    s3.upload_part(Bucket="lcb", Key="tmp/upload", UploadId=old, PartNumber=1, Body=b"p")
    s3.put_bucket_lifecycle_configuration(Bucket="lcb", LifecycleConfiguration={"Rules": [
        {"ID": "abort", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
    ]})

    def uploads() -> set[str]:
        listed = s3.list_multipart_uploads(Bucket="lcb").get("Uploads", [])
        return {u["UploadId"] for u in listed}

    eventually(lambda: old not in uploads(), "the old upload aborted")
    assert uploads() == {kept}
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket="lcb", Key="tmp/upload", UploadId=old)
    assert code_of(e) == ("NoSuchUpload", 404)


@pytest.mark.skipif(not have("aws"), reason="aws CLI not installed")
def test_aws_cli_put_bucket_lifecycle_configuration(served: Any, tmp_path: Path) -> None:
    node, s3 = served
    s3.create_bucket(Bucket="lcb")
    config = {"Rules": [{"ID": "cli", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
                         "Expiration": {"Days": 365}}]}
    subprocess.run(
        ["aws", "--endpoint-url", node.s3_url, "s3api", "put-bucket-lifecycle-configuration",
         "--bucket", "lcb", "--lifecycle-configuration", json.dumps(config)],
        check=True, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    out = subprocess.run(
        ["aws", "--endpoint-url", node.s3_url, "s3api", "get-bucket-lifecycle-configuration",
         "--bucket", "lcb"],
        check=True, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert json.loads(out.stdout)["Rules"] == config["Rules"]
