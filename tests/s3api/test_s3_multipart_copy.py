"""Multipart uploads, copies, multi-object delete and flexible checksums, with boto3."""

from __future__ import annotations

import base64
import hashlib
import os
import time
import zlib

import pytest
from botocore.exceptions import ClientError

MiB = 1024 * 1024


def code_of(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def test_multipart_roundtrip_etag_and_metadata(s3) -> None:
    s3.create_bucket(Bucket="mpu")
    up = s3.create_multipart_upload(
        Bucket="mpu", Key="big", ContentType="video/x-test", Metadata={"kind": "movie"}
    )
    uid = up["UploadId"]
    parts_data = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1234)]
    parts = []
    for n, data in enumerate(parts_data, 1):
        r = s3.upload_part(Bucket="mpu", Key="big", UploadId=uid, PartNumber=n, Body=data)
        assert r["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    listed = s3.list_parts(Bucket="mpu", Key="big", UploadId=uid)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
    assert [p["Size"] for p in listed["Parts"]] == [len(d) for d in parts_data]
    uploads = s3.list_multipart_uploads(Bucket="mpu")
    assert [u["UploadId"] for u in uploads["Uploads"]] == [uid]
    done = s3.complete_multipart_upload(
        Bucket="mpu", Key="big", UploadId=uid, MultipartUpload={"Parts": parts}
    )
    md5s = b"".join(hashlib.md5(d).digest() for d in parts_data)
    expected_etag = f'"{hashlib.md5(md5s).hexdigest()}-3"'
    assert done["ETag"] == expected_etag
    got = s3.get_object(Bucket="mpu", Key="big")
    assert got["ETag"] == expected_etag
    assert got["ContentType"] == "video/x-test"
    assert got["Metadata"] == {"kind": "movie"}
    assert got["Body"].read() == b"".join(parts_data)
    part2 = s3.get_object(Bucket="mpu", Key="big", PartNumber=2)
    assert part2["Body"].read() == parts_data[1]
    assert part2["PartsCount"] == 3
    assert s3.list_multipart_uploads(Bucket="mpu").get("Uploads", []) == []


def test_multipart_errors(s3) -> None:
    s3.create_bucket(Bucket="mpe")
    uid = s3.create_multipart_upload(Bucket="mpe", Key="k")["UploadId"]
    small = s3.upload_part(Bucket="mpe", Key="k", UploadId=uid, PartNumber=1, Body=b"a" * 100)
    last = s3.upload_part(Bucket="mpe", Key="k", UploadId=uid, PartNumber=2, Body=b"b")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket="mpe", Key="k", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": small["ETag"]},
                                       {"PartNumber": 2, "ETag": last["ETag"]}]},
        )
    assert code_of(e) == ("EntityTooSmall", 400)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket="mpe", Key="k", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"' + '0' * 32 + '"'}]},
        )
    assert code_of(e) == ("InvalidPart", 400)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket="mpe", Key="k", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": last["ETag"]},
                                       {"PartNumber": 1, "ETag": small["ETag"]}]},
        )
    assert code_of(e) == ("InvalidPartOrder", 400)
    s3.abort_multipart_upload(Bucket="mpe", Key="k", UploadId=uid)
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket="mpe", Key="k", UploadId=uid)
    assert code_of(e) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket="mpe", Key="k", UploadId="nope", PartNumber=1, Body=b"x")
    assert code_of(e) == ("NoSuchUpload", 404)


def test_upload_part_copy_with_range(s3) -> None:
    s3.create_bucket(Bucket="upc")
    src = os.urandom(6 * MiB)
    s3.put_object(Bucket="upc", Key="src", Body=src)
    uid = s3.create_multipart_upload(Bucket="upc", Key="dst")["UploadId"]
    p1 = s3.upload_part_copy(Bucket="upc", Key="dst", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": "upc", "Key": "src"},
                             CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    p2 = s3.upload_part_copy(Bucket="upc", Key="dst", UploadId=uid, PartNumber=2,
                             CopySource="upc/src", CopySourceRange="bytes=100-199")
    s3.complete_multipart_upload(
        Bucket="upc", Key="dst", UploadId=uid,
        MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]},
        ]},
    )
    got = s3.get_object(Bucket="upc", Key="dst")["Body"].read()
    assert got == src[: 5 * MiB] + src[100:200]


def test_complete_1000_parts_is_fast(tmp_path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from support.clients import s3_client
    from support.node import new_node

    node = new_node(tmp_path, config="[store]\nmin_part_size = 1\n").start()
    try:
        s3 = s3_client(node.s3_url, max_pool_connections=16)
        s3.create_bucket(Bucket="many")
        uid = s3.create_multipart_upload(Bucket="many", Key="k")["UploadId"]

        def put(n: int) -> dict:
            body = n.to_bytes(4, "big") * 64
            r = s3.upload_part(Bucket="many", Key="k", UploadId=uid, PartNumber=n, Body=body)
            return {"PartNumber": n, "ETag": r["ETag"]}

        with ThreadPoolExecutor(8) as pool:
            parts = list(pool.map(put, range(1, 1001)))
        t = time.perf_counter()
        s3.complete_multipart_upload(Bucket="many", Key="k", UploadId=uid,
                                     MultipartUpload={"Parts": parts})
        print(f"completing 1,000 parts took {time.perf_counter() - t:.3f}s")
        body = s3.get_object(Bucket="many", Key="k")["Body"].read()
        assert body == b"".join(n.to_bytes(4, "big") * 64 for n in range(1, 1001))
    finally:
        assert node.stop() == 0, node.log()


def test_copy_object_directives_and_conditions(s3) -> None:
    s3.create_bucket(Bucket="cpa")
    s3.create_bucket(Bucket="cpb")
    etag = s3.put_object(Bucket="cpa", Key="src", Body=b"payload", ContentType="text/plain",
                         Metadata={"m": "1"})["ETag"]
    r = s3.copy_object(Bucket="cpb", Key="dst", CopySource={"Bucket": "cpa", "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == etag
    head = s3.head_object(Bucket="cpb", Key="dst")
    assert head["Metadata"] == {"m": "1"} and head["ContentType"] == "text/plain"
    s3.copy_object(Bucket="cpa", Key="src", CopySource="cpa/src", MetadataDirective="REPLACE",
                   Metadata={"m": "2"}, ContentType="application/json")
    head = s3.head_object(Bucket="cpa", Key="src")
    assert head["Metadata"] == {"m": "2"} and head["ContentType"] == "application/json"
    assert s3.get_object(Bucket="cpa", Key="src")["Body"].read() == b"payload"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="cpa", Key="src", CopySource="cpa/src")
    assert code_of(e) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="cpb", Key="x", CopySource="cpa/src", CopySourceIfMatch='"bad"')
    assert code_of(e)[1] == 412
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="cpb", Key="x", CopySource="cpa/missing")
    assert code_of(e) == ("NoSuchKey", 404)


