from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import botocore.session
import pytest
from botocore.parsers import create_parser

from aisfs.errors import S3Error
from aisfs.s3 import xml as s3xml
from aisfs.s3.xml import CORSRule, ListParams, ObjectIdentifier
from aisfs.store.types import ListEntry, PartInfo

_MODEL = botocore.session.get_session().get_service_model("s3")
_PARSER = create_parser("rest-xml")

NS = 1136214245 * 1_000_000_000 + 123_456_789  # 2006-01-02T15:04:05.123Z


def boto_parse(operation: str, body: bytes, status: int = 200) -> dict[str, Any]:
    shape = _MODEL.operation_model(operation).output_shape
    resp = {"body": body, "headers": {}, "status_code": status}
    return _PARSER.parse(resp, shape)


@dataclass
class Bucket:
    name: str
    created_ns: int


@dataclass
class Upload:
    upload_id: str
    key: str
    initiated_ns: int


def test_format_timestamp() -> None:
    assert s3xml.format_timestamp(NS) == "2006-01-02T15:04:05.123Z"
    assert s3xml.format_timestamp(0) == "1970-01-01T00:00:00.000Z"


def test_error_document() -> None:
    err = S3Error("NoSuchKey", "The specified key does not exist.", extra={"Key": "a&b"})
    body = s3xml.error_document(err, request_id="rid", resource="/b/a&b")
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Error>')
    assert b"<Code>NoSuchKey</Code>" in body
    assert b"<Key>a&amp;b</Key>" in body
    assert b"<RequestId>rid</RequestId>" in body
    parsed = boto_parse("GetObject", body, 404)
    assert parsed["Error"]["Code"] == "NoSuchKey"
    assert parsed["Error"]["Message"] == "The specified key does not exist."


def test_list_buckets_result() -> None:
    body = s3xml.list_buckets_result([Bucket("one", NS), Bucket("two", NS)])
    assert b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"' in body
    p = boto_parse("ListBuckets", body)
    assert [b["Name"] for b in p["Buckets"]] == ["one", "two"]
    assert p["Buckets"][0]["CreationDate"] == dt.datetime(
        2006, 1, 2, 15, 4, 5, 123000, tzinfo=dt.UTC
    )
    assert p["Owner"]["ID"] == "aisfs"


ENTRIES = [
    ListEntry(key="a b+c", size=3, etag="abc", mtime_ns=NS),
    ListEntry(key="d/é", size=0, etag="def-2", mtime_ns=NS),
]


def test_list_objects_v2_result() -> None:
    params = ListParams(prefix="", delimiter="/", max_keys=2, continuation_token="tok")
    body = s3xml.list_objects_v2_result(
        "bkt", ENTRIES, ["p/"], params, is_truncated=True, next_continuation_token="next"
    )
    p = boto_parse("ListObjectsV2", body)
    assert p["Name"] == "bkt"
    assert p["KeyCount"] == 3
    assert p["IsTruncated"] is True
    assert p["ContinuationToken"] == "tok"
    assert p["NextContinuationToken"] == "next"
    assert [c["Key"] for c in p["Contents"]] == ["a b+c", "d/é"]
    assert p["Contents"][0]["ETag"] == '"abc"'
    assert p["Contents"][0]["StorageClass"] == "STANDARD"
    assert "Owner" not in p["Contents"][0]
    assert p["CommonPrefixes"] == [{"Prefix": "p/"}]
    assert "StartAfter" not in p


def test_list_objects_v2_fetch_owner_and_start_after() -> None:
    params = ListParams(start_after="a", fetch_owner=True)
    p = boto_parse("ListObjectsV2", s3xml.list_objects_v2_result("b", ENTRIES, [], params, False))
    assert p["StartAfter"] == "a"
    assert p["Contents"][0]["Owner"]["ID"] == "aisfs"
    assert "NextContinuationToken" not in p


def test_list_objects_url_encoding() -> None:
    params = ListParams(prefix="a b", delimiter="/", encoding_type="url", start_after="x+y")
    body = s3xml.list_objects_v2_result("b", ENTRIES, ["d/é f/"], params, False)
    p = boto_parse("ListObjectsV2", body)
    assert p["EncodingType"] == "url"
    assert p["Prefix"] == "a%20b"
    keys = [c["Key"] for c in p["Contents"]]
    assert keys == ["a%20b%2Bc", "d/%C3%A9"]
    # botocore decodes with unquote_plus
    assert [unquote_plus(k) for k in keys] == ["a b+c", "d/é"]
    assert unquote_plus(p["StartAfter"]) == "x+y"
    assert unquote_plus(p["CommonPrefixes"][0]["Prefix"]) == "d/é f/"


