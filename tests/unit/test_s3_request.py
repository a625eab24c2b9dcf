from __future__ import annotations

import pytest

from aisfs.errors import S3Error
from aisfs.s3.request import parse_copy_source, parse_part_number, route


def op(method: str, path: str, query: str = "", **kw: object) -> str:
    return route(method, path, query, "localhost:8080", **kw).operation  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/s3", "", "ListBuckets"),
        ("GET", "/s3/", "", "ListBuckets"),
        ("PUT", "/s3/bkt", "", "CreateBucket"),
        ("DELETE", "/s3/bkt", "", "DeleteBucket"),
        ("HEAD", "/s3/bkt", "", "HeadBucket"),
        ("GET", "/s3/bkt", "location", "GetBucketLocation"),
        ("GET", "/s3/bkt", "versioning", "GetBucketVersioning"),
        ("PUT", "/s3/bkt", "versioning", "PutBucketVersioning"),
        ("GET", "/s3/bkt", "", "ListObjects"),
        ("GET", "/s3/bkt/", "prefix=a&delimiter=%2F", "ListObjects"),
        ("GET", "/s3/bkt", "list-type=2&prefix=x", "ListObjectsV2"),
        ("GET", "/s3/bkt", "versions", "ListObjectVersions"),
        ("GET", "/s3/bkt", "uploads", "ListMultipartUploads"),
        ("POST", "/s3/bkt", "delete", "DeleteObjects"),
        ("GET", "/s3/bkt", "cors", "GetBucketCors"),
        ("PUT", "/s3/bkt", "cors", "PutBucketCors"),
        ("DELETE", "/s3/bkt", "cors", "DeleteBucketCors"),
        ("GET", "/s3/bkt", "tagging", "GetBucketTagging"),
        ("PUT", "/s3/bkt", "tagging", "PutBucketTagging"),
        ("DELETE", "/s3/bkt", "tagging", "DeleteBucketTagging"),
        ("GET", "/s3/bkt", "acl", "GetBucketAcl"),
        ("GET", "/s3/bkt", "policy", "GetBucketPolicy"),
        ("GET", "/s3/bkt", "lifecycle", "GetBucketLifecycleConfiguration"),
        ("PUT", "/s3/bkt", "lifecycle", "PutBucketLifecycleConfiguration"),
        ("DELETE", "/s3/bkt", "lifecycle", "DeleteBucketLifecycle"),
        ("PUT", "/s3/bkt/k", "", "PutObject"),
        ("GET", "/s3/bkt/k", "", "GetObject"),
        ("GET", "/s3/bkt/k", "partNumber=1&versionId=null&x-id=GetObject", "GetObject"),
        ("GET", "/s3/bkt/k", "response-content-type=text%2Fplain", "GetObject"),
        ("HEAD", "/s3/bkt/k", "", "HeadObject"),
        ("DELETE", "/s3/bkt/k", "", "DeleteObject"),
        ("POST", "/s3/bkt/k", "uploads", "CreateMultipartUpload"),
        ("PUT", "/s3/bkt/k", "partNumber=3&uploadId=u", "UploadPart"),
        ("POST", "/s3/bkt/k", "uploadId=u", "CompleteMultipartUpload"),
        ("DELETE", "/s3/bkt/k", "uploadId=u", "AbortMultipartUpload"),
        ("GET", "/s3/bkt/k", "uploadId=u&max-parts=2", "ListParts"),
        ("GET", "/s3/bkt/k", "tagging", "GetObjectTagging"),
        ("PUT", "/s3/bkt/k", "tagging", "PutObjectTagging"),
        ("DELETE", "/s3/bkt/k", "tagging", "DeleteObjectTagging"),
        ("GET", "/s3/bkt/k", "acl", "GetObjectAcl"),
        ("GET", "/s3/bkt/k", "attributes", "GetObjectAttributes"),
        ("OPTIONS", "/s3/bkt/k", "", "PreflightRequest"),
        ("OPTIONS", "/s3/bkt", "", "PreflightRequest"),
        (
            "GET",
            "/s3/bkt/k",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Signature=b",
            "GetObject",
        ),
    ],
)
def test_route_operations(method: str, path: str, query: str, expected: str) -> None:
    assert op(method, path, query) == expected


def test_route_copy_selected_by_header() -> None:
    h = {"X-Amz-Copy-Source": "/src/key"}
    assert route("PUT", "/s3/b1b/k", "", headers=h).operation == "CopyObject"
    req = route(
        "PUT", "/s3/b1b/k", "partNumber=2&uploadId=u", headers=[("x-amz-copy-source", "s/k")]
    )
    assert req.operation == "UploadPartCopy"


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("DELETE", "/s3/bkt", "replication"),
        ("DELETE", "/s3/bkt", "website"),
        ("PUT", "/s3/bkt", "replication"),
        ("GET", "/s3/bkt", "website"),
        ("GET", "/s3/bkt", "replication"),
        ("GET", "/s3/bkt", "notification"),
        ("GET", "/s3/bkt", "requestPayment"),
        ("GET", "/s3/bkt", "accelerate"),
        ("GET", "/s3/bkt", "intelligent-tiering"),
        ("GET", "/s3/bkt", "analytics"),
        ("GET", "/s3/bkt", "metrics"),
        ("GET", "/s3/bkt", "inventory"),
        ("GET", "/s3/bkt", "logging"),
        ("GET", "/s3/bkt/k", "torrent"),
        ("POST", "/s3/bkt/k", "restore"),
        ("POST", "/s3/bkt/k", "select&select-type=2"),
        ("PUT", "/s3/bkt/k", "cors"),
        ("DELETE", "/s3/bkt/k", "versioning"),
    ],
)
def test_route_known_subresources_never_fall_through(method: str, path: str, query: str) -> None:
    with pytest.raises(S3Error) as exc:
        route(method, path, query)
    assert exc.value.code == "NotImplemented"
    assert exc.value.status == 501


