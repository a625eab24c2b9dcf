"""CORS (with preflight), tagging, ACLs, object attributes, versions — boto3, urllib and
curl against a real node."""

from __future__ import annotations

import http.client
import subprocess
import urllib.parse
from xml.etree import ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from support.clients import have

ORIGIN = "http://app.example.com"
CORS_RULES = [
    {
        "AllowedOrigins": ["http://*.example.com"],
        "AllowedMethods": ["GET", "PUT"],
        "AllowedHeaders": ["Content-Type", "x-amz-*"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 600,
    },
    {"ID": "anyone-head", "AllowedOrigins": ["*"], "AllowedMethods": ["HEAD"]},
]


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp = exc.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def raw(
    node, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One plain HTTP request to the node's S3 API (no signature: open auth)."""
    url = urllib.parse.urlsplit(node.s3_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request(method, url.path + path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def xml_code(body: bytes) -> str | None:
    return ET.fromstring(body).findtext("Code")


# --------------------------------------------------------------------------- CORS


def test_bucket_cors_config_roundtrip(s3) -> None:
    s3.create_bucket(Bucket="corsb")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket="corsb")
    assert error_code(e) == ("NoSuchCORSConfiguration", 404)
    s3.put_bucket_cors(Bucket="corsb", CORSConfiguration={"CORSRules": CORS_RULES})
    got = s3.get_bucket_cors(Bucket="corsb")["CORSRules"]
    assert got[0]["AllowedOrigins"] == ["http://*.example.com"]
    assert got[0]["AllowedMethods"] == ["GET", "PUT"]
    assert got[0]["AllowedHeaders"] == ["Content-Type", "x-amz-*"]
    assert got[0]["ExposeHeaders"] == ["ETag"]
    assert got[0]["MaxAgeSeconds"] == 600
    assert got[1]["ID"] == "anyone-head"
    s3.delete_bucket_cors(Bucket="corsb")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket="corsb")
    assert error_code(e) == ("NoSuchCORSConfiguration", 404)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(
            Bucket="corsb",
            CORSConfiguration={
                "CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]
            },
        )
    assert error_code(e) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket="nocorsbucket")
    assert error_code(e) == ("NoSuchBucket", 404)


def test_preflight_and_actual_request(node, s3) -> None:
    s3.create_bucket(Bucket="webb")
    s3.put_object(Bucket="webb", Key="page.html", Body=b"<p>hi</p>")
    preflight = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type,x-amz-date",
    }
    # no CORS configuration yet
    status, _, body = raw(node, "OPTIONS", "/webb/page.html", preflight)
    assert status == 403 and xml_code(body) == "AccessForbidden"
    # and an actual request gets no CORS headers
    status, headers, _ = raw(node, "GET", "/webb/page.html", {"Origin": ORIGIN})
    assert status == 200 and "access-control-allow-origin" not in headers

    s3.put_bucket_cors(Bucket="webb", CORSConfiguration={"CORSRules": CORS_RULES})
    status, headers, _ = raw(node, "OPTIONS", "/webb/page.html", preflight)
    assert status == 200
    assert headers["access-control-allow-origin"] == ORIGIN
    assert headers["access-control-allow-methods"] == "GET, PUT"
    assert headers["access-control-allow-headers"] == "content-type, x-amz-date"
    assert headers["access-control-expose-headers"] == "ETag"
    assert headers["access-control-max-age"] == "600"
    assert headers["access-control-allow-credentials"] == "true"
    assert "Origin" in headers["vary"]

    # refused: origin, method, header
    for change in (
        {"Origin": "http://evil.com"},
        {"Access-Control-Request-Method": "DELETE"},
        {"Access-Control-Request-Headers": "authorization"},
    ):
        status, headers, body = raw(node, "OPTIONS", "/webb/page.html", {**preflight, **change})
        assert status == 403, change
        assert xml_code(body) == "AccessForbidden"
        assert b"CORSResponse: This CORS request is not allowed" in body
        assert "access-control-allow-origin" not in headers
    # bad preflights
    status, _, body = raw(node, "OPTIONS", "/webb/page.html", {"Origin": ORIGIN})
    assert status == 400 and xml_code(body) == "BadRequest"
    # bucket-level preflight, HEAD allowed to anyone by the second rule
    status, headers, _ = raw(
        node, "OPTIONS", "/webb",
        {"Origin": "https://other.net", "Access-Control-Request-Method": "HEAD"},
    )
    assert status == 200 and headers["access-control-allow-origin"] == "*"
    # missing bucket
    status, _, body = raw(node, "OPTIONS", "/nosuchbkt/x", preflight)
    assert status == 403 and xml_code(body) == "AccessForbidden"

    # actual requests with an Origin carry the headers
    status, headers, body = raw(node, "GET", "/webb/page.html", {"Origin": ORIGIN})
    assert status == 200 and body == b"<p>hi</p>"
    assert headers["access-control-allow-origin"] == ORIGIN
    assert headers["access-control-expose-headers"] == "ETag"
    assert "Origin" in headers["vary"]
    # errors too (a browser needs them to read the error)
    status, headers, _ = raw(node, "GET", "/webb/missing", {"Origin": ORIGIN})
    assert status == 404 and headers["access-control-allow-origin"] == ORIGIN
    # a method no rule allows for that origin: served, without CORS headers
    status, headers, _ = raw(node, "DELETE", "/webb/nothing", {"Origin": ORIGIN})
    assert status in (204, 404) and "access-control-allow-origin" not in headers
    status, headers, _ = raw(node, "HEAD", "/webb/page.html", {"Origin": "https://z.io"})
    assert status == 200 and headers["access-control-allow-origin"] == "*"
    # no Origin: no CORS headers
    status, headers, _ = raw(node, "GET", "/webb/page.html")
    assert status == 200 and "access-control-allow-origin" not in headers

    # deleting the configuration takes effect at once
    s3.delete_bucket_cors(Bucket="webb")
    status, _, _ = raw(node, "OPTIONS", "/webb/page.html", preflight)
    assert status == 403
    status, headers, _ = raw(node, "GET", "/webb/page.html", {"Origin": ORIGIN})
    assert "access-control-allow-origin" not in headers