def test_delete_objects(s3) -> None:
    s3.create_bucket(Bucket="dels")
    for i in range(30):
        s3.put_object(Bucket="dels", Key=f"k{i}", Body=b"x")
    keys = [{"Key": f"k{i}"} for i in range(30)] + [{"Key": "never-existed"}]
    r = s3.delete_objects(Bucket="dels", Delete={"Objects": keys})
    assert len(r["Deleted"]) == 31 and not r.get("Errors")
    assert s3.list_objects_v2(Bucket="dels")["KeyCount"] == 0
    s3.put_object(Bucket="dels", Key="q", Body=b"x")
    r = s3.delete_objects(Bucket="dels", Delete={"Objects": [{"Key": "q"}], "Quiet": True})
    assert "Deleted" not in r


def test_delete_objects_many_keys_side_by_side(s3) -> None:
    """A DeleteObjects of 1,000 keys (S3's most) deletes them side by side: every one
    answered once, in the request's order, all gone; a key named twice is answered twice."""
    s3.create_bucket(Bucket="delmany")
    for i in range(0, 999, 3):
        s3.put_object(Bucket="delmany", Key=f"k{i:04}", Body=b"x")
    keys = [{"Key": f"k{i:04}"} for i in range(999)] + [{"Key": "k0003"}]
    r = s3.delete_objects(Bucket="delmany", Delete={"Objects": keys})
    assert [d["Key"] for d in r["Deleted"]] == [k["Key"] for k in keys] and not r.get("Errors")
    assert s3.list_objects_v2(Bucket="delmany")["KeyCount"] == 0
    for i in range(0, 500, 5):
        s3.put_object(Bucket="delmany", Key=f"k{i:04}", Body=b"x")
    keys = keys[:500]  # distinct keys: deleted side by side
    r = s3.delete_objects(Bucket="delmany", Delete={"Objects": keys})
    assert [d["Key"] for d in r["Deleted"]] == [k["Key"] for k in keys] and not r.get("Errors")
    assert s3.list_objects_v2(Bucket="delmany")["KeyCount"] == 0


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"])
def test_flexible_checksums_roundtrip(s3, algorithm: str) -> None:
    bucket = "cks-" + algorithm.lower()
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(70_000)
    r = s3.put_object(Bucket=bucket, Key="k", Body=body, ChecksumAlgorithm=algorithm)
    field = f"Checksum{algorithm}"
    assert r[field]
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head[field] == r[field]
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got["Body"].read() == body and got[field] == r[field]


def test_bad_checksum_is_bad_digest(s3) -> None:
    s3.create_bucket(Bucket="badck")
    wrong = base64.b64encode(zlib.crc32(b"other").to_bytes(4, "big")).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="badck", Key="k", Body=b"hello", ChecksumCRC32=wrong)
    assert code_of(e) == ("BadDigest", 400)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="badck", Key="k")
    assert code_of(e)[1] == 404


def test_conditional_writes(s3) -> None:
    s3.create_bucket(Bucket="cond")
    s3.put_object(Bucket="cond", Key="k", Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="cond", Key="k", Body=b"2", IfNoneMatch="*")
    assert code_of(e)[1] == 412
    etag = s3.head_object(Bucket="cond", Key="k")["ETag"]
    s3.put_object(Bucket="cond", Key="k", Body=b"3", IfMatch=etag)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="cond", Key="k", Body=b"4", IfMatch=etag)
    assert code_of(e)[1] == 412
    assert s3.get_object(Bucket="cond", Key="k")["Body"].read() == b"3"


def test_abandoned_uploads_are_reclaimed(tmp_path) -> None:
    from support.clients import s3_client
    from support.node import new_node

    node = new_node(tmp_path, config="[store]\ngc_interval = 0.5\nupload_max_age = 1.0\n").start()
    try:
        s3 = s3_client(node.s3_url)
        s3.create_bucket(Bucket="old")
        uid = s3.create_multipart_upload(Bucket="old", Key="k")["UploadId"]
        s3.upload_part(Bucket="old", Key="k", UploadId=uid, PartNumber=1, Body=b"x" * 1000)
        deadline = time.monotonic() + 15
        while s3.list_multipart_uploads(Bucket="old").get("Uploads"):
            assert time.monotonic() < deadline, "upload was not reclaimed"
            time.sleep(0.3)
        with pytest.raises(ClientError) as e:
            s3.list_parts(Bucket="old", Key="k", UploadId=uid)
        assert code_of(e) == ("NoSuchUpload", 404)
    finally:
        assert node.stop() == 0, node.log()
