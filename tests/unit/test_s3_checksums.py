from __future__ import annotations

import base64
import hashlib
import os
import zlib

import pytest
from botocore import httpchecksum

from aisfs.errors import S3Error
from aisfs.s3.checksums import (
    checksum_headers,
    is_valid_b64,
    new_hasher,
    new_hashers,
    trailer_algorithm,
    trailer_checksums,
    update_all,
    verify,
)

CHECK = b"123456789"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("alg", "value"),
    [  # the "check" values of the CRC catalogue (reveng.sourceforge.io/crc-catalogue)
        ("crc32", 0xCBF43926),
        ("crc32c", 0xE3069283),
        ("crc64nvme", 0xAE8B14860A799888),
    ],
)
def test_crc_published_check_values(alg: str, value: int) -> None:
    h = new_hasher(alg)
    h.update(CHECK)
    size = 8 if alg == "crc64nvme" else 4
    assert h.digest() == value.to_bytes(size, "big")
    assert h.digest_b64() == b64(value.to_bytes(size, "big"))


def test_crc32_of_hello_world_as_boto3_sends_it() -> None:
    h = new_hasher("CRC32")
    h.update(b"hello world")
    assert h.digest_b64() == "DUoRhQ=="


@pytest.mark.parametrize("alg", ["md5", "sha1", "sha256"])
def test_hashes_match_hashlib(alg: str) -> None:
    data = os.urandom(10_000)
    h = new_hasher(alg)
    for i in range(0, len(data), 777):
        h.update(memoryview(data)[i : i + 777])
    assert h.digest() == hashlib.new(alg, data).digest()


BOTO = {
    "crc32": httpchecksum.Crc32Checksum,
    "crc32c": httpchecksum.CrtCrc32cChecksum,
    "crc64nvme": httpchecksum.CrtCrc64NvmeChecksum,
    "sha1": httpchecksum.Sha1Checksum,
    "sha256": httpchecksum.Sha256Checksum,
}


@pytest.mark.parametrize("alg", sorted(BOTO))
@pytest.mark.parametrize("size", [0, 1, 1000, 70_000])
def test_incremental_matches_botocore(alg: str, size: int) -> None:
    data = os.urandom(size)
    h = new_hasher(alg)
    for i in range(0, len(data), 4096):
        h.update(data[i : i + 4096])
    h.update(b"")
    boto = BOTO[alg]()
    boto.update(data)
    assert h.digest_b64() == boto.b64digest()


def test_crc32_matches_zlib() -> None:
    data = os.urandom(5000)
    h = new_hasher("crc32")
    h.update(data[:10])
    h.update(bytearray(data[10:]))
    assert h.digest() == zlib.crc32(data).to_bytes(4, "big")


def test_new_hasher_unknown() -> None:
    with pytest.raises(S3Error) as exc:
        new_hasher("crc16")
    assert exc.value.code == "InvalidRequest"


def test_checksum_headers() -> None:
    assert checksum_headers({}) == {}
    md5 = b64(hashlib.md5(b"x").digest())
    got = checksum_headers(
        {
            "X-Amz-Checksum-CRC32": "DUoRhQ==",
            "x-amz-sdk-checksum-algorithm": "CRC32",
            "Content-MD5": md5,
            "x-amz-checksum-mode": "ENABLED",
            "x-amz-checksum-type": "FULL_OBJECT",
        }
    )
    assert got == {"crc32": "DUoRhQ==", "md5": md5}


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"x-amz-checksum-crc32": "not base64!"}, "InvalidRequest"),
        ({"x-amz-checksum-crc32": "AAAAAAAA"}, "InvalidRequest"),  # 6 bytes
        ({"x-amz-checksum-sha256": b64(b"x" * 31)}, "InvalidRequest"),
        ({"x-amz-checksum-crc16": "AAA="}, "InvalidRequest"),
        (
            {"x-amz-checksum-crc32": "DUoRhQ==", "x-amz-checksum-crc32c": "DUoRhQ=="},
            "InvalidRequest",
        ),
        ({"x-amz-sdk-checksum-algorithm": "MD4"}, "InvalidRequest"),
        (
            {"x-amz-sdk-checksum-algorithm": "SHA1", "x-amz-checksum-crc32": "DUoRhQ=="},
            "InvalidRequest",
        ),
        ({"Content-MD5": "abc"}, "InvalidDigest"),
        ({"Content-MD5": b64(b"x" * 15)}, "InvalidDigest"),
    ],
)
def test_checksum_headers_invalid(headers: dict[str, str], code: str) -> None:
    with pytest.raises(S3Error) as exc:
        checksum_headers(headers)
    assert exc.value.code == code


def test_trailer_algorithm_and_values() -> None:
    assert trailer_algorithm({}) is None
    assert trailer_algorithm({"X-Amz-Trailer": "x-amz-checksum-crc64nvme"}) == "crc64nvme"
    with pytest.raises(S3Error):
        trailer_algorithm({"x-amz-trailer": "x-amz-foo"})
    with pytest.raises(S3Error):
        trailer_algorithm({"x-amz-trailer": "x-amz-checksum-crc32,x-amz-checksum-sha1"})
    assert trailer_checksums({"x-amz-checksum-crc32": "DUoRhQ==", "other": "x"}) == {
        "crc32": "DUoRhQ=="
    }
    with pytest.raises(S3Error):
        trailer_checksums({"x-amz-checksum-crc32": "zz"})


def test_verify() -> None:
    data = b"hello world"
    expected = {"crc32": "DUoRhQ==", "md5": b64(hashlib.md5(data).digest())}
    hashers = new_hashers(expected)
    update_all(hashers, data)
    verify(expected, hashers)
    hashers = new_hashers(expected)
    update_all(hashers, data + b"!")
    with pytest.raises(S3Error) as exc:
        verify(expected, hashers)
    assert exc.value.code == "BadDigest"
    assert exc.value.status == 400


def test_is_valid_b64() -> None:
    assert is_valid_b64("DUoRhQ==", "crc32")
    assert not is_valid_b64("DUoRhQ", "crc32")
    assert not is_valid_b64("DUoRhQ==", "crc64nvme")


def test_verify_refuses_a_non_ascii_expected_value_with_bad_digest() -> None:
    from aisfs.errors import S3Error
    from aisfs.s3.checksums import new_hashers, verify

    hashers = new_hashers(["crc32"])
    with pytest.raises(S3Error) as err:
        verify({"crc32": "AAAA²"}, hashers)
    assert err.value.code == "BadDigest"
