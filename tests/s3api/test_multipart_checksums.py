"""Multipart checksums (issue 15 item 6) against a real node with boto3 (>= 1.36 sends
checksums by default), open auth and SigV4: CreateMultipartUpload's ChecksumAlgorithm and
ChecksumType, each part's checksum (computed, returned, listed), CompleteMultipartUpload's
checks, the COMPOSITE ``xxxx-N`` and FULL_OBJECT values on HEAD/GET with checksum mode and
in GetObjectAttributes' ObjectParts, and ``upload_file`` past the multipart threshold.
The expected values are computed here from the bytes (a FULL_OBJECT CRC over the whole
object, not combined), independently of the node's code."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from awscrt import checksums as crt  # type: ignore[import-untyped]
from botocore.exceptions import ClientError

from support.clients import s3_client
from support.node import NodeProcess, new_node

SIGV4 = """
[auth]
mode = "sigv4"
access_keys = { AKIDSUMS = "sums-secret" }
"""
PART = 5 * 1024 * 1024
ELEMENT = {"crc32": "ChecksumCRC32", "crc32c": "ChecksumCRC32C",
           "crc64nvme": "ChecksumCRC64NVME", "sha1": "ChecksumSHA1", "sha256": "ChecksumSHA256"}


def digest(alg: str, data: bytes) -> bytes:
    if alg == "crc32":
        return zlib.crc32(data).to_bytes(4, "big")
    if alg == "crc32c":
        return int(crt.crc32c(data)).to_bytes(4, "big")
    if alg == "crc64nvme":
        return int(crt.crc64nvme(data)).to_bytes(8, "big")
    return hashlib.new(alg, data).digest()


def b64(alg: str, data: bytes) -> str:
    return base64.b64encode(digest(alg, data)).decode()


def composite(alg: str, parts: list[bytes]) -> str:
    whole = b"".join(digest(alg, p) for p in parts)
    return f"{base64.b64encode(digest(alg, whole)).decode()}-{len(parts)}"


@pytest.fixture(params=["open", "sigv4"])
def s3(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    import boto3
    from botocore.config import Config

    sig = request.param == "sigv4"
    node: NodeProcess = new_node(tmp_path, config=SIGV4 if sig else None).start()
    try:
        if sig:
            client = boto3.client(
                "s3", endpoint_url=node.s3_url, region_name="us-east-1",
                aws_access_key_id="AKIDSUMS", aws_secret_access_key="sums-secret",
                config=Config(retries={"max_attempts": 1}),
            )
        else:
            client = s3_client(node.s3_url)
        client.create_bucket(Bucket="sums")
        yield client
    finally:
        assert node.stop() == 0
        assert "Traceback" not in node.log()


def code_of(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


CASES = [
    ("CRC32", None, "COMPOSITE"),
    ("CRC32", "FULL_OBJECT", "FULL_OBJECT"),
    ("CRC32C", "COMPOSITE", "COMPOSITE"),
    ("CRC32C", "FULL_OBJECT", "FULL_OBJECT"),
    ("CRC64NVME", None, "FULL_OBJECT"),
    ("SHA1", None, "COMPOSITE"),
    ("SHA256", "COMPOSITE", "COMPOSITE"),
]


@pytest.mark.parametrize(("algorithm", "asked", "kind"), CASES)
def test_explicit_upload_with_a_checksum(s3: Any, algorithm: str, asked: str | None,
                                         kind: str) -> None:
    alg = algorithm.lower()
    el = ELEMENT[alg]
    contents = [os.urandom(PART), os.urandom(1000)]
    extra = {"ChecksumType": asked} if asked else {}
    created = s3.create_multipart_upload(
        Bucket="sums", Key="k", ChecksumAlgorithm=algorithm, **extra
    )
    assert created["ChecksumAlgorithm"] == algorithm and created["ChecksumType"] == kind
    up = created["UploadId"]
    parts = []
    for n, data in enumerate(contents, start=1):
        # the first part with its checksum, the second without: the node computes it
        sent = {el: b64(alg, data)} if n == 1 else {}
        r = s3.upload_part(Bucket="sums", Key="k", UploadId=up, PartNumber=n, Body=data,
                           ChecksumAlgorithm=algorithm, **sent)
        assert r[el] == b64(alg, data)
        parts.append({"PartNumber": n, "ETag": r["ETag"], el: b64(alg, data)})
    listed = s3.list_parts(Bucket="sums", Key="k", UploadId=up)
    assert listed["ChecksumAlgorithm"] == algorithm and listed["ChecksumType"] == kind
    assert [p[el] for p in listed["Parts"]] == [b64(alg, d) for d in contents]
    uploads = s3.list_multipart_uploads(Bucket="sums")["Uploads"]
    assert uploads[0]["ChecksumAlgorithm"] == algorithm and uploads[0]["ChecksumType"] == kind

    whole = b"".join(contents)
    want = composite(alg, contents) if kind == "COMPOSITE" else b64(alg, whole)
    done = s3.complete_multipart_upload(
        Bucket="sums", Key="k", UploadId=up, MultipartUpload={"Parts": parts},
        ChecksumType=kind, **{el: want},
    )
    assert done[el] == want and done["ChecksumType"] == kind

    head = s3.head_object(Bucket="sums", Key="k")
    assert el not in head
    head = s3.head_object(Bucket="sums", Key="k", ChecksumMode="ENABLED")
    assert head[el] == want and head["ChecksumType"] == kind
    got = s3.get_object(Bucket="sums", Key="k", ChecksumMode="ENABLED")
    assert got[el] == want and got["ChecksumType"] == kind
    assert got["Body"].read() == whole
    second = s3.get_object(Bucket="sums", Key="k", PartNumber=2, ChecksumMode="ENABLED")
    assert second[el] == b64(alg, contents[1]) and second["Body"].read() == contents[1]

    attrs = s3.get_object_attributes(
        Bucket="sums", Key="k", ObjectAttributes=["Checksum", "ObjectParts", "ETag", "ObjectSize"]
    )
    assert attrs["Checksum"][el] == want and attrs["Checksum"]["ChecksumType"] == kind
    assert attrs["ObjectSize"] == len(whole)
    op = attrs["ObjectParts"]
    assert op["TotalPartsCount"] == 2 and op["IsTruncated"] is False
    assert [(p["PartNumber"], p["Size"], p[el]) for p in op["Parts"]] == [
        (n, len(d), b64(alg, d)) for n, d in enumerate(contents, start=1)
    ]
    page = s3.get_object_attributes(
        Bucket="sums", Key="k", ObjectAttributes=["ObjectParts"], MaxParts=1,
        PartNumberMarker=1,
    )["ObjectParts"]
    assert [p["PartNumber"] for p in page["Parts"]] == [2]


@pytest.mark.parametrize(
    ("algorithm", "kind", "message"),
    [
        ("SHA1", "FULL_OBJECT", "The FULL_OBJECT checksum type cannot be used with the sha1 "
                                "checksum algorithm."),
        ("SHA256", "FULL_OBJECT", "The FULL_OBJECT checksum type cannot be used with the sha256 "
                                  "checksum algorithm."),
        ("CRC64NVME", "COMPOSITE", "The COMPOSITE checksum type cannot be used with the crc64nvme "
                                   "checksum algorithm."),
        (None, "COMPOSITE", "The x-amz-checksum-type header can only be used with the "
                            "x-amz-checksum-algorithm header."),
    ],
)
def test_refused_combinations(s3: Any, algorithm: str | None, kind: str, message: str) -> None:
    args = {"ChecksumAlgorithm": algorithm} if algorithm else {}
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket="sums", Key="k", ChecksumType=kind, **args)
    assert code_of(e) == ("InvalidRequest", 400, message)
    assert s3.list_multipart_uploads(Bucket="sums").get("Uploads", []) == []


def test_complete_checks_the_checksums(s3: Any) -> None:
    up = s3.create_multipart_upload(Bucket="sums", Key="k", ChecksumAlgorithm="SHA256")["UploadId"]
    one, two = os.urandom(PART), b"two"
    # a part's checksum of another algorithm than the upload's
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket="sums", Key="k", UploadId=up, PartNumber=1, Body=one,
                       ChecksumCRC32=b64("crc32", one))
    assert code_of(e) == (
        "InvalidRequest", 400,
        "Checksum Type mismatch occurred, expected checksum Type: sha256, actual checksum "
        "Type: crc32",
    )
    with pytest.raises(ClientError) as e:  # a wrong value
        s3.upload_part(Bucket="sums", Key="k", UploadId=up, PartNumber=1, Body=one,
                       ChecksumSHA256=b64("sha256", two))
    assert code_of(e)[:2] == ("BadDigest", 400)
    etags = [
        s3.upload_part(Bucket="sums", Key="k", UploadId=up, PartNumber=n, Body=d,
                       ChecksumAlgorithm="SHA256")["ETag"]
        for n, d in ((1, one), (2, two))
    ]
    good = [{"PartNumber": n, "ETag": t, "ChecksumSHA256": b64("sha256", d)}
            for n, t, d in ((1, etags[0], one), (2, etags[1], two))]

    def complete(parts: list[dict[str, Any]], **kw: Any) -> Any:
        return s3.complete_multipart_upload(Bucket="sums", Key="k", UploadId=up,
                                            MultipartUpload={"Parts": parts}, **kw)

    with pytest.raises(ClientError) as e:  # a part's checksum that is not its own
        complete([{**good[0], "ChecksumSHA256": b64("sha256", two)}, good[1]])
    assert code_of(e)[:2] == ("InvalidPart", 400)
    with pytest.raises(ClientError) as e:  # COMPOSITE: each part's checksum is required
        complete([{"PartNumber": 1, "ETag": etags[0]}, good[1]])
    assert code_of(e) == (
        "InvalidRequest", 400,
        "The upload was created using a sha256 checksum. The complete request must include "
        "the checksum for each part. It was missing for part 1 in the request.",
    )
    with pytest.raises(ClientError) as e:  # the object's checksum, wrong
        complete(good, ChecksumSHA256=b64("sha256", b"x") + "-2")
    assert code_of(e) == (
        "BadDigest", 400, "The SHA256 you specified did not match the calculated checksum."
    )
    with pytest.raises(ClientError) as e:  # another mode than the upload's
        complete(good, ChecksumType="FULL_OBJECT")
    assert code_of(e) == (
        "BadDigest", 400,
        "The upload was created using the COMPOSITE checksum mode. The complete request must "
        "use the same checksum mode.",
    )
    # every refusal left the upload in progress
    assert len(s3.list_parts(Bucket="sums", Key="k", UploadId=up)["Parts"]) == 2
    done = complete(good)
    assert done["ChecksumSHA256"] == composite("sha256", [one, two])
    # a retry answers the same, checksum included
    assert complete(good)["ChecksumSHA256"] == done["ChecksumSHA256"]


def test_full_object_checks_the_whole(s3: Any) -> None:
    up = s3.create_multipart_upload(Bucket="sums", Key="f", ChecksumAlgorithm="CRC32C",
                                    ChecksumType="FULL_OBJECT")["UploadId"]
    data = [os.urandom(PART), os.urandom(PART), os.urandom(7)]
    parts = [
        {"PartNumber": n, "ETag": s3.upload_part(Bucket="sums", Key="f", UploadId=up,
                                                 PartNumber=n, Body=d,
                                                 ChecksumAlgorithm="CRC32C")["ETag"]}
        for n, d in enumerate(data, start=1)
    ]  # FULL_OBJECT: the parts' checksums may be left out of the completion
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="sums", Key="f", UploadId=up,
                                     MultipartUpload={"Parts": parts},
                                     ChecksumCRC32C=b64("crc32c", b"not it"))
    assert code_of(e)[:2] == ("BadDigest", 400)
    done = s3.complete_multipart_upload(Bucket="sums", Key="f", UploadId=up,
                                        MultipartUpload={"Parts": parts})
    assert done["ChecksumCRC32C"] == b64("crc32c", b"".join(data))
    assert done["ChecksumType"] == "FULL_OBJECT"


def test_upload_part_copy_gives_the_parts_checksum(s3: Any) -> None:
    src = os.urandom(PART + 10)
    s3.put_object(Bucket="sums", Key="src", Body=src)
    up = s3.create_multipart_upload(Bucket="sums", Key="c", ChecksumAlgorithm="CRC32")["UploadId"]
    r = s3.upload_part_copy(Bucket="sums", Key="c", UploadId=up, PartNumber=1,
                            CopySource={"Bucket": "sums", "Key": "src"},
                            CopySourceRange=f"bytes=0-{PART - 1}")
    assert r["CopyPartResult"]["ChecksumCRC32"] == b64("crc32", src[:PART])
    parts = s3.list_parts(Bucket="sums", Key="c", UploadId=up)["Parts"]
    assert parts[0]["ChecksumCRC32"] == b64("crc32", src[:PART])


@pytest.mark.parametrize("algorithm", [None, "SHA256"])
def test_upload_file_past_the_multipart_threshold(s3: Any, tmp_path: Path,
                                                  algorithm: str | None) -> None:
    """boto3's transfer manager: multipart with its default checksum (CRC32) or one asked;
    the object reads back whole and its checksum is the composite of the parts'."""
    from boto3.s3.transfer import TransferConfig

    data = os.urandom(2 * PART + 123)
    src = tmp_path / "big"
    src.write_bytes(data)
    cfg = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART)
    extra = {"ChecksumAlgorithm": algorithm} if algorithm else None
    s3.upload_file(str(src), "sums", "big", Config=cfg, ExtraArgs=extra)
    dst = tmp_path / "back"
    s3.download_file("sums", "big", str(dst), Config=cfg)
    assert dst.read_bytes() == data
    head = s3.head_object(Bucket="sums", Key="big", ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-3"')
    alg = (algorithm or "CRC32").lower()
    pieces = [data[i:i + PART] for i in range(0, len(data), PART)]
    kind = head.get("ChecksumType")
    want = composite(alg, pieces) if kind == "COMPOSITE" else b64(alg, data)
    assert head[ELEMENT[alg]] == want
