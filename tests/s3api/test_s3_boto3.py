"""The core S3 API driven by boto3 against a real node process."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp = exc.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def test_bucket_lifecycle(s3) -> None:
    s3.create_bucket(Bucket="alpha")
    s3.create_bucket(Bucket="beta")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names == ["alpha", "beta"]
    s3.head_bucket(Bucket="alpha")
    s3.create_bucket(Bucket="alpha")  # yours already: 200 in us-east-1, as AWS
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="Bad_Name")
    assert error_code(e) == ("InvalidBucketName", 400)
    loc = s3.get_bucket_location(Bucket="alpha")
    assert loc.get("LocationConstraint") in (None, "")
    ver = s3.get_bucket_versioning(Bucket="alpha")
    assert "Status" not in ver
    s3.put_object(Bucket="alpha", Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="alpha")
    assert error_code(e) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket="alpha", Key="k")
    s3.delete_bucket(Bucket="alpha")
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="alpha")
    assert error_code(e)[1] == 404
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="alpha")
    assert error_code(e) == ("NoSuchBucket", 404)


def test_put_get_metadata_roundtrip(s3) -> None:
    s3.create_bucket(Bucket="bkt")
    body = os.urandom(300_000)
    put = s3.put_object(
        Bucket="bkt",
        Key="dir/obj.bin",
        Body=body,
        ContentType="application/x-test",
        CacheControl="max-age=60",
        ContentDisposition='attachment; filename="x.bin"',
        ContentEncoding="identity",
        ContentLanguage="en",
        Expires=datetime(2030, 1, 1, tzinfo=UTC),
        Metadata={"color": "blue", "Owner": "me"},
    )
    md5 = hashlib.md5(body).hexdigest()
    assert put["ETag"] == f'"{md5}"'
    got = s3.get_object(Bucket="bkt", Key="dir/obj.bin")
    assert got["Body"].read() == body
    assert got["ETag"] == f'"{md5}"'
    assert got["ContentType"] == "application/x-test"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == 'attachment; filename="x.bin"'
    assert got["ContentEncoding"] == "identity"
    assert got["ContentLanguage"] == "en"
    assert got["Metadata"] == {"color": "blue", "owner": "me"}
    assert got["ContentLength"] == len(body)
    head = s3.head_object(Bucket="bkt", Key="dir/obj.bin")
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == f'"{md5}"'
    assert head["AcceptRanges"] == "bytes"
    assert head["Metadata"] == {"color": "blue", "owner": "me"}
    assert abs((head["LastModified"] - datetime.now(UTC)).total_seconds()) < 60


def test_empty_object_and_overwrite(s3) -> None:
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="e", Body=b"")
    got = s3.get_object(Bucket="bkt", Key="e")
    assert got["Body"].read() == b""
    assert got["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    s3.put_object(Bucket="bkt", Key="e", Body=b"second")
    assert s3.get_object(Bucket="bkt", Key="e")["Body"].read() == b"second"


def test_content_md5_checked(s3) -> None:
    s3.create_bucket(Bucket="bkt")
    good = base64.b64encode(hashlib.md5(b"hello").digest()).decode()
    s3.put_object(Bucket="bkt", Key="ok", Body=b"hello", ContentMD5=good)
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="bkt", Key="bad", Body=b"hello", ContentMD5=bad)
    assert error_code(e) == ("BadDigest", 400)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="bkt", Key="bad")
    assert error_code(e)[1] == 404


def test_ranges(s3) -> None:
    s3.create_bucket(Bucket="bkt")
    body = bytes(range(256)) * 40  # 10240 bytes
    s3.put_object(Bucket="bkt", Key="r", Body=body)
    got = s3.get_object(Bucket="bkt", Key="r", Range="bytes=0-99")
    assert got["Body"].read() == body[:100]
    assert got["ContentRange"] == f"bytes 0-99/{len(body)}"
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    got = s3.get_object(Bucket="bkt", Key="r", Range="bytes=10000-")
    assert got["Body"].read() == body[10000:]
    got = s3.get_object(Bucket="bkt", Key="r", Range="bytes=-5")
    assert got["Body"].read() == body[-5:]
    got = s3.get_object(Bucket="bkt", Key="r", Range="bytes=10235-99999")
    assert got["Body"].read() == body[10235:]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="bkt", Key="r", Range="bytes=20000-30000")
    assert error_code(e) == ("InvalidRange", 416)
    # a malformed range is ignored, as AWS does
    got = s3.get_object(Bucket="bkt", Key="r", Range="bytes=abc")
    assert got["Body"].read() == body


def test_conditionals(s3) -> None:
    s3.create_bucket(Bucket="bkt")
    etag = s3.put_object(Bucket="bkt", Key="c", Body=b"data")["ETag"]
    assert s3.get_object(Bucket="bkt", Key="c", IfMatch=etag)["Body"].read() == b"data"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="bkt", Key="c", IfMatch='"0000"')
    assert error_code(e)[1] == 412
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="bkt", Key="c", IfNoneMatch=etag)
    assert error_code(e)[1] == 304
    future = datetime.now(UTC) + timedelta(days=1)
    past = datetime.now(UTC) - timedelta(days=1)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="bkt", Key="c", IfModifiedSince=future)
    assert error_code(e)[1] == 304
    assert s3.get_object(Bucket="bkt", Key="c", IfModifiedSince=past)["Body"].read() == b"data"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="bkt", Key="c", IfUnmodifiedSince=past)
    assert error_code(e)[1] == 412


def test_response_overrides(s3) -> None:
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="o", Body=b"x", ContentType="text/plain")
    got = s3.get_object(
        Bucket="bkt",
        Key="o",
        ResponseContentType="application/json",
        ResponseContentDisposition="inline",
        ResponseCacheControl="no-cache",
    )
    assert got["ContentType"] == "application/json"
    assert got["ContentDisposition"] == "inline"
    assert got["CacheControl"] == "no-cache"


def test_delete_missing_object_is_not_found(s3) -> None:
    # the seed's "Deleting nonexistent object": reported as not found
    s3.create_bucket(Bucket="bkt")
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket="bkt", Key="nope")
    assert error_code(e) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="bkt", Key="nope")
    assert error_code(e) == ("NoSuchKey", 404)


def test_list_objects_v2_paging_prefix_delimiter(s3) -> None:
    s3.create_bucket(Bucket="bkt")
    keys = [f"dir{d}/file{i:03d}" for d in range(3) for i in range(7)] + ["top1", "top2"]
    for k in keys:
        s3.put_object(Bucket="bkt", Key=k, Body=b"1")
    seen = []
    token = None
    while True:
        kwargs = {"Bucket": "bkt", "MaxKeys": 5}
        if token:
            kwargs["ContinuationToken"] = token
        page = s3.list_objects_v2(**kwargs)
        seen += [o["Key"] for o in page.get("Contents", [])]
        assert page["KeyCount"] == len(page.get("Contents", []))
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == sorted(keys)
    page = s3.list_objects_v2(Bucket="bkt", Delimiter="/")
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["dir0/", "dir1/", "dir2/"]
    assert [o["Key"] for o in page["Contents"]] == ["top1", "top2"]
    page = s3.list_objects_v2(Bucket="bkt", Prefix="dir1/", Delimiter="/")
    assert len(page["Contents"]) == 7 and "CommonPrefixes" not in page
    page = s3.list_objects_v2(Bucket="bkt", StartAfter="dir2/file005")
    assert [o["Key"] for o in page["Contents"]] == ["dir2/file006", "top1", "top2"]
    page = s3.list_objects_v2(Bucket="bkt", Prefix="top", FetchOwner=True)
    assert "Owner" in page["Contents"][0]
    obj = page["Contents"][0]
    assert obj["Size"] == 1 and obj["ETag"].startswith('"')


def test_list_objects_v1_markers(s3) -> None:
    s3.create_bucket(Bucket="bkt")
    for i in range(12):
        s3.put_object(Bucket="bkt", Key=f"k{i:02d}", Body=b"")
    page = s3.list_objects(Bucket="bkt", MaxKeys=5)
    assert page["IsTruncated"] and len(page["Contents"]) == 5
    page2 = s3.list_objects(Bucket="bkt", Marker=page["Contents"][-1]["Key"], MaxKeys=100)
    assert [o["Key"] for o in page2["Contents"]] == [f"k{i:02d}" for i in range(5, 12)]
    assert not page2["IsTruncated"]


def test_utf8_binary_order_and_url_encoding(s3) -> None:
    s3.create_bucket(Bucket="bkt")
    keys = ["a", "Z", "é", "ü/x", "日本", "a b", "a+b", "~"]
    for k in keys:
        s3.put_object(Bucket="bkt", Key=k, Body=k.encode())
    page = s3.list_objects_v2(Bucket="bkt")
    assert [o["Key"] for o in page["Contents"]] == sorted(keys, key=lambda k: k.encode())
    for k in keys:
        assert s3.get_object(Bucket="bkt", Key=k)["Body"].read() == k.encode()


def test_path_tricks_stay_inside(s3, node) -> None:
    s3.create_bucket(Bucket="bkt")
    tricky = ["../../etc/passwd", "a//b", "./x", "..", "a/../../b", "%2e%2e/x"]
    for k in tricky:
        s3.put_object(Bucket="bkt", Key=k, Body=k.encode())
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket="bkt")["Contents"]]
    assert sorted(listed) == sorted(tricky)
    for k in tricky:
        assert s3.get_object(Bucket="bkt", Key=k)["Body"].read() == k.encode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="bkt", Key="k" * 1025, Body=b"x")
    assert error_code(e) == ("KeyTooLongError", 400)
    # nothing escaped the node's data directory
    assert not (node.data_dir.parent / "etc").exists()


def test_unimplemented_subresource_never_falls_through(s3, node) -> None:
    import urllib.request

    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="k", Body=b"keep")
    for method, path in [
        ("DELETE", "/bkt?replication"),
        ("PUT", "/bkt?replication"),
        ("GET", "/bkt?website"),
        ("PUT", "/bkt?notification"),
    ]:
        req = urllib.request.Request(node.s3_url + path, method=method, data=b"<x/>")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req)
        assert e.value.code == 501, (method, path)
        assert b"<Code>NotImplemented</Code>" in e.value.read()
    assert s3.get_object(Bucket="bkt", Key="k")["Body"].read() == b"keep"
    s3.head_bucket(Bucket="bkt")


def test_error_document_shape(node) -> None:
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(node.s3_url + "/missing-bucket/key")
    assert e.value.code == 404
    body = e.value.read().decode()
    for tag in ("<Code>NoSuchBucket</Code>", "<Message>", "<Resource>", "<RequestId>"):
        assert tag in body
    assert e.value.headers["x-amz-request-id"] in body


def test_version_id_null_on_unversioned_bucket(s3) -> None:
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="k", Body=b"v")
    assert s3.get_object(Bucket="bkt", Key="k", VersionId="null")["Body"].read() == b"v"
    s3.head_object(Bucket="bkt", Key="k", VersionId="null")


def test_large_object_streams(s3) -> None:
    s3.create_bucket(Bucket="bkt")
    body = os.urandom(40 * 1024 * 1024 + 17)
    s3.put_object(Bucket="bkt", Key="big", Body=body)
    got = s3.get_object(Bucket="bkt", Key="big")["Body"].read()
    assert hashlib.md5(got).digest() == hashlib.md5(body).digest()
    part = s3.get_object(Bucket="bkt", Key="big", Range="bytes=8388600-8388700")["Body"].read()
    assert part == body[8388600:8388701]


def test_concurrent_puts_same_key(s3) -> None:
    from concurrent.futures import ThreadPoolExecutor

    s3.create_bucket(Bucket="bkt")
    bodies = [os.urandom(1000) for _ in range(16)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda b: s3.put_object(Bucket="bkt", Key="same", Body=b), bodies))
    assert s3.get_object(Bucket="bkt", Key="same")["Body"].read() in bodies
    time.sleep(0)