@pytest.mark.skipif(not have("curl"), reason="curl not installed")
def test_curl_preflight(node, s3) -> None:
    s3.create_bucket(Bucket="curlcors")
    s3.put_bucket_cors(Bucket="curlcors", CORSConfiguration={"CORSRules": CORS_RULES})
    out = subprocess.run(
        [
            "curl", "-s", "-i", "-X", "OPTIONS",
            "-H", f"Origin: {ORIGIN}",
            "-H", "Access-Control-Request-Method: GET",
            f"{node.s3_url}/curlcors/any/key",
        ],
        check=True, capture_output=True, text=True,
    ).stdout
    assert out.startswith("HTTP/1.1 200")
    assert f"access-control-allow-origin: {ORIGIN}" in out.lower()


# --------------------------------------------------------------------------- tagging


def test_object_tagging(s3) -> None:
    s3.create_bucket(Bucket="tagb")
    s3.put_object(Bucket="tagb", Key="t.txt", Body=b"data", Tagging="a=b&c=d%20e")
    tags = s3.get_object_tagging(Bucket="tagb", Key="t.txt")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"a": "b", "c": "d e"}
    assert s3.head_object(Bucket="tagb", Key="t.txt")["ResponseMetadata"]["HTTPHeaders"][
        "x-amz-tagging-count"
    ] == "2"
    s3.put_object_tagging(
        Bucket="tagb", Key="t.txt", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
    )
    tags = s3.get_object_tagging(Bucket="tagb", Key="t.txt")["TagSet"]
    assert tags == [{"Key": "k", "Value": "v"}]
    # tags change nothing else
    got = s3.get_object(Bucket="tagb", Key="t.txt")
    assert got["Body"].read() == b"data"
    s3.delete_object_tagging(Bucket="tagb", Key="t.txt")
    assert s3.get_object_tagging(Bucket="tagb", Key="t.txt")["TagSet"] == []
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(
            Bucket="tagb", Key="t.txt",
            Tagging={"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]},
        )
    assert error_code(e)[1] == 400
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket="tagb", Key="missing")
    assert error_code(e) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(
            Bucket="tagb", Key="missing", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
        )
    assert error_code(e) == ("NoSuchKey", 404)


def test_bucket_tagging(s3) -> None:
    s3.create_bucket(Bucket="btag")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket="btag")
    assert error_code(e) == ("NoSuchTagSet", 404)
    tagset = [{"Key": f"key{i}", "Value": f"v{i}"} for i in range(50)]
    s3.put_bucket_tagging(Bucket="btag", Tagging={"TagSet": tagset})
    got = s3.get_bucket_tagging(Bucket="btag")["TagSet"]
    assert sorted(got, key=lambda t: t["Key"]) == sorted(tagset, key=lambda t: t["Key"])
    with pytest.raises(ClientError) as e:
        s3.put_bucket_tagging(
            Bucket="btag", Tagging={"TagSet": [*tagset, {"Key": "one", "Value": "more"}]}
        )
    assert error_code(e) == ("InvalidTag", 400)
    s3.delete_bucket_tagging(Bucket="btag")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket="btag")
    assert error_code(e) == ("NoSuchTagSet", 404)


# --------------------------------------------------------------------------- ACL, attributes


def test_acls(s3) -> None:
    s3.create_bucket(Bucket="aclb")
    s3.put_object(Bucket="aclb", Key="o", Body=b"x")
    for acl in (s3.get_bucket_acl(Bucket="aclb"), s3.get_object_acl(Bucket="aclb", Key="o")):
        assert acl["Owner"]["ID"]
        (grant,) = acl["Grants"]
        assert grant["Permission"] == "FULL_CONTROL"
        assert grant["Grantee"]["Type"] == "CanonicalUser"
        assert grant["Grantee"]["ID"] == acl["Owner"]["ID"]
    with pytest.raises(ClientError) as e:
        s3.get_bucket_acl(Bucket="nosuchacl")
    assert error_code(e) == ("NoSuchBucket", 404)


