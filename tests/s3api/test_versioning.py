"""Bucket versioning against a real node with boto3 (and the aws CLI), open and SigV4:
Put/GetBucketVersioning, version ids on PUT, copy and complete, GET/HEAD/DELETE of a
version, delete markers (404 and 405 with ``x-amz-delete-marker``), the null version
(before Enabled, while Suspended), ListObjectVersions pages, prefixes and markers,
DeleteObjects with version ids, copies from a version, the tags of any version
(Put/Get/DeleteObjectTagging with a versionId, the aws CLI too), and AWS's error codes."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.clients import have, s3_client
from support.node import NodeProcess, new_node

SIGV4 = """
[auth]
mode = "sigv4"
access_keys = { FAKEKEY = "FAKESECRET" }
"""


@pytest.fixture(scope="module", params=["open", "sigv4"])
def served(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeProcess, Any]]:
    tmp = tmp_path_factory.mktemp(f"versioning-{request.param}")
    node = new_node(tmp, config=SIGV4 if request.param == "sigv4" else None).start()
    try:
        yield node, s3_client(node.s3_url)
    finally:
        assert node.stop() == 0
        assert "Traceback" not in node.log()


@pytest.fixture
def s3(served: tuple[NodeProcess, Any]) -> Any:
    return served[1]


def versioned(s3: Any, status: str = "Enabled") -> str:
    name = f"v-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
    return name


def code_of(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def listed(s3: Any, bucket: str, **kw: Any) -> list[tuple[str, str, bool, bool]]:
    r = s3.list_object_versions(Bucket=bucket, **kw)
    out = [(v["Key"], v["VersionId"], v["IsLatest"], False, v["LastModified"])
           for v in r.get("Versions", [])]
    out += [(m["Key"], m["VersionId"], m["IsLatest"], True, m["LastModified"])
            for m in r.get("DeleteMarkers", [])]
    # botocore splits the two kinds: back into S3's order (key, newest first)
    out.sort(key=lambda t: (t[0], -t[4].timestamp()))
    return [t[:4] for t in out]


def test_put_get_bucket_versioning(s3: Any) -> None:
    s3.create_bucket(Bucket="vcfg")
    assert "Status" not in s3.get_bucket_versioning(Bucket="vcfg")
    for status in ("Enabled", "Suspended", "Enabled"):
        s3.put_bucket_versioning(Bucket="vcfg", VersioningConfiguration={"Status": status})
        assert s3.get_bucket_versioning(Bucket="vcfg")["Status"] == status
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket="vcfg", VersioningConfiguration={
            "Status": "Enabled", "MFADelete": "Enabled"})
    assert code_of(e) == ("NotImplemented", 501)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket="vcfg", VersioningConfiguration={"Status": "On"})
    assert code_of(e) == ("MalformedXML", 400)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket="nobucket-v", VersioningConfiguration={
            "Status": "Enabled"})
    assert code_of(e) == ("NoSuchBucket", 404)


def test_versions_of_a_key(s3: Any) -> None:
    b = versioned(s3)
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2 and len(v1) == 32
    got = s3.get_object(Bucket=b, Key="k")
    assert got["Body"].read() == b"two" and got["VersionId"] == v2
    got = s3.get_object(Bucket=b, Key="k", VersionId=v1)
    assert got["Body"].read() == b"one" and got["VersionId"] == v1
    assert s3.head_object(Bucket=b, Key="k", VersionId=v1)["ContentLength"] == 3
    assert listed(s3, b) == [("k", v2, True, False), ("k", v1, False, False)]
    # the plain listing shows the current version only
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]] == ["k"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k", VersionId="not-a-version")
    assert code_of(e) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k", VersionId="0" * 32)
    assert code_of(e) == ("NoSuchVersion", 404)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=b, Key="k", VersionId="0" * 32)
    assert code_of(e)[1] == 404
    tags = s3.get_object_tagging(Bucket=b, Key="k", VersionId=v1)
    assert tags["VersionId"] == v1 and tags["TagSet"] == []
    attrs = s3.get_object_attributes(Bucket=b, Key="k", VersionId=v1,
                                     ObjectAttributes=["ObjectSize", "ETag"])
    assert attrs["ObjectSize"] == 3 and attrs["VersionId"] == v1
    s3.put_object_tagging(Bucket=b, Key="k", VersionId=v2,
                          Tagging={"TagSet": [{"Key": "t", "Value": "1"}]})
    assert s3.get_object_tagging(Bucket=b, Key="k")["TagSet"] == [{"Key": "t", "Value": "1"}]
    s3.put_object_tagging(Bucket=b, Key="k", VersionId=v1,  # a non-current version's
                          Tagging={"TagSet": [{"Key": "o", "Value": "2"}]})
    assert s3.get_object_tagging(Bucket=b, Key="k", VersionId=v1)["TagSet"] == [
        {"Key": "o", "Value": "2"}]
    assert s3.get_object_tagging(Bucket=b, Key="k")["TagSet"] == [{"Key": "t", "Value": "1"}]


def tag_set(s3: Any, b: str, key: str, **kw: Any) -> list[tuple[str, str]]:
    return [(t["Key"], t["Value"]) for t in s3.get_object_tagging(
        Bucket=b, Key=key, **kw)["TagSet"]]


def test_tags_of_a_noncurrent_version(s3: Any) -> None:
    """Put/DeleteObjectTagging with a versionId change that version's tags alone (AWS):
    the answer names it, its bytes and the listing stay, the current's tags are its own;
    NoSuchVersion, InvalidArgument, 405 for a delete marker."""
    b = versioned(s3)
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"one", Tagging="a=1")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="k", Body=b"two", Tagging="c=3")["VersionId"]
    before = listed(s3, b)
    out = s3.put_object_tagging(Bucket=b, Key="k", VersionId=v1, Tagging={"TagSet": [
        {"Key": "z", "Value": "26"}, {"Key": "b", "Value": "2"}]})
    assert out["VersionId"] == v1
    assert tag_set(s3, b, "k", VersionId=v1) == [("b", "2"), ("z", "26")]  # by key
    assert tag_set(s3, b, "k") == tag_set(s3, b, "k", VersionId=v2) == [("c", "3")]
    got = s3.get_object(Bucket=b, Key="k", VersionId=v1)
    assert got["Body"].read() == b"one" and got["TagCount"] == 2
    assert listed(s3, b) == before
    out = s3.delete_object_tagging(Bucket=b, Key="k", VersionId=v1)
    assert out["VersionId"] == v1 and out["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert tag_set(s3, b, "k", VersionId=v1) == [] and tag_set(s3, b, "k") == [("c", "3")]
    assert s3.get_object(Bucket=b, Key="k", VersionId=v1)["Body"].read() == b"one"
    marker = s3.delete_object(Bucket=b, Key="k")["VersionId"]
    tags = {"TagSet": [{"Key": "x", "Value": "y"}]}
    for vid, want in ((marker, ("MethodNotAllowed", 405)), ("0" * 32, ("NoSuchVersion", 404)),
                      ("not-a-version", ("InvalidArgument", 400))):
        for call, kw in ((s3.put_object_tagging, {"Tagging": tags}),
                         (s3.delete_object_tagging, {}), (s3.get_object_tagging, {})):
            with pytest.raises(ClientError) as e:
                call(Bucket=b, Key="k", VersionId=vid, **kw)
            assert code_of(e) == want, (call, vid)
    s3.put_object_tagging(Bucket=b, Key="k", VersionId=v2, Tagging=tags)  # under a marker
    assert tag_set(s3, b, "k", VersionId=v2) == [("x", "y")]


def test_tags_of_the_null_version(s3: Any) -> None:
    """The null version, kept by an overwrite once versioning is on, tagged by id."""
    b = f"v-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"null")
    s3.put_object_tagging(Bucket=b, Key="k", VersionId="null",
                          Tagging={"TagSet": [{"Key": "n", "Value": "1"}]})
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=b, Key="k", Body=b"new")
    assert tag_set(s3, b, "k", VersionId="null") == [("n", "1")]
    out = s3.put_object_tagging(Bucket=b, Key="k", VersionId="null",
                                Tagging={"TagSet": [{"Key": "n", "Value": "2"}]})
    assert out["VersionId"] == "null"
    assert tag_set(s3, b, "k", VersionId="null") == [("n", "2")]
    assert tag_set(s3, b, "k") == []
    assert s3.get_object(Bucket=b, Key="k", VersionId="null")["Body"].read() == b"null"


def test_delete_markers(s3: Any) -> None:
    b = versioned(s3)
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"one")["VersionId"]
    d = s3.delete_object(Bucket=b, Key="k")
    assert d["DeleteMarker"] is True
    marker = d["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k")
    assert code_of(e) == ("NoSuchKey", 404)
    headers = e.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true"
    assert headers["x-amz-version-id"] == marker
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=b, Key="k")
    assert code_of(e)[1] == 404
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k", VersionId=marker)
    assert code_of(e) == ("MethodNotAllowed", 405)
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=b, Key="k", VersionId=marker)
    assert code_of(e)[1] == 405
    assert listed(s3, b) == [("k", marker, True, True), ("k", v1, False, False)]
    assert "Contents" not in s3.list_objects_v2(Bucket=b)
    # a second marker on top of the first
    marker2 = s3.delete_object(Bucket=b, Key="k")["VersionId"]
    assert listed(s3, b)[0] == ("k", marker2, True, True)
    # removing the markers (by id) brings v1 back
    for m in (marker2, marker):
        d = s3.delete_object(Bucket=b, Key="k", VersionId=m)
        assert d["DeleteMarker"] is True and d["VersionId"] == m
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"one"
    # deleting the current version by id: gone for good, no marker
    d = s3.delete_object(Bucket=b, Key="k", VersionId=v1)
    assert d["VersionId"] == v1 and "DeleteMarker" not in d
    assert listed(s3, b) == []
    # a version that is not there: 204 (as S3); a malformed id: 400
    assert s3.delete_object(Bucket=b, Key="k", VersionId="0" * 32)[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=b, Key="k", VersionId="bad")
    assert code_of(e) == ("InvalidArgument", 400)
    # a key that never existed gets a marker too
    assert s3.delete_object(Bucket=b, Key="never")["DeleteMarker"] is True


def test_delete_current_version_promotes_previous(s3: Any) -> None:
    b = versioned(s3)
    vs = [s3.put_object(Bucket=b, Key="k", Body=f"v{i}".encode())["VersionId"]
          for i in range(3)]
    s3.delete_object(Bucket=b, Key="k", VersionId=vs[2])
    got = s3.get_object(Bucket=b, Key="k")
    assert got["Body"].read() == b"v1" and got["VersionId"] == vs[1]
    s3.delete_object(Bucket=b, Key="k", VersionId=vs[0])  # a non-current one
    assert listed(s3, b) == [("k", vs[1], True, False)]


def test_null_version_and_suspended(s3: Any) -> None:
    b = f"n-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=b)
    r = s3.put_object(Bucket=b, Key="k", Body=b"before")
    assert "VersionId" not in r  # never versioned: no header (as S3)
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    assert s3.head_object(Bucket=b, Key="k")["VersionId"] == "null"
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"first")["VersionId"]
    assert listed(s3, b) == [("k", v1, True, False), ("k", "null", False, False)]
    assert s3.get_object(Bucket=b, Key="k", VersionId="null")["Body"].read() == b"before"
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    assert s3.put_object(Bucket=b, Key="k", Body=b"s1")["VersionId"] == "null"
    assert listed(s3, b) == [("k", "null", True, False), ("k", v1, False, False)]
    assert s3.get_object(Bucket=b, Key="k", VersionId="null")["Body"].read() == b"s1"
    d = s3.delete_object(Bucket=b, Key="k")
    assert d["DeleteMarker"] is True and d["VersionId"] == "null"
    assert listed(s3, b) == [("k", "null", True, True), ("k", v1, False, False)]
    # only versions and markers left: not empty (as S3)
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=b)
    assert code_of(e) == ("BucketNotEmpty", 409)
    for v in ("null", v1):
        s3.delete_object(Bucket=b, Key="k", VersionId=v)
    s3.delete_bucket(Bucket=b)


def test_copy_from_a_version(s3: Any) -> None:
    b = versioned(s3)
    v1 = s3.put_object(Bucket=b, Key="src", Body=b"old" * 1000)["VersionId"]
    s3.put_object(Bucket=b, Key="src", Body=b"new")
    r = s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src",
                                                        "VersionId": v1})
    assert r["CopySourceVersionId"] == v1 and len(r["VersionId"]) == 32
    assert s3.get_object(Bucket=b, Key="dst")["Body"].read() == b"old" * 1000
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src",
                                                        "VersionId": "0" * 32})
    assert code_of(e) == ("NoSuchVersion", 404)
    marker = s3.delete_object(Bucket=b, Key="src")["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src"})
    assert code_of(e) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src",
                                                        "VersionId": marker})
    assert code_of(e) == ("InvalidRequest", 400)


def test_multipart_on_a_versioned_bucket(s3: Any) -> None:
    b = versioned(s3)
    v1 = s3.put_object(Bucket=b, Key="src", Body=b"a" * (5 << 20))["VersionId"]
    s3.put_object(Bucket=b, Key="src", Body=b"b")
    up = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    p1 = s3.upload_part_copy(Bucket=b, Key="mp", UploadId=up, PartNumber=1,
                             CopySource={"Bucket": b, "Key": "src", "VersionId": v1})
    assert p1["CopySourceVersionId"] == v1
    p2 = s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=2, Body=b"tail")
    done = s3.complete_multipart_upload(
        Bucket=b, Key="mp", UploadId=up, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": p2["ETag"]}]})
    first = done["VersionId"]
    assert len(first) == 32
    again = s3.complete_multipart_upload(  # a retry (the client timed out): the same answer
        Bucket=b, Key="mp", UploadId=up, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": p2["ETag"]}]})
    assert again["VersionId"] == first and again["ETag"] == done["ETag"]
    up = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    p = s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=1, Body=b"second")
    second = s3.complete_multipart_upload(
        Bucket=b, Key="mp", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})["VersionId"]
    assert listed(s3, b, Prefix="mp") == [("mp", second, True, False),
                                          ("mp", first, False, False)]
    body = s3.get_object(Bucket=b, Key="mp", VersionId=first)["Body"].read()
    assert body == b"a" * (5 << 20) + b"tail"


def test_delete_objects_with_versions(s3: Any) -> None:
    b = versioned(s3)
    v1 = s3.put_object(Bucket=b, Key="a", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="a", Body=b"2")["VersionId"]
    s3.put_object(Bucket=b, Key="b", Body=b"b")
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [
        {"Key": "a", "VersionId": v1}, {"Key": "b"}, {"Key": "c", "VersionId": "0" * 32}]})
    deleted = {d["Key"]: d for d in r["Deleted"]}
    assert deleted["a"]["VersionId"] == v1 and "DeleteMarker" not in deleted["a"]
    assert deleted["b"]["DeleteMarker"] is True and len(deleted["b"]["DeleteMarkerVersionId"]) == 32
    assert deleted["c"]["VersionId"] == "0" * 32
    marker = deleted["b"]["DeleteMarkerVersionId"]
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "b", "VersionId": marker}]})
    d = r["Deleted"][0]
    assert d["VersionId"] == marker and d["DeleteMarker"] is True
    assert d["DeleteMarkerVersionId"] == marker
    assert s3.get_object(Bucket=b, Key="b")["Body"].read() == b"b"
    assert listed(s3, b, Prefix="a") == [("a", v2, True, False)]


def test_list_object_versions_pages(s3: Any) -> None:
    b = versioned(s3)
    want = []
    for key in ["a/1", "a/2", "b c", "d"]:
        vids = [s3.put_object(Bucket=b, Key=key, Body=bytes(i))["VersionId"] for i in range(3)]
        want += [(key, v) for v in reversed(vids)]
    got = []
    kw: dict[str, Any] = {}
    pages = 0
    while True:
        r = s3.list_object_versions(Bucket=b, MaxKeys=5, **kw)
        pages += 1
        assert r["MaxKeys"] == 5
        got += [(v["Key"], v["VersionId"]) for v in r.get("Versions", [])]
        if not r["IsTruncated"]:
            break
        kw = {"KeyMarker": r["NextKeyMarker"], "VersionIdMarker": r["NextVersionIdMarker"]}
    assert got == want and pages == 3
    # the paginator agrees
    pager = s3.get_paginator("list_object_versions")
    flat = [(v["Key"], v["VersionId"]) for page in pager.paginate(
        Bucket=b, PaginationConfig={"PageSize": 4}) for v in page.get("Versions", [])]
    assert flat == want
    r = s3.list_object_versions(Bucket=b, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/"]
    assert {v["Key"] for v in r["Versions"]} == {"b c", "d"}
    r = s3.list_object_versions(Bucket=b, Prefix="a/", KeyMarker="a/1")
    assert {v["Key"] for v in r["Versions"]} == {"a/2"}
    r = s3.list_object_versions(Bucket=b, EncodingType="url", Prefix="b")
    assert r["EncodingType"] == "url"
    assert {urllib.parse.unquote_plus(v["Key"]) for v in r["Versions"]} == {"b c"}
    with pytest.raises(ClientError) as e:
        s3.list_object_versions(Bucket=b, VersionIdMarker=want[0][1])
    assert code_of(e) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as e:
        s3.list_object_versions(Bucket=b, KeyMarker="a", VersionIdMarker="zz")
    assert code_of(e) == ("InvalidArgument", 400)


@pytest.mark.skipif(not have("aws"), reason="aws CLI not installed")
def test_aws_cli(served: tuple[NodeProcess, Any], tmp_path: Path) -> None:
    node, s3 = served
    b = versioned(s3)
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"cli-one")["VersionId"]
    s3.put_object(Bucket=b, Key="k", Body=b"cli-two")

    def aws(*args: str) -> str:
        return subprocess.run(
            ["aws", "--endpoint-url", node.s3_url, "s3api", *args], check=True,
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
        ).stdout

    out = json.loads(aws("list-object-versions", "--bucket", b))
    assert [v["VersionId"] for v in out["Versions"]][1] == v1
    aws("get-object", "--bucket", b, "--key", "k", "--version-id", v1, str(tmp_path / "o"))
    assert (tmp_path / "o").read_bytes() == b"cli-one"
    out = json.loads(aws("get-bucket-versioning", "--bucket", b))
    assert out["Status"] == "Enabled"
    out = json.loads(aws("put-object-tagging", "--bucket", b, "--key", "k", "--version-id", v1,
                         "--tagging", "TagSet=[{Key=cli,Value=v1}]"))
    assert out["VersionId"] == v1
    out = json.loads(aws("get-object-tagging", "--bucket", b, "--key", "k", "--version-id", v1))
    assert out["TagSet"] == [{"Key": "cli", "Value": "v1"}] and out["VersionId"] == v1
    assert s3.get_object_tagging(Bucket=b, Key="k")["TagSet"] == []
    aws("delete-object-tagging", "--bucket", b, "--key", "k", "--version-id", v1)
    assert s3.get_object_tagging(Bucket=b, Key="k", VersionId=v1)["TagSet"] == []