def test_list_objects_v1_result() -> None:
    params = ListParams(prefix="p", delimiter="/", marker="m", max_keys=5)
    body = s3xml.list_objects_v1_result("b", ENTRIES, [], params, True, next_marker="d/é")
    p = boto_parse("ListObjects", body)
    assert p["Marker"] == "m"
    assert p["NextMarker"] == "d/é"
    assert p["MaxKeys"] == 5
    assert p["Contents"][1]["ETag"] == '"def-2"'
    # without a delimiter there is no NextMarker
    body = s3xml.list_objects_v1_result("b", ENTRIES, [], ListParams(), True, next_marker="x")
    assert "NextMarker" not in boto_parse("ListObjects", body)


def test_object_versions_result() -> None:
    from aisfs.store.types import VersionEntry

    entries = [VersionEntry(key="a", version_id="null", is_latest=True, is_marker=False,
                            size=3, etag="abc", mtime_ns=1_700_000_000_000_000_000),
               VersionEntry(key="d/é", version_id="v1", is_latest=True, is_marker=True,
                            size=0, etag="", mtime_ns=1_700_000_000_000_000_000)]
    body = s3xml.object_versions_result("b", entries, [], ListParams(), True,
                                        next_key_marker="d/é", next_version_id_marker="v1")
    p = boto_parse("ListObjectVersions", body)
    assert [v["VersionId"] for v in p["Versions"]] == ["null"]
    assert [m["Key"] for m in p["DeleteMarkers"]] == ["d/é"]
    assert p["NextKeyMarker"] == "d/é" and p["NextVersionIdMarker"] == "v1"


def test_location_and_versioning() -> None:
    assert boto_parse("GetBucketLocation", s3xml.location_constraint(None)).get(
        "LocationConstraint"
    ) in (None, "")
    # botocore parses this one with a handler of its own (parse_get_bucket_location)
    from botocore.handlers import parse_get_bucket_location

    class Resp:
        raw = b""
        content = s3xml.location_constraint("eu-west-1")

    parsed: dict[str, Any] = {}
    parse_get_bucket_location(parsed, Resp())
    assert parsed["LocationConstraint"] == "eu-west-1"
    Resp.content = s3xml.location_constraint("us-east-1")
    parse_get_bucket_location(parsed, Resp())
    assert parsed["LocationConstraint"] is None
    assert "Status" not in boto_parse("GetBucketVersioning", s3xml.versioning_configuration(None))
    p = boto_parse("GetBucketVersioning", s3xml.versioning_configuration("Enabled"))
    assert p["Status"] == "Enabled"


def test_copy_results() -> None:
    p = boto_parse("CopyObject", s3xml.copy_object_result("abc", NS, {"crc32": "AAAAAA=="}))
    assert p["CopyObjectResult"]["ETag"] == '"abc"'
    assert p["CopyObjectResult"]["ChecksumCRC32"] == "AAAAAA=="
    p = boto_parse("UploadPartCopy", s3xml.copy_part_result('"abc"', NS))
    assert p["CopyPartResult"]["ETag"] == '"abc"'


def test_multipart_documents() -> None:
    p = boto_parse("CreateMultipartUpload", s3xml.initiate_multipart_upload_result("b", "k", "u1"))
    assert (p["Bucket"], p["Key"], p["UploadId"]) == ("b", "k", "u1")
    body = s3xml.complete_multipart_upload_result("/b/k", "b", "k", "abc-2")
    p = boto_parse("CompleteMultipartUpload", body)
    assert p["ETag"] == '"abc-2"'
    parts = [PartInfo(1, "e1", 5, NS), PartInfo(2, "e2", 6, NS)]
    p = boto_parse("ListParts", s3xml.list_parts_result("b", "k", "u1", parts))
    assert [(x["PartNumber"], x["ETag"], x["Size"]) for x in p["Parts"]] == [
        (1, '"e1"', 5),
        (2, '"e2"', 6),
    ]
    assert p["NextPartNumberMarker"] == 2
    body = s3xml.list_multipart_uploads_result("b", [Upload("u1", "k", NS)])
    p = boto_parse("ListMultipartUploads", body)
    assert p["Uploads"][0]["UploadId"] == "u1"
    assert p["Uploads"][0]["Key"] == "k"