def test_route_object_only_subresource_on_bucket() -> None:
    with pytest.raises(S3Error) as exc:
        route("GET", "/s3/bkt", "uploadId=x")
    assert exc.value.code == "InvalidRequest"


def test_route_conflicting_subresources() -> None:
    with pytest.raises(S3Error) as exc:
        route("DELETE", "/s3/bkt", "cors&tagging")
    assert exc.value.code == "InvalidRequest"


@pytest.mark.parametrize("method", ["PATCH", "TRACE", "CONNECT", "FOO"])
def test_route_unknown_method(method: str) -> None:
    with pytest.raises(S3Error) as exc:
        route(method, "/s3/bkt/k", "")
    assert exc.value.code == "MethodNotAllowed"
    assert exc.value.status == 405


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/s3"), ("DELETE", "/s3"), ("POST", "/s3/bkt/k"), ("HEAD", "/s3")],
)
def test_route_method_not_allowed_on_resource(method: str, path: str) -> None:
    with pytest.raises(S3Error) as exc:
        route(method, path, "")
    assert exc.value.code == "MethodNotAllowed"


def test_route_key_is_decoded_and_literal() -> None:
    req = route("GET", "/s3/bkt/a//b/%2E%2E/c%2Fd%20e+f%E2%82%AC", "")
    assert req.bucket == "bkt"
    assert req.key == "a//b/../c/d e+f€"
    assert req.resource == "/bkt/a//b/../c/d e+f€"


def test_route_key_with_question_mark_and_leading_slash() -> None:
    req = route("GET", "/s3/bkt//x%3Fy", "")
    assert req.key == "/x?y"


def test_route_invalid_percent_encoding() -> None:
    with pytest.raises(S3Error) as exc:
        route("GET", "/s3/bkt/%FF%FE", "")
    assert exc.value.code == "InvalidURI"


def test_route_key_control_char_rejected() -> None:
    with pytest.raises(S3Error) as exc:
        route("PUT", "/s3/bkt/a%00b", "")
    assert exc.value.code == "InvalidArgument"


def test_route_key_too_long() -> None:
    with pytest.raises(S3Error) as exc:
        route("PUT", "/s3/bkt/" + "a" * 1025, "")
    assert exc.value.code == "KeyTooLongError"


def test_route_create_bucket_validates_name() -> None:
    with pytest.raises(S3Error) as exc:
        route("PUT", "/s3/Bad_Bucket", "")
    assert exc.value.code == "InvalidBucketName"


def test_route_root_mount() -> None:
    req = route("GET", "/bkt/k", "", base_path="")
    assert (req.operation, req.bucket, req.key) == ("GetObject", "bkt", "k")
    assert route("GET", "/", "", base_path="").operation == "ListBuckets"


def test_route_virtual_host() -> None:
    req = route(
        "GET", "/a//b", "", "bkt.s3.local:9000", base_path="", virtual_host_domain="s3.local"
    )
    assert (req.bucket, req.key, req.virtual_host) == ("bkt", "a//b", True)
    req = route(
        "GET", "/", "list-type=2", "bkt.s3.local", base_path="", virtual_host_domain="s3.local"
    )
    assert (req.operation, req.bucket, req.key) == ("ListObjectsV2", "bkt", None)
    req = route("GET", "/s3/x", "", "bkt.s3.local", virtual_host_domain="s3.local")
    assert (req.bucket, req.key) == ("bkt", "x")
    # the bare domain is path-style
    req = route("GET", "/s3/bkt/k", "", "s3.local:80", virtual_host_domain="s3.local")
    assert (req.bucket, req.key, req.virtual_host) == ("bkt", "k", False)
    # a host outside the domain is path-style
    req = route("GET", "/s3/bkt/k", "", "127.0.0.1:80", virtual_host_domain="s3.local")
    assert (req.bucket, req.key) == ("bkt", "k")


def test_route_query_forms() -> None:
    for q in (
        "prefix=a%2Fb&max-keys=5",
        [("prefix", "a/b"), ("max-keys", "5")],
        {"prefix": "a/b", "max-keys": "5"},
    ):
        req = route("GET", "/s3/bkt", q)
        assert req.query == {"prefix": "a/b", "max-keys": "5"}


def test_route_invalid_list_type() -> None:
    with pytest.raises(S3Error) as exc:
        route("GET", "/s3/bkt", "list-type=3")
    assert exc.value.code == "InvalidArgument"


def test_route_upload_part_requires_part_number() -> None:
    with pytest.raises(S3Error) as exc:
        route("PUT", "/s3/bkt/k", "uploadId=u")
    assert exc.value.code == "InvalidArgument"
    with pytest.raises(S3Error) as exc:
        route("PUT", "/s3/bkt/k", "partNumber=1")
    assert exc.value.code == "InvalidRequest"


def test_parse_copy_source() -> None:
    assert parse_copy_source("/src/a%2Fb%20c") == ("src", "a/b c", None)
    assert parse_copy_source("src/k%3Fq?versionId=v1") == ("src", "k?q", "v1")
    with pytest.raises(S3Error):
        parse_copy_source("onlybucket")
    with pytest.raises(S3Error):
        parse_copy_source("/b/")


def test_parse_part_number() -> None:
    assert parse_part_number("1") == 1
    assert parse_part_number("10000") == 10000
    for bad in (None, "0", "10001", "-1", "x", ""):
        with pytest.raises(S3Error):
            parse_part_number(bad)
