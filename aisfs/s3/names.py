"""Bucket and key naming rules (the S3 general-purpose bucket rules)."""

from __future__ import annotations

import re

from aisfs.errors import S3Error

MAX_KEY_BYTES = 1024

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4_RE = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")
_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def validate_bucket_name(name: str) -> None:
    """Raise ``InvalidBucketName`` unless *name* follows the S3 bucket naming rules."""

    def bad(why: str) -> S3Error:
        return S3Error(
            "InvalidBucketName",
            f"The specified bucket is not valid: {why}",
            extra={"BucketName": name},
        )

    if not 3 <= len(name) <= 63:
        raise bad("length must be between 3 and 63 characters")
    if not _BUCKET_RE.match(name):
        raise bad(
            "only lowercase letters, digits, '.' and '-' are allowed, "
            "and it must begin and end with a letter or digit"
        )
    if ".." in name:
        raise bad("two adjacent periods")
    if _IPV4_RE.match(name):
        raise bad("formatted as an IP address")
    if name.startswith(_BAD_PREFIXES):
        raise bad("reserved prefix")
    if name.endswith(_BAD_SUFFIXES):
        raise bad("reserved suffix")


def validate_key(key: str) -> None:
    """Raise ``KeyTooLongError`` or ``InvalidArgument`` for a key S3 would not store.

    Keys are opaque: ``a//b``, ``../x`` and ``.`` are legal and kept as they are (the
    store never turns a key into a file name). Control characters are refused because
    they cannot round-trip through XML listings.
    """
    if not key:
        raise S3Error("InvalidArgument", "Object key must not be empty")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise S3Error("InvalidArgument", "Object key is not valid UTF-8") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise S3Error(
            "KeyTooLongError",
            f"Your key is too long: {len(encoded)} bytes, the limit is {MAX_KEY_BYTES}",
        )
    m = _CONTROL_RE.search(key)
    if m:
        raise S3Error(
            "InvalidArgument",
            f"Object key contains a control character (U+{ord(m.group()):04X})",
            extra={"ArgumentName": "key"},
        )