def test_delete_result() -> None:
    deleted = [ObjectIdentifier("a"), ObjectIdentifier("b", "null")]
    errors = [(ObjectIdentifier("c"), S3Error("AccessDenied", "no"))]
    p = boto_parse("DeleteObjects", s3xml.delete_result(deleted, errors))
    assert [d["Key"] for d in p["Deleted"]] == ["a", "b"]
    assert p["Errors"] == [{"Key": "c", "Code": "AccessDenied", "Message": "no"}]
    p = boto_parse("DeleteObjects", s3xml.delete_result(deleted, errors, quiet=True))
    assert "Deleted" not in p


def test_tagging_and_cors_roundtrip() -> None:
    tags = {"a": "1", "b&": "<2>"}
    body = s3xml.tagging(tags)
    assert boto_parse("GetObjectTagging", body)["TagSet"] == [
        {"Key": "a", "Value": "1"},
        {"Key": "b&", "Value": "<2>"},
    ]
    assert s3xml.parse_tagging(body) == tags
    rules = [
        CORSRule(("*",), ("GET", "PUT"), ("*",), ("ETag",), 300, "r1"),
        CORSRule(("https://x",), ("HEAD",)),
    ]
    body = s3xml.cors_configuration(rules)
    p = boto_parse("GetBucketCors", body)
    assert p["CORSRules"][0]["AllowedMethods"] == ["GET", "PUT"]
    assert p["CORSRules"][0]["MaxAgeSeconds"] == 300
    assert s3xml.parse_cors_configuration(body) == rules


def test_acl_and_attributes() -> None:
    p = boto_parse("GetBucketAcl", s3xml.access_control_policy())
    assert p["Grants"][0]["Permission"] == "FULL_CONTROL"
    assert p["Grants"][0]["Grantee"]["Type"] == "CanonicalUser"
    body = s3xml.object_attributes(["ETag", "ObjectSize", "StorageClass"], '"abc"', 7)
    p = boto_parse("GetObjectAttributes", body)
    assert (p["ETag"], p["ObjectSize"], p["StorageClass"]) == ("abc", 7, "STANDARD")


def test_continuation_token_roundtrip() -> None:
    tok = s3xml.encode_continuation_token("a/é")
    assert s3xml.decode_continuation_token(tok) == "a/é"
    with pytest.raises(S3Error) as exc:
        s3xml.decode_continuation_token("!!!")
    assert exc.value.code == "InvalidArgument"
    for bad in ("", "/w==", "_w=="):
        with pytest.raises(S3Error):
            s3xml.decode_continuation_token(bad)


# ---------------------------------------------------------------- parsers

S3NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


@pytest.mark.parametrize("ns", ["", " " + S3NS])
def test_parse_delete(ns: str) -> None:
    body = (
        f"<Delete{ns}><Object><Key>a</Key></Object>"
        "<Object><Key>b&amp;c</Key><VersionId>v</VersionId></Object>"
        "<Quiet>true</Quiet></Delete>"
    ).encode()
    objs, quiet = s3xml.parse_delete(body)
    assert objs == [ObjectIdentifier("a"), ObjectIdentifier("b&c", "v")]
    assert quiet is True


def test_parse_delete_limits() -> None:
    many = "".join(f"<Object><Key>k{i}</Key></Object>" for i in range(1001))
    for body in (f"<Delete>{many}</Delete>", "<Delete></Delete>", "<Delete><Object/></Delete>"):
        with pytest.raises(S3Error) as exc:
            s3xml.parse_delete(body.encode())
        assert exc.value.code == "MalformedXML"
    objs, quiet = s3xml.parse_delete(f"<Delete>{many[: many.rfind('<Object>')]}</Delete>".encode())
    assert len(objs) == 1000 and quiet is False


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"<Delete>",
        b"not xml",
        b"<Other/>",
        b"\xff\xfe<",
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><Delete><Object><Key>&a;</Key>'
        b"</Object></Delete>",
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<Delete><Object><Key>&x;</Key></Object></Delete>",
        b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><Delete>&lol2;'
        b"</Delete>",
        b"<Delete><Quiet>maybe</Quiet><Object><Key>a</Key></Object></Delete>",
    ],
)
def test_parse_hostile_or_malformed(body: bytes) -> None:
    with pytest.raises(S3Error) as exc:
        s3xml.parse_delete(body)
    assert exc.value.code == "MalformedXML"


