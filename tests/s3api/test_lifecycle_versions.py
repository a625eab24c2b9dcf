"""Lifecycle rules on versioned buckets against a real node, boto3, open and SigV4, with a
one-second "day" (``AISFS_LC_DAY_SECONDS=1``, ``AISFS_LC_INTERVAL=0.5``): Expiration adds
a delete marker (Enabled) or replaces the null version by a null marker (Suspended),
NoncurrentVersionExpiration with NewerNoncurrentVersions and size/tag filters (tags set
on a version once noncurrent too), ExpiredObjectDeleteMarker, a COMPLIANCE-locked version
the worker leaves (counted), and ``aws s3api list-object-versions`` after an expiry."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from support.clients import have, s3_client
from support.lifecycle import fast_lifecycle_node
from support.node import NodeProcess, new_node

WAIT = 60.0
SETTLE = 3.0  # a few worker runs (0.5 s apart): what must stay has had its chances


@pytest.fixture(params=["open", "sigv4"])
def served(request: pytest.FixtureRequest, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[NodeProcess, Any]]:
    with fast_lifecycle_node(tmp_path, monkeypatch, request.param) as node_and_client:
        yield node_and_client


def versions(s3: Any, bucket: str, prefix: str = "") -> list[tuple[str, str, bool, bool]]:
    """(key, version id, is latest, is a delete marker), by key, newest first."""
    out = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    rows = [(v["Key"], v["VersionId"], v["IsLatest"], False, v["LastModified"])
            for v in out.get("Versions", [])]
    rows += [(m["Key"], m["VersionId"], m["IsLatest"], True, m["LastModified"])
             for m in out.get("DeleteMarkers", [])]
    rows.sort(key=lambda r: (r[0], not r[2]))
    return [r[:4] for r in rows]


def eventually_equal(get: Any, want: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while (got := get()) != want:
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT}s: {what}: {got!r} != {want!r}")
        time.sleep(0.2)


def stays(get: Any, want: Any) -> None:
    time.sleep(SETTLE)
    assert get() == want


def versioned(s3: Any, bucket: str, status: str = "Enabled") -> None:
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def put(s3: Any, bucket: str, key: str, body: bytes = b"x", **kw: Any) -> str:
    return str(s3.put_object(Bucket=bucket, Key=key, Body=body, **kw)["VersionId"])


def rules(s3: Any, bucket: str, *rs: dict[str, Any]) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=bucket,
                                          LifecycleConfiguration={"Rules": list(rs)})


def job_detail(node: NodeProcess) -> dict[str, int]:
    """The lifecycle jobs' counters summed (open auth: the CLI needs no keys)."""
    shown = subprocess.run(
        [sys.executable, "-m", "aisfs", "job", "show", "lifecycle", "--json",
         "--endpoint", node.url], capture_output=True, text=True, timeout=120, check=True)
    total: dict[str, int] = {}
    for job in json.loads(shown.stdout):
        for k, v in (job.get("detail") or {}).items():
            if isinstance(v, int):
                total[k] = total.get(k, 0) + v
    return total


