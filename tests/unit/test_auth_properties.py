"""Property tests of the SigV4/SigV2 parsers: any input raises S3Error or nothing else.

The node hands these functions headers, paths and query strings decoded as latin-1
(aisfs_node/http.py), so the strategies draw from that alphabet - with the characters that
matter to the grammar (``,=;/: `` digits, hex, the field names) made frequent.
The suite runs a fixed small budget; ``-m fuzz`` runs the same properties much longer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aisfs.errors import S3Error
from aisfs.s3 import request_time, signed_headers, sigv2, sigv4

NOW = 1_763_942_400.0  # 20251124T000000Z: the sample dates are in the window
SECRETS = {"AKID": "secret"}
LATIN1 = st.characters(min_codepoint=0, max_codepoint=255)
PIECES = st.sampled_from(
    [
        "AWS4-HMAC-SHA256", "AWS ", "Credential=", "SignedHeaders=", "Signature=", "AKID",
        "/20251124/us-east-1/s3/aws4_request", "20251124", "T000000Z", "host", ";", ",", "=",
        "x-amz-date", "x-amz-content-sha256", "0" * 64, "a" * 64, "UNSIGNED-PAYLOAD", "%",
        "%2F", "%E2%82%AC", "&", "X-Amz-Algorithm=", "X-Amz-Credential=", "X-Amz-Date=",
        "X-Amz-Expires=", "X-Amz-SignedHeaders=", "X-Amz-Signature=", "AWSAccessKeyId=",
        "Signature=", "Expires=", "²", "\u00e9", " ", "\t", ":", "acl", "uploadId=", "9" * 20,
        "Mon, 24 Nov 2025 00:00:00 GMT", "+0100", "-0000",
    ]
)
TEXT = st.lists(st.one_of(PIECES, st.text(LATIN1, max_size=8)), max_size=12).map("".join)
HEADER_NAMES = st.sampled_from(
    ["host", "authorization", "x-amz-date", "date", "x-amz-content-sha256", "content-md5",
     "content-type", "x-amz-meta-a", "x-amz-copy-source", "X-Amz-Meta-B", "x-amzn-trace-id"]
)
HEADERS = st.lists(st.tuples(st.one_of(HEADER_NAMES, st.text(LATIN1, max_size=6)), TEXT),
                   max_size=8)
SMALL = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=5_000, deadline=None, suppress_health_check=list(HealthCheck))


def only_s3_errors(fn: Callable[..., Any], *args: Any) -> None:
    try:
        fn(*args)
    except S3Error as e:
        assert 400 <= e.status < 500, e


def _v4_header(auth: str, amz_date: str, headers: list[tuple[str, str]], query: str) -> None:
    hdrs = [("authorization", auth), ("x-amz-date", amz_date), ("host", "h"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"), *headers]
    only_s3_errors(sigv4.verify_request, "GET", "/s3/b/k", query, hdrs, SECRETS, NOW)


def _v4_query(query: str, headers: list[tuple[str, str]]) -> None:
    hdrs = [("host", "h"), *headers]
    only_s3_errors(sigv4.verify_request, "GET", "/s3/b/k", query, hdrs, SECRETS, NOW)


def _v2(auth: str, query: str, headers: list[tuple[str, str]], path: str) -> None:
    hdrs = [("authorization", auth), *headers] if auth else headers
    only_s3_errors(
        sigv2.verify, "GET", sigv2.candidate_resources(path, path), query, hdrs, SECRETS, NOW
    )


def _dates(value: str) -> None:
    only_s3_errors(request_time.amz_time, value)
    only_s3_errors(request_time.http_date_seconds, value)
    only_s3_errors(request_time.http_date_to_amz, value)
    only_s3_errors(sigv4.parse_authorization, value, value)


# a valid-looking SigV4 Authorization with the fields mutated
AUTH_V4 = st.builds(
    lambda cred, signed, sig, junk: (
        f"AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={signed}, Signature={sig}{junk}"
    ),
    st.one_of(st.just("AKID/20251124/us-east-1/s3/aws4_request"), TEXT),
    st.one_of(st.just("host;x-amz-date"), TEXT),
    st.one_of(st.just("0" * 64), TEXT),
    st.one_of(st.just(""), TEXT),
)
QUERY_V4 = st.builds(
    lambda cred, date, exp, signed, sig, extra: (
        f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Date={date}"
        f"&X-Amz-Expires={exp}&X-Amz-SignedHeaders={signed}&X-Amz-Signature={sig}{extra}"
    ),
    st.one_of(st.just("AKID%2F20251124%2Fus-east-1%2Fs3%2Faws4_request"), TEXT),
    st.one_of(st.just("20251124T000000Z"), TEXT),
    st.one_of(st.just("60"), TEXT),
    st.one_of(st.just("host"), TEXT),
    st.one_of(st.just("0" * 64), TEXT),
    st.one_of(st.just(""), TEXT),
)
AMZ_DATES = st.one_of(TEXT, st.just("20251124T000000Z"),
                      st.from_regex(r"\A[0-9]{8}T[0-9]{6}Z\Z"))


@SMALL
@given(AUTH_V4, AMZ_DATES, HEADERS, TEXT)
def test_v4_header_auth_raises_only_s3_errors(auth: str, amz_date: str,
                                              headers: list[tuple[str, str]], query: str) -> None:
    _v4_header(auth, amz_date, headers, query)


@SMALL
@given(st.one_of(QUERY_V4, TEXT), HEADERS)
def test_v4_presigned_raises_only_s3_errors(query: str, headers: list[tuple[str, str]]) -> None:
    _v4_query(query, headers)


@SMALL
@given(st.one_of(st.builds("AWS AKID:{}".format, TEXT), TEXT), TEXT, HEADERS, TEXT)
def test_v2_raises_only_s3_errors(auth: str, query: str, headers: list[tuple[str, str]],
                                  path: str) -> None:
    _v2(auth, query, [("date", "Mon, 24 Nov 2025 00:00:00 GMT"), *headers], path)
    _v2("", "AWSAccessKeyId=AKID&Signature=x&Expires=1763942500&" + query, headers, path)


@SMALL
@given(st.one_of(TEXT, AMZ_DATES,
                 st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT"))))
def test_date_parsers_raise_only_s3_errors(value: str) -> None:
    _dates(value)


@SMALL
@given(HEADERS, st.frozensets(HEADER_NAMES))
def test_unsigned_headers_policy(headers: list[tuple[str, str]], signed: frozenset[str]) -> None:
    missing = signed_headers.unsigned_headers(headers, signed)
    names = {n.lower() for n, _ in headers}
    assert set(missing) == {n for n in names - signed if signed_headers.must_be_signed(n)}
    if missing:
        with pytest.raises(S3Error):
            signed_headers.check_signed(headers, signed)


@SMALL
@given(st.from_regex(r"\A[0-9]{8}T[0-9]{6}Z\Z"))
def test_amz_time_agrees_with_strptime(value: str) -> None:
    import calendar

    try:
        want: int | None = calendar.timegm(time.strptime(value, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        want = None
    try:
        got: int | None = request_time.amz_time(value)
    except S3Error:
        got = None
    if want is not None and int(value[13:15]) == 61:
        want = None  # strptime takes a second 61; no clock sends it
    assert got == want


@pytest.mark.fuzz
@LONG
@given(AUTH_V4, AMZ_DATES, HEADERS, TEXT, st.one_of(QUERY_V4, TEXT), TEXT)
def test_fuzz_all_parsers(auth: str, amz_date: str, headers: list[tuple[str, str]],
                          query: str, query_v4: str, text: str) -> None:
    _v4_header(auth, amz_date, headers, query)
    _v4_query(query_v4, headers)
    _v2(auth, query, headers, text)
    _dates(text)
    _dates(amz_date)