def test_parse_complete_multipart_upload() -> None:
    body = (
        f'<CompleteMultipartUpload {S3NS}><Part><ETag>"e1"</ETag><PartNumber>1</PartNumber></Part>'
        "<Part><PartNumber>3</PartNumber><ETag>&quot;e3&quot;</ETag>"
        "<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>"
    ).encode()
    assert s3xml.parse_complete_multipart_upload(body) == [(1, "e1"), (3, "e3")]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("<CompleteMultipartUpload/>", "MalformedXML"),
        ("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>"
         "</CompleteMultipartUpload>", "MalformedXML"),
        ("<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part>"
         "</CompleteMultipartUpload>", "MalformedXML"),
        ("<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>e</ETag></Part>"
         "</CompleteMultipartUpload>", "InvalidArgument"),
        ("<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>e</ETag></Part>"
         "<Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
         "InvalidPartOrder"),
        ("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>"
         "<Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
         "InvalidPartOrder"),
    ],
)  # fmt: skip
def test_parse_complete_multipart_upload_errors(body: str, code: str) -> None:
    with pytest.raises(S3Error) as exc:
        s3xml.parse_complete_multipart_upload(body.encode())
    assert exc.value.code == code


def _tags(pairs: list[tuple[str, str]]) -> bytes:
    inner = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in pairs)
    return f"<Tagging><TagSet>{inner}</TagSet></Tagging>".encode()


def test_parse_tagging_limits() -> None:
    assert s3xml.parse_tagging(_tags([(f"k{i}", "v") for i in range(10)]))
    assert s3xml.parse_tagging(_tags([("k" * 128, "v" * 256)]))
    assert s3xml.parse_tagging(_tags([("k", "")])) == {"k": ""}
    assert s3xml.parse_tagging(b"<Tagging><TagSet/></Tagging>") == {}
    for pairs in (
        [(f"k{i}", "v") for i in range(11)],
        [("k" * 129, "v")],
        [("k", "v" * 257)],
        [("k", "1"), ("k", "2")],
        [("aws:x", "v")],
        [("", "v")],
    ):
        with pytest.raises(S3Error) as exc:
            s3xml.parse_tagging(_tags(pairs))
        assert exc.value.code == "InvalidTag"
    assert len(s3xml.parse_tagging(_tags([(f"k{i}", "v") for i in range(50)]), max_tags=50)) == 50
    with pytest.raises(S3Error) as exc:
        s3xml.parse_tagging(b"<Tagging/>")
    assert exc.value.code == "MalformedXML"


def test_parse_cors_errors() -> None:
    with pytest.raises(S3Error) as exc:
        s3xml.parse_cors_configuration(b"<CORSConfiguration/>")
    assert exc.value.code == "MalformedXML"
    with pytest.raises(S3Error) as exc:
        s3xml.parse_cors_configuration(
            b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>"
            b"<AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>"
        )
    assert exc.value.code == "InvalidRequest"
    with pytest.raises(S3Error) as exc:
        s3xml.parse_cors_configuration(
            b"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule>"
            b"</CORSConfiguration>"
        )
    assert exc.value.code == "MalformedXML"


def test_parse_versioning_and_create_bucket() -> None:
    body = f"<VersioningConfiguration {S3NS}><Status>Suspended</Status></VersioningConfiguration>"
    assert s3xml.parse_versioning_configuration(body.encode()) == "Suspended"
    with pytest.raises(S3Error):
        s3xml.parse_versioning_configuration(
            b"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>"
        )
    assert s3xml.parse_create_bucket_configuration(b"") is None
    body = (
        f"<CreateBucketConfiguration {S3NS}><LocationConstraint>eu-west-1</LocationConstraint>"
        "</CreateBucketConfiguration>"
    )
    assert s3xml.parse_create_bucket_configuration(body.encode()) == "eu-west-1"
    with pytest.raises(S3Error):
        s3xml.parse_create_bucket_configuration(b"<Bogus/>")