def test_object_attributes(s3) -> None:
    s3.create_bucket(Bucket="attrb")
    put = s3.put_object(Bucket="attrb", Key="small", Body=b"hello", ChecksumAlgorithm="SHA256")
    attrs = s3.get_object_attributes(
        Bucket="attrb", Key="small",
        ObjectAttributes=["ETag", "ObjectSize", "StorageClass", "Checksum", "ObjectParts"],
    )
    assert attrs["ETag"] == put["ETag"].strip('"')
    assert attrs["ObjectSize"] == 5
    assert attrs["StorageClass"] == "STANDARD"
    assert attrs["Checksum"]["ChecksumSHA256"] == put["ChecksumSHA256"]
    assert "ObjectParts" not in attrs
    assert attrs["LastModified"]

    mp = s3.create_multipart_upload(Bucket="attrb", Key="big")
    parts = []
    for n in (1, 2):
        body = bytes([n]) * (5 * 1024 * 1024 if n == 1 else 10)
        r = s3.upload_part(Bucket="attrb", Key="big", UploadId=mp["UploadId"], PartNumber=n,
                           Body=body)
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    s3.complete_multipart_upload(
        Bucket="attrb", Key="big", UploadId=mp["UploadId"], MultipartUpload={"Parts": parts}
    )
    attrs = s3.get_object_attributes(
        Bucket="attrb", Key="big", ObjectAttributes=["ObjectParts", "ObjectSize", "ETag"]
    )
    assert attrs["ObjectParts"]["TotalPartsCount"] == 2
    assert attrs["ObjectSize"] == 5 * 1024 * 1024 + 10
    assert attrs["ETag"].endswith("-2")
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket="attrb", Key="nope", ObjectAttributes=["ETag"])
    assert error_code(e) == ("NoSuchKey", 404)


# --------------------------------------------------------------------------- versions


def test_list_object_versions(s3) -> None:
    s3.create_bucket(Bucket="verb")
    keys = ["a/1", "a/2", "b", "c", "d/x"]
    for k in keys:
        s3.put_object(Bucket="verb", Key=k, Body=k.encode())
    out = s3.list_object_versions(Bucket="verb")
    versions = out["Versions"]
    assert [v["Key"] for v in versions] == keys
    assert all(v["VersionId"] == "null" and v["IsLatest"] for v in versions)
    assert versions[2]["Size"] == 1
    assert out["IsTruncated"] is False
    assert "DeleteMarkers" not in out

    out = s3.list_object_versions(Bucket="verb", Delimiter="/")
    assert [v["Key"] for v in out["Versions"]] == ["b", "c"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/", "d/"]
    out = s3.list_object_versions(Bucket="verb", Prefix="a/")
    assert [v["Key"] for v in out["Versions"]] == ["a/1", "a/2"]

    # paging by key marker, by hand and with the paginator
    out = s3.list_object_versions(Bucket="verb", MaxKeys=2)
    assert out["IsTruncated"] is True
    assert [v["Key"] for v in out["Versions"]] == ["a/1", "a/2"]
    assert out["NextKeyMarker"] == "a/2"
    out = s3.list_object_versions(
        Bucket="verb", MaxKeys=2, KeyMarker=out["NextKeyMarker"],
        VersionIdMarker=out["NextVersionIdMarker"],
    )
    assert [v["Key"] for v in out["Versions"]] == ["b", "c"]
    seen = []
    for page in s3.get_paginator("list_object_versions").paginate(
        Bucket="verb", PaginationConfig={"PageSize": 2}
    ):
        seen += [v["Key"] for v in page.get("Versions", [])]
    assert seen == keys
    with pytest.raises(ClientError) as e:
        s3.list_object_versions(Bucket="nosuchver")
    assert error_code(e) == ("NoSuchBucket", 404)


def test_put_bucket_versioning(s3) -> None:
    s3.create_bucket(Bucket="vconf")
    s3.put_bucket_versioning(Bucket="vconf", VersioningConfiguration={"Status": "Suspended"})
    # objects written while Suspended are the null version
    s3.put_object(Bucket="vconf", Key="k", Body=b"1")
    assert s3.head_object(Bucket="vconf", Key="k", VersionId="null")["ContentLength"] == 1
    # Enabled keeps versions (tests/s3api/test_versioning.py has the rest)
    s3.put_bucket_versioning(Bucket="vconf", VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket="vconf")["Status"] == "Enabled"
    vid = s3.put_object(Bucket="vconf", Key="k", Body=b"22")["VersionId"]
    assert s3.head_object(Bucket="vconf", Key="k", VersionId="null")["ContentLength"] == 1
    assert s3.head_object(Bucket="vconf", Key="k", VersionId=vid)["ContentLength"] == 2
