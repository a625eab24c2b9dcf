from __future__ import annotations

import pytest

from aisfs.errors import S3Error
from aisfs.s3.conditions import (
    check_copy_source_preconditions,
    check_preconditions,
    etag_matches,
    format_http_date,
    parse_http_date,
)

ETAG = "d41d8cd98f00b204e9800998ecf8427e"
MTIME_NS = 784111777 * 1_000_000_000 + 500_000_000  # Sun, 06 Nov 1994 08:49:37.5 GMT
AT = "Sun, 06 Nov 1994 08:49:37 GMT"
BEFORE = "Sun, 06 Nov 1994 08:49:36 GMT"
AFTER = "Sun, 06 Nov 1994 08:49:38 GMT"


def outcome(headers: dict[str, str], method: str = "GET", etag: str | None = ETAG) -> str:
    try:
        check_preconditions(headers, etag, MTIME_NS, method)
    except S3Error as e:
        assert e.status == {"PreconditionFailed": 412, "NotModified": 304}[e.code]
        return str(e.status)
    return "ok"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "ok"),
        ({"If-Match": ETAG}, "ok"),
        ({"If-Match": f'"{ETAG}"'}, "ok"),
        ({"If-Match": f'"x", "{ETAG}"'}, "ok"),
        ({"If-Match": "*"}, "ok"),
        ({"If-Match": '"other"'}, "412"),
        ({"If-Match": f'W/"{ETAG}"'}, "412"),  # strong comparison
        ({"If-Unmodified-Since": AT}, "ok"),
        ({"If-Unmodified-Since": AFTER}, "ok"),
        ({"If-Unmodified-Since": BEFORE}, "412"),
        ({"If-Unmodified-Since": "not a date"}, "ok"),
        ({"If-None-Match": ETAG}, "304"),
        ({"If-None-Match": f'W/"{ETAG}"'}, "304"),
        ({"If-None-Match": "*"}, "304"),
        ({"If-None-Match": '"other"'}, "ok"),
        ({"If-Modified-Since": AT}, "304"),
        ({"If-Modified-Since": AFTER}, "304"),
        ({"If-Modified-Since": BEFORE}, "ok"),
        ({"If-Modified-Since": "garbage"}, "ok"),
        # AWS precedence: If-Match true + If-Unmodified-Since false -> proceed
        ({"If-Match": ETAG, "If-Unmodified-Since": BEFORE}, "ok"),
        # If-None-Match false (matches) + If-Modified-Since true -> 304
        ({"If-None-Match": ETAG, "If-Modified-Since": BEFORE}, "304"),
        # If-None-Match true (differs) + If-Modified-Since false -> proceed (IMS ignored)
        ({"If-None-Match": '"other"', "If-Modified-Since": AFTER}, "ok"),
        # 412 is decided before 304
        ({"If-Match": '"other"', "If-None-Match": ETAG}, "412"),
        ({"if-match": '"other"'}, "412"),  # header names in any case
    ],
)
def test_check_preconditions_get(headers: dict[str, str], expected: str) -> None:
    assert outcome(headers) == expected
    assert outcome(headers, "HEAD") == expected


def test_check_preconditions_unsafe_methods() -> None:
    assert outcome({"If-None-Match": "*"}, "PUT") == "412"
    assert outcome({"If-Modified-Since": AFTER}, "PUT") == "ok"  # GET/HEAD only
    assert outcome({"If-None-Match": "*"}, "PUT", etag=None) == "ok"  # create-only write
    assert outcome({"If-Match": ETAG}, "PUT", etag=None) == "412"
    assert outcome({"If-Match": "*"}, "PUT", etag=None) == "412"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "ok"),
        ({"x-amz-copy-source-if-match": f'"{ETAG}"'}, "ok"),
        ({"x-amz-copy-source-if-match": '"x"'}, "412"),
        ({"x-amz-copy-source-if-none-match": f'"{ETAG}"'}, "412"),
        ({"x-amz-copy-source-if-none-match": '"x"'}, "ok"),
        ({"x-amz-copy-source-if-modified-since": AT}, "412"),
        ({"x-amz-copy-source-if-modified-since": BEFORE}, "ok"),
        ({"x-amz-copy-source-if-unmodified-since": BEFORE}, "412"),
        ({"x-amz-copy-source-if-unmodified-since": AT}, "ok"),
        (
            {
                "x-amz-copy-source-if-match": ETAG,
                "x-amz-copy-source-if-unmodified-since": BEFORE,
            },
            "ok",
        ),
        (
            {
                "x-amz-copy-source-if-none-match": ETAG,
                "x-amz-copy-source-if-modified-since": BEFORE,
            },
            "412",
        ),
        ({"If-Match": '"x"'}, "ok"),  # the plain headers are not the copy source's
    ],
)
def test_check_copy_source_preconditions(headers: dict[str, str], expected: str) -> None:
    try:
        check_copy_source_preconditions(headers, ETAG, MTIME_NS)
        got = "ok"
    except S3Error as e:
        assert e.code == "PreconditionFailed"
        got = str(e.status)
    assert got == expected


def test_etag_matches_multipart_and_spaces() -> None:
    assert etag_matches(' "abc-2" ,"def"', "abc-2")
    assert etag_matches('"abc-2"', '"abc-2"')
    assert not etag_matches('"abc"', "abc-2")
    assert not etag_matches("", "abc")


@pytest.mark.parametrize(
    "value",
    [AT, "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "1994-11-06T08:49:37Z"],
)
def test_parse_http_date_formats(value: str) -> None:
    assert parse_http_date(value) == 784111777


@pytest.mark.parametrize("value", ["", "garbage", "Sun, 06 Nov 1994 25:49:37 GMT", "99999999"])
def test_parse_http_date_invalid(value: str) -> None:
    assert parse_http_date(value) is None


def test_format_http_date() -> None:
    assert format_http_date(MTIME_NS) == AT
