"""aisfs.backend.presigned (sans-IO): which signature a request carries, the request the
client signed rebuilt for the backend, and the guards that keep a forwarded request on
the bucket and key the node routed it to. Property tests draw keys and queries from the
characters a raw HTTP path may carry."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aisfs.backend.presigned import (
    OFFLOADED,
    RELAYED_OPS,
    STYLE_HEADER,
    RootElement,
    attrs_from_headers,
    backend_target,
    cacheable_get,
    client_signature,
    forwarded_headers,
    forwarded_length,
    may_probe,
    raw_key_of,
    request_style,
    whole_size,
)
from aisfs.errors import S3Error

V4_QUERY = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDB%2F20261205%2Fus-east-1"
            "%2Fs3%2Faws4_request&X-Amz-Date=20261205T224554Z&X-Amz-Expires=3600"
            "&X-Amz-SignedHeaders=host&X-Amz-Signature=" + "ab" * 32)
V2_QUERY = "AWSAccessKeyId=AKIDB&Signature=g%2BB9HxXO%3D&Expires=1796514353"


def q(raw: str) -> list[tuple[str, str]]:
    return parse_qsl(raw, keep_blank_values=True)


# == which signature ====================================================================


def test_signatures_in_query_and_header() -> None:
    v4 = client_signature(q(V4_QUERY), None)
    assert v4 is not None and (v4.kind, v4.access_key) == ("sigv4-query", "AKIDB")
    assert v4.signed_headers == {"host"}
    v2 = client_signature(q(V2_QUERY), None)
    assert v2 is not None and (v2.kind, v2.access_key) == ("sigv2-query", "AKIDB")
    hdr = client_signature([], "AWS4-HMAC-SHA256 Credential=AKIDH/20261205/us-east-1/s3/"
                           "aws4_request, SignedHeaders=host;range;x-amz-date, Signature=00")
    assert hdr is not None and (hdr.kind, hdr.access_key) == ("sigv4-header", "AKIDH")
    assert "range" in hdr.signed_headers
    old = client_signature([], "AWS AKIDV2:c2lnbmF0dXJl")
    assert old is not None and (old.kind, old.access_key) == ("sigv2-header", "AKIDV2")
    # the query is what a presigned URL is: it wins over a header
    both = client_signature(q(V2_QUERY), "AWS4-HMAC-SHA256 Credential=X/1/2/s3/aws4_request")
    assert both is not None and both.kind == "sigv2-query"


def test_no_signature() -> None:
    assert client_signature(q("list-type=2&prefix=a"), None) is None
    assert client_signature([], "Bearer eyJhbGciOi") is None
    assert client_signature(q("AWSAccessKeyId=AK"), None) is None  # no Signature: not one
    assert client_signature([], "") is None


@given(st.lists(st.tuples(st.text(max_size=20), st.text(max_size=40)), max_size=6),
       st.one_of(st.none(), st.text(max_size=120)))
@settings(max_examples=300, deadline=None)
def test_any_request_parses_or_is_none(query: list[tuple[str, str]],
                                       auth: str | None) -> None:
    sig = client_signature(query, auth)
    if sig is not None:
        assert sig.kind in ("sigv4-query", "sigv2-query", "sigv4-header", "sigv2-header")
        assert isinstance(sig.access_key, str)


# == the key as signed ==================================================================

KEY_CHARS = st.characters(min_codepoint=32, max_codepoint=0x2FF,
                          exclude_characters="\x7f")


@given(st.text(KEY_CHARS, min_size=1, max_size=60))
@settings(max_examples=300, deadline=None)
def test_raw_key_round_trip(key: str) -> None:
    raw = quote(key, safe="/~!$'()*+,;=:@")
    path = f"/s3/bkt/{raw}"
    if any(s in (".", "..") for s in key.split("/")):
        with pytest.raises(S3Error):
            raw_key_of(path, "/s3", "bkt", key, virtual_host=False)
        return
    got = raw_key_of(path, "/s3", "bkt", key, virtual_host=False)
    assert got == raw and unquote(got) == key  # forwarded as sent, byte for byte
    # the same key routed under another bucket, or another key: never forwarded
    with pytest.raises(S3Error):
        raw_key_of(path, "/s3", "other", key, virtual_host=False)
    with pytest.raises(S3Error):
        raw_key_of(path, "/s3", "bkt", key + "x", virtual_host=False)


def test_raw_key_guards() -> None:
    assert raw_key_of("/s3/b/a%20b", "/s3", "b", "a b", virtual_host=False) == "a%20b"
    assert raw_key_of("/b/k", "", "b", "k", virtual_host=False) == "k"
    assert raw_key_of("/s3/k/x", "/s3", "b", "k/x", virtual_host=True) == "k/x"
    for path, key in (("/s3/y/../x/k", "../x/k"), ("/s3/y/./k", "./k"),
                      ("/s3/y/a/%2E%2E/k", "a/../k")):
        with pytest.raises(S3Error, match="segments"):
            raw_key_of(path, "/s3", "y", key, virtual_host=False)
    with pytest.raises(S3Error):
        raw_key_of("/s3/b", "/s3", "b", "", virtual_host=False)


# == where it goes ======================================================================


def test_targets() -> None:
    t = backend_target("http://localhost:9000", "us-east-1", "path", "bkt", "a%20b", "x=1")
    assert (t.url, t.host) == ("http://localhost:9000/bkt/a%20b?x=1", "localhost:9000")
    t = backend_target("http://localhost:9000/s3/", "us-east-1", "virtual-hosted", "bkt",
                       "k", "")
    assert (t.url, t.host) == ("http://localhost:9000/s3/k", "bkt.localhost:9000")
    # AWS itself: the region's endpoint (us-east-1: the global one, as botocore presigns)
    t = backend_target("", "us-east-1", None, "bkt", "k", "q=1")
    assert (t.url, t.host) == ("https://s3.amazonaws.com/k?q=1", "bkt.s3.amazonaws.com")
    t = backend_target("", "eu-west-1", "path", "bkt", "k", "")
    assert (t.netloc, t.host) == ("s3.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com")
    # an IP endpoint: virtual-hosted cannot be what was signed
    t = backend_target("http://127.0.0.1:80", "us-east-1", None, "bkt", "k", "")
    assert t.host == "127.0.0.1:80" and t.raw_path == "/bkt/k"


def test_target_refusals() -> None:
    with pytest.raises(S3Error, match=STYLE_HEADER):
        request_style("sideways", "localhost", "bkt")
    with pytest.raises(S3Error):
        backend_target("http://h", "us-east-1", "virtual-hosted", "evil.com:80/x@", "k", "")
    with pytest.raises(S3Error):
        backend_target("ftp://h", "us-east-1", "path", "bkt", "k", "")
    assert request_style(None, "localhost", "Not_DNS") == "path"
    assert request_style(" Path ", "localhost", "bkt") == "path"


@given(st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40),
       st.sampled_from(["path", "virtual-hosted", None]))
@settings(max_examples=300, deadline=None)
def test_the_connection_goes_to_the_endpoint(region: str, style: str | None) -> None:
    """No region, bucket or style moves the connection off the configured endpoint."""
    t = backend_target("https://s3.example.net:8443/base", region, style, "bkt", "k", "a=b")
    assert t.netloc == "s3.example.net:8443" and t.scheme == "https"
    assert t.host in ("s3.example.net:8443", "bkt.s3.example.net:8443")


def test_forwarded_headers() -> None:
    out = forwarded_headers([("Host", "front:1"), ("Authorization", "AWS4-HMAC-SHA256 x"),
                             ("Connection", "keep-alive"), (STYLE_HEADER, "path"),
                             ("Content-Length", "5"), ("x-amz-date", "20261205T000000Z"),
                             ("Range", "bytes=0-1")], "backend:9")
    assert out[0] == ("host", "backend:9")
    names = [n for n, _ in out]
    assert "connection" not in names and STYLE_HEADER not in names
    assert "content-length" not in names and names.count("host") == 1
    assert ("authorization", "AWS4-HMAC-SHA256 x") in out and ("range", "bytes=0-1") in out
    assert ("accept-encoding", "identity") in out


# == what the backend answered ==========================================================


def test_attrs_and_sizes() -> None:
    a = attrs_from_headers({
        "content-length": "1", "content-range": "bytes 0-0/1234", "etag": '"abc-2"',
        "x-amz-version-id": "null", "last-modified": "Sat, 05 Dec 2026 22:45:54 GMT",
        "content-type": "text/plain", "x-amz-meta-origin": "backend",
        "cache-control": "no-cache",
    })
    assert (a.size, a.etag, a.version, a.content_type) == (1234, "abc-2", "", "text/plain")
    assert a.user == {"origin": "backend"} and a.headers == {"cache-control": "no-cache"}
    assert a.last_modified_ns == 1796510754 * 1_000_000_000
    assert whole_size({"content-length": "7"}) == 7
    assert whole_size({"content-range": "bytes 0-0/*", "content-length": "1"}) == 1
    assert whole_size({}) == -1
    assert attrs_from_headers({"last-modified": "garbage"}).last_modified_ns == 0


def test_what_is_cached_and_probed() -> None:
    assert cacheable_get([], {})
    assert not cacheable_get([], {"range": "bytes=0-1"})
    assert not cacheable_get([("versionId", "v")], {})
    assert not cacheable_get([("response-content-type", "x/y")], {})
    sig = client_signature(q(V4_QUERY), None)
    assert sig is not None and may_probe(sig, {})
    ranged = client_signature([], "AWS4-HMAC-SHA256 Credential=A/1/2/s3/aws4_request, "
                              "SignedHeaders=host;range, Signature=0")
    assert ranged is not None and not may_probe(ranged, {})


# == the multipart upload's operations ==================================================


def test_which_operations() -> None:
    assert {"GetObject", "HeadObject", "PutObject"} < OFFLOADED
    assert sorted(RELAYED_OPS) == sorted([
        "CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload",
        "AbortMultipartUpload", "ListParts"])
    assert RELAYED_OPS < OFFLOADED
    for op in ("CopyObject", "DeleteObject", "DeleteObjects", "ListObjectsV2",
               "ListMultipartUploads", "PutObjectTagging", "CreateBucket"):
        assert op not in OFFLOADED


def test_forwarded_length() -> None:
    assert forwarded_length("UploadPart", {"content-length": "5242880"}) == 5242880
    assert forwarded_length("CompleteMultipartUpload", {"content-length": "0"}) == 0
    assert forwarded_length("CreateMultipartUpload", {}) is None
    assert forwarded_length("AbortMultipartUpload", {}) is None
    for op in ("UploadPart", "PutObject"):
        with pytest.raises(S3Error) as e:
            forwarded_length(op, {})
        assert e.value.status == 411 and e.value.code == "MissingContentLength"
    with pytest.raises(S3Error) as e:
        forwarded_length("CompleteMultipartUpload", {"transfer-encoding": "chunked"})
    assert e.value.status == 411
    for headers in ({"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
                    {"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
                    {"content-encoding": "aws-chunked"}):
        with pytest.raises(S3Error) as e:
            forwarded_length("UploadPart", {"content-length": "10", **headers})
        assert e.value.status == 501 and "UploadPart" in e.value.message
    with pytest.raises(S3Error) as e:
        forwarded_length("PutObject", {"content-length": "10",
                                       "content-encoding": "aws-chunked"})
    assert "(aws-chunked) PUT" in e.value.message
    with pytest.raises(S3Error) as e:
        forwarded_length("UploadPart", {"content-length": "-1"})
    assert e.value.status == 400


def root_of(doc: bytes, cuts: list[int]) -> str | None:
    r = RootElement()
    at = 0
    for cut in sorted(c % (len(doc) + 1) for c in cuts):
        r.feed(doc[at:cut])
        at = max(at, cut)
    r.feed(doc[at:])
    return r.name


DOCS = [
    (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code></Error>',
     "Error"),
    (b'<?xml version="1.0" encoding="UTF-8"?>\n' + b" " * 5000 + b'\n<CompleteMultipartUploa'
     b'dResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Key>&lt;Error&gt;</Key>',
     "CompleteMultipartUploadResult"),
    (b"   <!-- <Error> --><!DOCTYPE x><Error/>", "Error"),
    (b"<Errors><Error/></Errors>", "Errors"),
    (b"\t\r\n<Error\n>", "Error"),
    (b"not xml", ""),
    (b"<1a/>", ""),
    (b"<?xml version='1.0'", None),
    (b"   ", None),
    (b"", None),
]


@given(st.sampled_from(DOCS), st.lists(st.integers(0, 10_000), max_size=8))
@settings(max_examples=300)
def test_root_element_however_it_is_cut(doc: tuple[bytes, str | None],
                                        cuts: list[int]) -> None:
    data, name = doc
    assert root_of(data, cuts) == name


def test_root_element_bounded() -> None:
    r = RootElement(limit=100)
    r.feed(b"<?xml " + b"x" * 200)  # a declaration that never ends
    assert r.name == ""
    r = RootElement()
    assert not r.is_error
    r.feed(b"<Error>")
    assert r.is_error