def test_expiration_on_enabled_adds_a_delete_marker(served: Any, tmp_path: Path) -> None:
    node, s3 = served
    versioned(s3, "lcv")
    v1, v2 = put(s3, "lcv", "e/a"), put(s3, "lcv", "e/a", b"yy")
    kept = put(s3, "lcv", "keep/x")
    rules(s3, "lcv", {"ID": "exp", "Status": "Enabled", "Filter": {"Prefix": "e/"},
                      "Expiration": {"Days": 1}})

    def shape() -> list[tuple[str, bool, bool]]:
        return [(v[1] if not v[3] else "marker", v[2], v[3]) for v in versions(s3, "lcv", "e/")]

    eventually_equal(shape, [("marker", True, True), (v2, False, False), (v1, False, False)],
                     "a delete marker on the expired current version")
    stays(shape, [("marker", True, True), (v2, False, False), (v1, False, False)])
    assert versions(s3, "lcv", "keep/") == [("keep/x", kept, True, False)]
    assert s3.get_object(Bucket="lcv", Key="e/a", VersionId=v2)["Body"].read() == b"yy"
    if have("aws"):
        out = subprocess.run(
            ["aws", "--endpoint-url", node.s3_url, "s3api", "list-object-versions",
             "--bucket", "lcv", "--prefix", "e/"],
            check=True, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        doc = json.loads(out.stdout)
        assert [m["IsLatest"] for m in doc["DeleteMarkers"]] == [True]
        assert [v["VersionId"] for v in doc["Versions"]] == [v2, v1]
    if node.config_file is None:
        assert job_detail(node).get("delete_markers_added") == 1


def test_expiration_on_suspended_replaces_the_null_version(served: Any) -> None:
    _node, s3 = served
    versioned(s3, "lcs")
    v1 = put(s3, "lcs", "a")
    s3.put_bucket_versioning(Bucket="lcs", VersioningConfiguration={"Status": "Suspended"})
    assert put(s3, "lcs", "a") == "null"
    assert put(s3, "lcs", "b") == "null"
    rules(s3, "lcs", {"ID": "exp", "Status": "Enabled", "Filter": {},
                      "Expiration": {"Days": 1}})
    # a: the null version gone, a null marker in its place, v1 kept; b: its null marker
    # was then its only version, which the Days rule removes once old enough (AWS)
    eventually_equal(lambda: versions(s3, "lcs"),
                     [("a", "null", True, True), ("a", v1, False, False)],
                     "the null version replaced by a null delete marker")
    stays(lambda: versions(s3, "lcs"), [("a", "null", True, True), ("a", v1, False, False)])


def test_noncurrent_days_and_newer_noncurrent_versions(served: Any) -> None:
    _node, s3 = served
    versioned(s3, "lcn")
    vs = [put(s3, "lcn", "n/k", bytes(i)) for i in range(1, 6)]
    ms = [put(s3, "lcn", "m/k", bytes(i)) for i in range(1, 3)]
    rules(s3, "lcn",
          {"ID": "keep2", "Status": "Enabled", "Filter": {"Prefix": "n/"},
           "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 2}},
          {"ID": "all", "Status": "Enabled", "Filter": {"Prefix": "m/"},
           "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})

    def ids(prefix: str) -> list[str]:
        return [v[1] for v in versions(s3, "lcn", prefix)]

    eventually_equal(lambda: ids("n/"), [vs[4], vs[3], vs[2]], "the 2 newest noncurrent kept")
    eventually_equal(lambda: ids("m/"), [ms[1]], "every noncurrent version removed")
    stays(lambda: (ids("n/"), ids("m/")), ([vs[4], vs[3], vs[2]], [ms[1]]))


def test_filters_on_noncurrent_versions(served: Any) -> None:
    _node, s3 = served
    versioned(s3, "lcf")
    big = put(s3, "lcf", "s/k", b"b" * 20)
    small = put(s3, "lcf", "s/k", b"s")
    cur = put(s3, "lcf", "s/k", b"c")
    tagged = put(s3, "lcf", "t/k", b"1", Tagging="class=tmp")
    plain = put(s3, "lcf", "t/k", b"2")
    tcur = put(s3, "lcf", "t/k", b"3")
    rules(s3, "lcf",
          {"ID": "size", "Status": "Enabled",
           "Filter": {"And": {"Prefix": "s/", "ObjectSizeGreaterThan": 10}},
           "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
          {"ID": "tag", "Status": "Enabled",
           "Filter": {"And": {"Prefix": "t/", "Tags": [{"Key": "class", "Value": "tmp"}]}},
           "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})

    def ids() -> list[str]:
        return [v[1] for v in versions(s3, "lcf")]

    want = [cur, small, tcur, plain]
    eventually_equal(ids, want, "the big and the tagged noncurrent versions removed")
    assert big not in ids() and tagged not in ids()
    stays(ids, want)


def test_tags_set_on_a_noncurrent_version_are_what_a_rule_sees(served: Any) -> None:
    """PutObjectTagging with a versionId after the version became noncurrent: a
    NoncurrentVersionExpiration filtered by that tag removes it; a version whose tag was
    deleted, and the tagged current, stay."""
    _node, s3 = served
    versioned(s3, "lct")
    later = put(s3, "lct", "k", b"1")
    untagged = put(s3, "lct", "k", b"2", Tagging="class=tmp")
    cur = put(s3, "lct", "k", b"3", Tagging="class=tmp")
    s3.put_object_tagging(Bucket="lct", Key="k", VersionId=later,
                          Tagging={"TagSet": [{"Key": "class", "Value": "tmp"}]})
    s3.delete_object_tagging(Bucket="lct", Key="k", VersionId=untagged)
    rules(s3, "lct", {"ID": "tag", "Status": "Enabled",
                      "Filter": {"Tag": {"Key": "class", "Value": "tmp"}},
                      "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})

    def ids() -> list[str]:
        return [v[1] for v in versions(s3, "lct")]

    eventually_equal(ids, [cur, untagged], "the version tagged once noncurrent removed")
    stays(ids, [cur, untagged])


def test_expired_object_delete_marker(served: Any) -> None:
    _node, s3 = served
    versioned(s3, "lcd")
    put(s3, "lcd", "d/x")
    s3.delete_object(Bucket="lcd", Key="d/x")
    lone = s3.delete_object(Bucket="lcd", Key="e/lone")["VersionId"]  # a marker, alone
    kept_v = put(s3, "lcd", "e/kept")
    kept_m = s3.delete_object(Bucket="lcd", Key="e/kept")["VersionId"]
    assert lone and kept_m
    rules(s3, "lcd",
          {"ID": "eodm", "Status": "Enabled", "Filter": {},
           "Expiration": {"ExpiredObjectDeleteMarker": True}},
          {"ID": "nc", "Status": "Enabled", "Filter": {"Prefix": "d/"},
           "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})
    # d/x: its version goes (noncurrent), then its marker is alone and goes too; e/lone at
    # once; e/kept's marker has an older version: it stays
    want = [("e/kept", kept_m, True, True), ("e/kept", kept_v, False, False)]
    eventually_equal(lambda: versions(s3, "lcd"), want, "the expired object delete markers")
    stays(lambda: versions(s3, "lcd"), want)


def test_a_locked_version_survives(served: Any) -> None:
    node, s3 = served
    s3.create_bucket(Bucket="lcl", ObjectLockEnabledForBucket=True)
    until = datetime.now(UTC) + timedelta(hours=1)
    locked = put(s3, "lcl", "k", b"old", ObjectLockMode="COMPLIANCE",
                 ObjectLockRetainUntilDate=until)
    free = put(s3, "lcl", "k", b"new")
    rules(s3, "lcl", {"ID": "all", "Status": "Enabled", "Filter": {},
                      "Expiration": {"Days": 1},
                      "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})

    def shape() -> list[tuple[str, bool, bool]]:
        return [(v[1] if not v[3] else "marker", v[2], v[3]) for v in versions(s3, "lcl")]

    want = [("marker", True, True), (locked, False, False)]
    eventually_equal(shape, want, "the free version removed, the locked one left")
    assert free not in [v[1] for v in versions(s3, "lcl")]
    stays(shape, want)
    assert s3.get_object(Bucket="lcl", Key="k", VersionId=locked)["Body"].read() == b"old"
    if node.config_file is None:
        assert job_detail(node).get("locked_skipped", 0) >= 1
    assert node.log().count("is locked (object lock)") >= 1


def test_lifecycle_settings_from_node_toml(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """``[lifecycle] day_seconds`` and ``interval`` in node.toml, no environment."""
    monkeypatch.delenv("AISFS_LC_DAY_SECONDS", raising=False)
    monkeypatch.delenv("AISFS_LC_INTERVAL", raising=False)
    node = new_node(tmp_path, config="[lifecycle]\nday_seconds = 1\ninterval = 0.5\n").start()
    try:
        s3 = s3_client(node.s3_url)
        versioned(s3, "lct")
        v1 = put(s3, "lct", "k")
        v2 = put(s3, "lct", "k")
        rules(s3, "lct", {"ID": "nc", "Status": "Enabled", "Filter": {},
                          "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})
        eventually_equal(lambda: [v[1] for v in versions(s3, "lct")], [v2],
                         "the noncurrent version removed with a one-second day")
        assert v1 != v2
    finally:
        assert node.stop() == 0
        assert "Traceback" not in node.log()
