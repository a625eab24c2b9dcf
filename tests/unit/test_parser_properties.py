"""Property-based tests of every sans-IO parser in aisfs/s3: whatever a client sends,
a parser answers or raises its own error type (``S3Error``), never anything else.

Each property runs with a small fixed budget in the suite; the ``fuzz`` twins at the
bottom run the same checks with many more examples (``pytest -m fuzz``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aisfs.errors import S3Error
from aisfs.s3 import checksums, conditions, cors, names, ranges, request
from aisfs.s3 import xml as s3xml
from aisfs.s3.chunked import (
    NEED_DATA,
    AwsChunkedDecoder,
    ChunkData,
    EndOfBody,
    Trailers,
    encode_aws_chunked,
)

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))

T = TypeVar("T")


def only_s3error(fn: Callable[[], T]) -> T | S3Error:
    """Run *fn*; an ``S3Error`` is a fine answer (returned), anything else fails the test."""
    try:
        return fn()
    except S3Error as err:
        assert err.code and 300 <= err.status < 600, err
        assert err.status != 500 or err.code == "InternalError"
        assert err.status < 500 or err.status == 501, err  # a client's bytes: never a 5xx but 501
        return err


# ----------------------------------------------------------------------- strategies

# text that tends to hit the corners: Unicode digits, superscripts, controls, separators
_TRICKY = "0123456789²³¹٣߀１-+_ .,;=:/?&%#\t\r\n\x00\x7f\u3000\ufeffabcXYZ*\"'<>"
tricky_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=_TRICKY, max_size=40),
    st.integers(4301, 6000).map(lambda n: "7" * n),  # past int()'s 4,300-digit limit
)
numberish = st.one_of(
    st.text(alphabet="0123456789", max_size=25),
    st.text(alphabet="0123456789-+²٣ _", max_size=12),
    st.integers().map(str),
    st.just("9" * 5000),
    st.just("0" * 5000 + "1"),
)
header_names = st.sampled_from(
    [
        "range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since",
        "x-amz-copy-source", "x-amz-copy-source-if-match", "x-amz-copy-source-if-none-match",
        "x-amz-copy-source-if-modified-since", "x-amz-copy-source-if-unmodified-since",
        "x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-sha256",
        "x-amz-checksum-crc64nvme", "x-amz-checksum-sha1", "x-amz-checksum-md5",
        "x-amz-checksum-algorithm", "x-amz-sdk-checksum-algorithm", "x-amz-trailer",
        "content-md5", "x-amz-decoded-content-length", "content-length", "host",
    ]
) | st.text(min_size=1, max_size=20)
headers_st = st.lists(st.tuples(header_names, st.one_of(tricky_text, numberish)), max_size=6)

query_keys = st.sampled_from(
    sorted(request.SUBRESOURCES)
    + ["partNumber", "max-keys", "max-parts", "max-uploads", "part-number-marker",
       "list-type", "encoding-type", "prefix", "delimiter", "continuation-token"]
) | st.text(max_size=12)
query_st = st.one_of(
    st.lists(st.tuples(query_keys, st.one_of(numberish, tricky_text)), max_size=4),
    st.text(max_size=60),
    st.binary(max_size=60),
)
path_st = st.one_of(
    st.text(max_size=60).map(lambda s: "/" + s),
    st.lists(st.text(alphabet="abc%2FfF0.-_/é", max_size=12), max_size=4).map(
        lambda parts: "/s3/" + "/".join(parts)
    ),
    st.sampled_from(["/", "/s3", "/s3/", "//x", "/s3/b/k", "/b//k", "/%FF", "/b/%00"]),
)


# ----------------------------------------------------------------------- routing


def _route(method: str, path: str, query: Any, host: str, base: str, domain: str | None,
           headers: list[tuple[str, str]]) -> None:
    result = only_s3error(
        lambda: request.route(method, path, query, host, base, domain, headers)
    )
    if isinstance(result, request.S3Request):
        assert result.operation
        if result.key is not None:
            names.validate_key(result.key) if result.operation != "PreflightRequest" else None
        assert isinstance(result.query, dict)


route_args = (
    st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "get", "X"]),
    path_st,
    query_st,
    st.one_of(st.just(""), st.text(max_size=30), st.sampled_from(["b.s3.local:80", "[::1]:8"])),
    st.sampled_from(["/s3", "", "/"]),
    st.sampled_from([None, "s3.local", ""]),
    headers_st,
)


@FAST
@given(*route_args)
def test_route(method: str, path: str, query: Any, host: str, base: str, domain: str | None,
               headers: list[tuple[str, str]]) -> None:
    _route(method, path, query, host, base, domain, headers)


@FAST
@given(st.one_of(numberish, tricky_text, st.none()), st.integers(1, 10000))
@example("²", 10000)
@example("9" * 5000, 10000)
def test_part_number(value: str | None, maximum: int) -> None:
    n = only_s3error(lambda: request.parse_part_number(value, maximum))
    if isinstance(n, int):
        assert value is not None and value.isascii() and 1 <= n <= maximum
    else:
        assert n.code == "InvalidArgument"


@FAST
@given(st.one_of(numberish, tricky_text, st.none()),
       st.sampled_from(["max-keys", "max-parts", "max-uploads"]))
def test_parse_max(value: str | None, name: str) -> None:
    n = only_s3error(lambda: request.parse_max(value, name))
    if isinstance(n, int):
        assert 0 <= n <= 1000
    else:
        assert n.code == "InvalidArgument"


@FAST
@given(tricky_text)
def test_copy_source_and_encoding(value: str) -> None:
    only_s3error(lambda: request.parse_copy_source(value))
    only_s3error(lambda: request.listing_encoding({"encoding-type": value}))
    only_s3error(lambda: request.parse_query(value))


# ----------------------------------------------------------------------- ranges


def _range(header: str | None, size: int) -> None:
    result = only_s3error(lambda: ranges.parse_range(header, size))
    if isinstance(result, S3Error):
        assert result.code == "InvalidRange" and result.status == 416
        assert result.extra["ActualObjectSize"] == str(size)
    elif result is not None:
        start, end = result
        assert 0 <= start <= end < size


range_headers = st.one_of(
    tricky_text,
    st.tuples(st.sampled_from(["bytes=", "Bytes = ", "items=", "bytes=-", "bytes=²"]),
              numberish, st.sampled_from(["-", "", " - ", ",", "-²"]), numberish)
    .map("".join),
    st.none(),
)


@FAST
@given(range_headers, st.integers(0, 2**40))
@example("bytes=" + "9" * 5000 + "-", 10)
@example("bytes=0-" + "9" * 5000, 10)
@example("bytes=-" + "9" * 5000, 10)
@example("bytes=٣-", 10)
def test_range(header: str | None, size: int) -> None:
    _range(header, size)


@FAST
@given(st.integers(0, 10**30), st.integers(0, 10**30), st.integers(0, 10**6))
def test_range_model(first: int, last: int, size: int) -> None:
    """Valid ranges agree with RFC 9110 arithmetic, numbers of any length included."""
    header = f"bytes={first}-{last}"
    try:
        got = ranges.parse_range(header, size)
    except S3Error:
        assert first >= size and last >= first
        return
    if last < first:
        assert got is None
    else:
        assert got == (first, min(last, size - 1))


# ----------------------------------------------------------------------- conditions, names,
# checksums


@FAST
@given(headers_st, st.one_of(st.none(), tricky_text), st.integers(0, 2**63 - 1),
       st.sampled_from(["GET", "HEAD", "PUT"]))
def test_conditions(headers: list[tuple[str, str]], etag: str | None, mtime_ns: int,
                    method: str) -> None:
    r = only_s3error(lambda: conditions.check_preconditions(headers, etag, mtime_ns, method))
    if isinstance(r, S3Error):
        assert r.code in ("PreconditionFailed", "NotModified")
    r = only_s3error(
        lambda: conditions.check_copy_source_preconditions(headers, etag or "e", mtime_ns)
    )
    if isinstance(r, S3Error):
        assert r.code == "PreconditionFailed"


@FAST
@given(tricky_text)
def test_http_date(value: str) -> None:
    t = conditions.parse_http_date(value)
    assert t is None or isinstance(t, int)


@FAST
@given(tricky_text)
def test_names(value: str) -> None:
    only_s3error(lambda: names.validate_bucket_name(value))
    only_s3error(lambda: names.validate_key(value))


@FAST
@given(headers_st, st.dictionaries(st.text(max_size=25), tricky_text, max_size=4))
def test_checksum_headers(headers: list[tuple[str, str]], trailers: dict[str, str]) -> None:
    only_s3error(lambda: checksums.checksum_headers(headers))
    only_s3error(lambda: checksums.trailer_algorithm(headers))
    only_s3error(lambda: checksums.trailer_checksums(trailers))


# ----------------------------------------------------------------------- XML bodies

_TAGS = [
    "Delete", "Object", "Key", "VersionId", "Quiet", "CompleteMultipartUpload", "Part",
    "PartNumber", "ETag", "Tagging", "TagSet", "Tag", "Value", "CORSConfiguration", "CORSRule",
    "AllowedOrigin", "AllowedMethod", "AllowedHeader", "ExposeHeader", "MaxAgeSeconds", "ID",
    "VersioningConfiguration", "Status", "CreateBucketConfiguration", "LocationConstraint",
]
_XML_TEXT = st.one_of(
    numberish, tricky_text.map(lambda s: escape(s)),
    st.sampled_from(["GET", "PUT", "true", "false", "Enabled", '"abc"', "*", "1", "10001", "0"]),
)


@st.composite
def xml_tree(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(st.sampled_from(_TAGS))
    ns = draw(st.sampled_from(["", ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"']))
    if depth >= 3 or draw(st.booleans()):
        inner = draw(_XML_TEXT)
    else:
        inner = "".join(draw(st.lists(xml_tree(depth + 1), max_size=4)))
    return f"<{tag}{ns if depth == 0 else ''}>{inner}</{tag}>"


@st.composite
def xml_document(draw: st.DrawFn, root: str) -> bytes:
    children = "".join(draw(st.lists(xml_tree(1), max_size=5)))
    doc = f"<{root}>{children}</{root}>".encode()
    if draw(st.booleans()):  # flip a byte or cut it short, sometimes
        i = draw(st.integers(0, max(0, len(doc) - 1)))
        doc = doc[:i] + draw(st.binary(max_size=3)) + doc[i + 1 :]
    return doc


_XML_PARSERS: dict[str, Callable[[bytes], Any]] = {
    "Delete": s3xml.parse_delete,
    "CompleteMultipartUpload": s3xml.parse_complete_multipart_upload,
    "Tagging": s3xml.parse_tagging,
    "CORSConfiguration": s3xml.parse_cors_configuration,
    "VersioningConfiguration": s3xml.parse_versioning_configuration,
    "CreateBucketConfiguration": s3xml.parse_create_bucket_configuration,
}


def _xml(root: str, body: bytes) -> None:
    result = only_s3error(lambda: _XML_PARSERS[root](body))
    if root == "CORSConfiguration" and isinstance(result, list):
        only_s3error(lambda: cors.validate_rules(result))
        stored = cors.rules_to_json(result)
        assert cors.rules_from_json(json.loads(json.dumps(stored))) == result
    if root == "CompleteMultipartUpload" and isinstance(result, list):
        numbers = [n for n, _ in result]
        assert numbers == sorted(set(numbers)) and all(1 <= n <= 10000 for n in numbers)


xml_case = st.sampled_from(sorted(_XML_PARSERS)).flatmap(
    lambda root: st.tuples(st.just(root), st.one_of(xml_document(root), st.binary(max_size=80)))
)


@FAST
@given(xml_case)
def test_xml_bodies(case: tuple[str, bytes]) -> None:
    _xml(*case)


@FAST
@given(st.lists(st.tuples(numberish, st.text(alphabet="0123456789abcdef\"", max_size=34)),
                min_size=1, max_size=4))
@example([("²", '"abc"')])
@example([("9" * 5000, '"abc"')])
def test_complete_multipart_numbers(parts: list[tuple[str, str]]) -> None:
    body = "<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{escape(n)}</PartNumber><ETag>{escape(e)}</ETag></Part>"
        for n, e in parts
    ) + "</CompleteMultipartUpload>"
    r = only_s3error(lambda: s3xml.parse_complete_multipart_upload(body.encode()))
    if isinstance(r, S3Error):
        assert r.code in ("MalformedXML", "InvalidArgument", "InvalidPartOrder")


@FAST
@given(numberish)
@example("--5")
@example("²")
@example("9" * 5000)
def test_cors_max_age(age: str) -> None:
    body = (
        "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>"
        f"<AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>{escape(age)}</MaxAgeSeconds>"
        "</CORSRule></CORSConfiguration>"
    ).encode()
    r = only_s3error(lambda: s3xml.parse_cors_configuration(body))
    if isinstance(r, S3Error):
        assert r.code == "MalformedXML"
    else:
        assert r[0].max_age_seconds is not None and abs(r[0].max_age_seconds) <= 2**31


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10),
              numberish),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=10,
)
rule_dicts = st.fixed_dictionaries(
    {},
    optional={
        "allowed_origins": json_values, "allowed_methods": json_values,
        "allowed_headers": json_values, "expose_headers": json_values,
        "max_age_seconds": json_values, "id": json_values,
    },
)


@FAST
@given(st.one_of(json_values, st.lists(rule_dicts, max_size=3)), tricky_text, tricky_text,
       st.one_of(st.none(), tricky_text))
def test_cors_evaluation(stored: Any, origin: str, method: str, req_headers: str | None) -> None:
    rules = cors.rules_from_json(stored)
    only_s3error(lambda: cors.preflight(rules, origin, method, req_headers))
    only_s3error(lambda: cors.cors_headers(rules, origin, method))


# ----------------------------------------------------------------------- aws-chunked


def _feed_all(decoder: AwsChunkedDecoder, pieces: list[bytes]) -> tuple[bytes, Any]:
    out = bytearray()
    end: Any = None
    for piece in [*pieces, None]:
        if piece is None:
            decoder.feed_eof()
        else:
            decoder.feed(piece)
        while True:
            ev = decoder.next_event()
            if ev is NEED_DATA:
                break
            if isinstance(ev, ChunkData):
                assert len(ev.data) > 0
                out += ev.data
            elif isinstance(ev, Trailers):
                assert isinstance(ev.headers, dict)
            else:
                assert isinstance(ev, EndOfBody)
                end = ev
                break
        if end is not None:
            break
    return bytes(out), end


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in [*points, len(data)]:
        pieces.append(data[last:p])
        last = p
    return [p for p in pieces if p]


def _chunked(body: bytes, cuts: list[int], trailers: list[str], decoded: int | None) -> None:
    decoder = AwsChunkedDecoder(trailers, decoded_length=decoded)

    def run() -> tuple[bytes, Any]:
        return _feed_all(decoder, _split(body, cuts))

    result = only_s3error(run)
    if isinstance(result, S3Error):
        assert result.code in ("InvalidRequest", "IncompleteBody"), result
    else:
        data, end = result
        assert end is not None and end.decoded_length == len(data)
        if decoded is not None:
            assert len(data) == decoded


@st.composite
def chunked_body(draw: st.DrawFn) -> bytes:
    data = draw(st.binary(max_size=300))
    body = encode_aws_chunked(data, draw(st.integers(1, 64)))
    mutation = draw(st.sampled_from(["none", "flip", "insert", "cut", "size"]))
    if mutation == "none" or not body:
        return body
    i = draw(st.integers(0, len(body) - 1))
    if mutation == "flip":
        return body[:i] + bytes([draw(st.integers(0, 255))]) + body[i + 1 :]
    if mutation == "insert":
        return body[:i] + draw(st.sampled_from([b"\n", b"\r", b";", b" ", b"\x00", b"ff",
                                                b"0\r\n", b"x:y\r\n"])) + body[i:]
    if mutation == "cut":
        return body[:i]
    return draw(st.sampled_from([b"f" * 17, b"ffffffffffffffff", b"-1", b"+1", b"\xd9\xa3"])) \
        + b"\r\n" + body


chunked_args = (
    st.one_of(chunked_body(), st.binary(max_size=200)),
    st.lists(st.integers(0, 10_000), max_size=6),
    st.lists(st.sampled_from(["x-amz-checksum-crc32", "x-amz-meta-a", "", " "]), max_size=2),
    st.one_of(st.none(), st.integers(0, 400)),
)


@FAST
@given(*chunked_args)
def test_aws_chunked(body: bytes, cuts: list[int], trailers: list[str],
                     decoded: int | None) -> None:
    _chunked(body, cuts, trailers, decoded)


@FAST
@given(st.binary(max_size=2000), st.integers(1, 300), st.lists(st.integers(0, 5000), max_size=8))
def test_aws_chunked_round_trip(data: bytes, chunk: int, cuts: list[int]) -> None:
    """A well-formed body decodes to its data however the bytes are split."""
    body = encode_aws_chunked(data, chunk, {"x-amz-checksum-crc32": "AAAAAA=="})
    decoder = AwsChunkedDecoder(["x-amz-checksum-crc32"], decoded_length=len(data))
    got, end = _feed_all(decoder, _split(body, cuts))
    assert got == data and end.decoded_length == len(data)


# ----------------------------------------------------------------------- the long runs

fuzz = LONG


@fuzz
@given(*route_args)
def _long_route(method: str, path: str, query: Any, host: str, base: str, domain: str | None,
                headers: list[tuple[str, str]]) -> None:
    _route(method, path, query, host, base, domain, headers)


@fuzz
@given(range_headers, st.integers(0, 2**40))
def _long_range(header: str | None, size: int) -> None:
    _range(header, size)


@fuzz
@given(xml_case)
def _long_xml(case: tuple[str, bytes]) -> None:
    _xml(*case)


@fuzz
@given(*chunked_args)
def _long_chunked(body: bytes, cuts: list[int], trailers: list[str], decoded: int | None) -> None:
    _chunked(body, cuts, trailers, decoded)


@fuzz
@given(st.one_of(st.lists(rule_dicts, max_size=3), json_values), tricky_text, tricky_text,
       st.one_of(st.none(), tricky_text))
def _long_cors(stored: Any, origin: str, method: str, req_headers: str | None) -> None:
    rules = cors.rules_from_json(stored)
    only_s3error(lambda: cors.preflight(rules, origin, method, req_headers))


def _marked(fn: Callable[..., None]) -> Callable[..., None]:
    import pytest

    return pytest.mark.fuzz(fn)  # type: ignore[no-any-return]


test_route_long = _marked(_long_route)
test_range_long = _marked(_long_range)
test_xml_bodies_long = _marked(_long_xml)
test_aws_chunked_long = _marked(_long_chunked)
test_cors_evaluation_long = _marked(_long_cors)
