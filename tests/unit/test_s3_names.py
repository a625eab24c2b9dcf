from __future__ import annotations

import pytest

from aisfs.errors import S3Error
from aisfs.s3.names import validate_bucket_name, validate_key


@pytest.mark.parametrize(
    "name",
    ["abc", "my-bucket", "my.bucket.1", "a" * 63, "1bucket", "bucket-1", "b.c-d"],
)
def test_validate_bucket_name_accepts(name: str) -> None:
    validate_bucket_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "a" * 64,
        "Bucket",
        "-bucket",
        "bucket-",
        ".bucket",
        "bucket.",
        "my..bucket",
        "192.168.1.1",
        "xn--bucket",
        "sthree-bucket",
        "bucket-s3alias",
        "bucket--ol-s3",
        "my_bucket",
        "my bucket",
        "",
    ],
)
def test_validate_bucket_name_rejects(name: str) -> None:
    with pytest.raises(S3Error) as exc:
        validate_bucket_name(name)
    assert exc.value.code == "InvalidBucketName"
    assert exc.value.status == 400


@pytest.mark.parametrize("key", ["a", "a//b", "../x", ".", "..", "/lead", "ü/€", "a" * 1024])
def test_validate_key_accepts_literal_keys(key: str) -> None:
    validate_key(key)


def test_validate_key_too_long_counts_utf8_bytes() -> None:
    validate_key("é" * 512)  # 1024 bytes
    with pytest.raises(S3Error) as exc:
        validate_key("é" * 513)
    assert exc.value.code == "KeyTooLongError"


@pytest.mark.parametrize("key", ["a\x00b", "a\nb", "\x1f", "x\x7f"])
def test_validate_key_control_characters(key: str) -> None:
    with pytest.raises(S3Error) as exc:
        validate_key(key)
    assert exc.value.code == "InvalidArgument"
    assert "control character" in exc.value.message
