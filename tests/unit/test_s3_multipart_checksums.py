"""Multipart checksums and the XML around them, sans-IO (aisfs/s3/checksums.py, xml.py)."""

from __future__ import annotations

import base64
import hashlib
import os
import random
import zlib

import pytest
from awscrt import checksums as crt  # type: ignore[import-untyped]

from aisfs.errors import S3Error
from aisfs.s3 import checksums
from aisfs.s3 import xml as s3xml


def _crc(alg: str, data: bytes) -> int:
    return {"crc32": zlib.crc32, "crc32c": crt.crc32c, "crc64nvme": crt.crc64nvme}[alg](data)


@pytest.mark.parametrize("alg", ["crc32", "crc32c", "crc64nvme"])
def test_combine_matches_a_crc_of_the_whole(alg: str) -> None:
    rng = random.Random(alg)
    for _ in range(50):
        a = os.urandom(rng.randrange(0, 3000))
        b = os.urandom(rng.randrange(0, 3000))
        assert checksums.combine_crc(alg, _crc(alg, a), _crc(alg, b), len(b)) == _crc(alg, a + b)


@pytest.mark.parametrize("alg", ["crc32", "crc32c", "crc64nvme"])
def test_full_object_of_random_parts(alg: str) -> None:
    parts = [os.urandom(n) for n in (1, 5000, 0, 77, 4096)]
    size = checksums.DIGEST_SIZES[alg]
    sums = [(base64.b64encode(_crc(alg, p).to_bytes(size, "big")).decode(), len(p)) for p in parts]
    whole = base64.b64encode(_crc(alg, b"".join(parts)).to_bytes(size, "big")).decode()
    assert checksums.full_object_checksum(alg, sums) == whole


def test_composite_is_the_checksum_of_the_part_checksums() -> None:
    parts = [b"one", b"two", b"three"]
    raw = [hashlib.sha256(p).digest() for p in parts]
    want = base64.b64encode(hashlib.sha256(b"".join(raw)).digest()).decode() + "-3"
    got = checksums.composite_checksum("sha256", [base64.b64encode(r).decode() for r in raw])
    assert got == want
    # a known value: 5 MiB of "A" then "tail" (CRC32)
    assert checksums.composite_checksum("crc32", ["JRTCyQ==", "fDe0XQ=="]) == "ar6UVw==-2"
    assert checksums.full_object_checksum(
        "crc32", [("JRTCyQ==", 5 * 1024 * 1024), ("fDe0XQ==", 4)]
    ) == "gPNU7Q=="


@pytest.mark.parametrize(
    ("alg", "kind", "want"),
    [
        (None, None, None),
        ("", "", None),
        ("CRC32", None, ("crc32", "COMPOSITE")),
        ("crc32c", "full_object", ("crc32c", "FULL_OBJECT")),
        ("CRC64NVME", None, ("crc64nvme", "FULL_OBJECT")),
        ("CRC64NVME", "FULL_OBJECT", ("crc64nvme", "FULL_OBJECT")),
        ("SHA1", None, ("sha1", "COMPOSITE")),
        ("SHA256", "COMPOSITE", ("sha256", "COMPOSITE")),
    ],
)
def test_multipart_checksum_accepted(alg: str | None, kind: str | None,
                                     want: tuple[str, str] | None) -> None:
    assert checksums.multipart_checksum(alg, kind) == want


@pytest.mark.parametrize(
    ("alg", "kind", "message"),
    [
        ("SHA1", "FULL_OBJECT", "The FULL_OBJECT checksum type cannot be used with the sha1"),
        ("SHA256", "FULL_OBJECT", "The FULL_OBJECT checksum type cannot be used with the sha256"),
        ("CRC64NVME", "COMPOSITE", "The COMPOSITE checksum type cannot be used with the crc64"),
        (None, "COMPOSITE", "The x-amz-checksum-type header can only be used with"),
        ("CRC32", "PARTS", "Value for x-amz-checksum-type header is invalid."),
        ("MD5", None, "Checksum algorithm provided is unsupported."),
    ],
)
def test_multipart_checksum_refused(alg: str | None, kind: str, message: str) -> None:
    with pytest.raises(S3Error) as e:
        checksums.multipart_checksum(alg, kind)
    assert e.value.code == "InvalidRequest" and e.value.message.startswith(message)


def test_completion_checksum_takes_the_composite_form() -> None:
    assert checksums.completion_checksum({"x-amz-checksum-sha256": "abc=-2"}) == {
        "sha256": "abc=-2"
    }
    assert checksums.completion_checksum({"x-amz-checksum-type": "COMPOSITE"}) == {}
    for bad in ({"x-amz-checksum-md4": "x"},
                {"x-amz-checksum-crc32": "a", "x-amz-checksum-sha1": "b"}):
        with pytest.raises(S3Error) as e:
            checksums.completion_checksum(bad)
        assert e.value.code == "InvalidRequest"


def test_parse_completed_parts_with_checksums() -> None:
    body = (
        b'<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Part><PartNumber>1</PartNumber><ETag>\"e1\"</ETag>"
        b"<ChecksumCRC32> AAAAAA== </ChecksumCRC32></Part>"
        b"<Part><PartNumber>2</PartNumber><ETag>e2</ETag></Part>"
        b"</CompleteMultipartUpload>"
    )
    parts = s3xml.parse_completed_parts(body)
    assert [(p.number, p.etag, dict(p.checksums)) for p in parts] == [
        (1, "e1", {"crc32": "AAAAAA=="}), (2, "e2", {})
    ]
    assert s3xml.parse_complete_multipart_upload(body) == [(1, "e1"), (2, "e2")]


def test_tags_are_sorted_by_key() -> None:
    body = s3xml.tagging({"zeta": "1", "alpha": "2", "Mid": "3"})
    keys = [k.decode() for k in __import__("re").findall(rb"<Key>([^<]*)</Key>", body)]
    assert keys == ["Mid", "alpha", "zeta"]


def test_object_attributes_parts_and_checksum_type() -> None:
    page = s3xml.PartsPage(
        total=3, parts=[s3xml.ObjectPart(2, 10, {"crc32": "AAAAAA=="})], marker=1, max_parts=1,
        is_truncated=True,
    )
    body = s3xml.object_attributes(["Checksum", "ObjectParts"], "e-3", 30,
                                   checksums={"crc32": "BBBBBB==-3"}, checksum_type="COMPOSITE",
                                   parts=page).decode()
    assert "<ChecksumCRC32>BBBBBB==-3</ChecksumCRC32><ChecksumType>COMPOSITE</ChecksumType>" in body
    assert "<PartsCount>3</PartsCount>" in body and "<IsTruncated>true</IsTruncated>" in body
    assert ("<Part><PartNumber>2</PartNumber><Size>10</Size>"
            "<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>") in body
    assert "<NextPartNumberMarker>2</NextPartNumberMarker>" in body
