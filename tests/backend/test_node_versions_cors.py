"""A front node's S3 API on remote buckets: ``?versionId=`` and ``?partNumber=`` GET/HEAD
(forwarded when cold, served from the cached copy when it is what was asked), and CORS
rules of an ``s3://`` bucket (kept on the node, applied to preflights and responses)."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.node import NodeProcess

from .conftest import Target, cached, client_of, wait_cached

MiB = 1024 * 1024


def error_of(call: Any, **kw: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as e:
        call(**kw)
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize("target", ["moto", "ceph"], indirect=True)
def test_version_id_get_and_head(front_node: NodeProcess, target: Target) -> None:
    bucket = target.new_bucket()
    direct = target.client()
    direct.put_object(Bucket=bucket, Key="k", Body=b"before versioning")
    direct.put_bucket_versioning(Bucket=bucket,
                                 VersioningConfiguration={"Status": "Enabled"})
    v1 = direct.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = direct.put_object(Bucket=bucket, Key="k", Body=b"two!")["VersionId"]
    s3 = client_of(front_node)

    current = s3.get_object(Bucket=bucket, Key="k")
    assert current["Body"].read() == b"two!" and current["VersionId"] == v2
    old = s3.get_object(Bucket=bucket, Key="k", VersionId=v1)
    assert old["Body"].read() == b"one" and old["VersionId"] == v1 and cached(old) == "false"
    wait_cached(s3, bucket, "k")
    # the old version was not cached in place of the current one
    again = s3.get_object(Bucket=bucket, Key="k")
    assert again["Body"].read() == b"two!" and cached(again) == "true"
    # the current version is the cached copy: served locally
    same = s3.get_object(Bucket=bucket, Key="k", VersionId=v2)
    assert same["Body"].read() == b"two!" and cached(same) == "true"
    assert same["VersionId"] == v2
    head = s3.head_object(Bucket=bucket, Key="k", VersionId=v1)
    assert head["ContentLength"] == 3 and head["VersionId"] == v1
    ranged = s3.get_object(Bucket=bucket, Key="k", VersionId=v1, Range="bytes=1-2")
    assert ranged["Body"].read() == b"ne" and ranged["ContentRange"] == "bytes 1-2/3"
    null = s3.get_object(Bucket=bucket, Key="k", VersionId="null")
    assert null["Body"].read() == b"before versioning"
    assert null["ResponseMetadata"]["HTTPHeaders"]["x-amz-version-id"] == "null"

    code, status = error_of(s3.get_object, Bucket=bucket, Key="k",
                            VersionId="3HL4kqtJlcpXroDTDmjVBH40Nrjfkd")
    assert (code, status) in (("NoSuchVersion", 404), ("InvalidArgument", 400))
    assert error_of(s3.get_object, Bucket=bucket, Key="k", VersionId="")[1] == 400
    # deleted in the backend: a GET of the current object is 404, the old versions stay
    direct.delete_object(Bucket=bucket, Key="k")
    s3.delete_object(Bucket=bucket, Key="k")
    assert error_of(s3.get_object, Bucket=bucket, Key="k")[1] == 404
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"one"


@pytest.mark.parametrize("target", ["moto", "ceph"], indirect=True)
def test_delete_of_a_version(front_node: NodeProcess, target: Target) -> None:
    bucket = target.new_bucket()
    direct = target.client()
    direct.put_bucket_versioning(Bucket=bucket,
                                 VersioningConfiguration={"Status": "Enabled"})
    v1 = direct.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = direct.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    v3 = direct.put_object(Bucket=bucket, Key="k", Body=b"three")["VersionId"]
    s3 = client_of(front_node)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"three"
    wait_cached(s3, bucket, "k")

    # an older version: gone from the backend, the cached current copy stays
    done = s3.delete_object(Bucket=bucket, Key="k", VersionId=v1)
    assert done["VersionId"] == v1
    left = [v["VersionId"] for v in direct.list_object_versions(Bucket=bucket)["Versions"]]
    assert sorted(left) == sorted([v2, v3])
    warm = s3.get_object(Bucket=bucket, Key="k")
    assert warm["Body"].read() == b"three" and cached(warm) == "true"
    # the current version: the cached copy goes with it, the next GET is the previous one
    s3.delete_object(Bucket=bucket, Key="k", VersionId=v3)
    after = s3.get_object(Bucket=bucket, Key="k")
    assert after["Body"].read() == b"two" and cached(after) == "false"
    assert after["VersionId"] == v2
    # DeleteObjects with a VersionId deletes that version, not the current object
    v4 = direct.put_object(Bucket=bucket, Key="k", Body=b"four")["VersionId"]
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": v2}]})
    assert out["Deleted"] == [{"Key": "k", "VersionId": v2}]
    left = [v["VersionId"] for v in direct.list_object_versions(Bucket=bucket)["Versions"]]
    assert left == [v4]
    assert not direct.list_object_versions(Bucket=bucket).get("DeleteMarkers")

    # the versions listed through the node are the backend's, with delete markers
    direct.put_object(Bucket=bucket, Key="a/x", Body=b"x1")
    direct.put_object(Bucket=bucket, Key="a/x", Body=b"x2")
    direct.delete_object(Bucket=bucket, Key="a/x")
    mine = s3.list_object_versions(Bucket=bucket)
    theirs = direct.list_object_versions(Bucket=bucket)
    for field in ("Versions", "DeleteMarkers"):
        assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in mine[field]] == \
            [(v["Key"], v["VersionId"], v["IsLatest"]) for v in theirs[field]]
    assert [v["ETag"] for v in mine["Versions"]] == [v["ETag"] for v in theirs["Versions"]]
    assert len(mine["Versions"]) == 3 and len(mine["DeleteMarkers"]) == 1
    paged = s3.list_object_versions(Bucket=bucket, MaxKeys=1)
    assert paged["IsTruncated"] and paged["NextKeyMarker"] == "a/x"
    rest = s3.list_object_versions(Bucket=bucket, MaxKeys=1000,
                                   KeyMarker=paged["NextKeyMarker"],
                                   VersionIdMarker=paged["NextVersionIdMarker"])
    got = len(paged.get("Versions", [])) + len(paged.get("DeleteMarkers", [])) + \
        len(rest.get("Versions", [])) + len(rest.get("DeleteMarkers", []))
    assert got == 4
    under = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in under["CommonPrefixes"]] == ["a/"]
    assert [v["Key"] for v in under["Versions"]] == ["k"]


@pytest.mark.parametrize("target", ["moto"], indirect=True)
@pytest.mark.parametrize("front_node", [False], indirect=True, ids=["open"])
def test_version_id_through_backend_bck(front_node: NodeProcess, target: Target) -> None:
    from aistore.sdk import Client  # type: ignore[import-untyped]

    remote = target.new_bucket()
    direct = target.client()
    direct.put_bucket_versioning(Bucket=remote,
                                 VersioningConfiguration={"Status": "Enabled"})
    v1 = direct.put_object(Bucket=remote, Key="k", Body=b"first")["VersionId"]
    direct.put_object(Bucket=remote, Key="k", Body=b"second")
    name = "fronts-" + remote[-8:]
    b = Client(front_node.url, max_pool_size=2).bucket(name)
    b.create()
    b.make_request("PATCH", "set-bprops", value={
        "backend_bck": {"name": remote, "provider": "aws"},
        "versioning": {"validate_warm_get": True}})
    s3 = client_of(front_node)
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"second"
    old = s3.get_object(Bucket=name, Key="k", VersionId=v1)
    assert old["Body"].read() == b"first" and old["VersionId"] == v1
    assert s3.head_object(Bucket=name, Key="k", VersionId=v1)["ContentLength"] == 5


def _multipart(direct: Any, bucket: str, key: str, parts: list[bytes]) -> str:
    up = direct.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = []
    for n, body in enumerate(parts, 1):
        etag = direct.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=n,
                                  Body=body)["ETag"]
        done.append({"PartNumber": n, "ETag": etag})
    direct.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up,
                                     MultipartUpload={"Parts": done})
    return str(direct.head_object(Bucket=bucket, Key=key)["ETag"])


def test_part_number_get_and_head(front_node: NodeProcess, target: Target) -> None:
    bucket = target.new_bucket()
    direct = target.client()
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(100)]
    whole = b"".join(parts)
    etag = _multipart(direct, bucket, "mp", parts)
    direct.put_object(Bucket=bucket, Key="single", Body=b"just one part")
    s3 = client_of(front_node)

    def check(number: int, want_cached: str) -> None:
        start = sum(len(p) for p in parts[: number - 1])
        got = s3.get_object(Bucket=bucket, Key="mp", PartNumber=number)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206 and got["ETag"] == etag
        assert got["ContentRange"] == f"bytes {start}-{start + len(parts[number - 1]) - 1}" \
            f"/{len(whole)}"
        assert got["PartsCount"] == 3 and cached(got) == want_cached
        assert got["Body"].read() == parts[number - 1]

    if target.name == "ceph":  # Pacific ignores partNumber: refused, never the whole
        assert error_of(s3.get_object, Bucket=bucket, Key="mp", PartNumber=2) == \
            ("NotImplemented", 501)
        s3.get_object(Bucket=bucket, Key="mp")["Body"].read()
        wait_cached(s3, bucket, "mp")
        assert error_of(s3.get_object, Bucket=bucket, Key="mp", PartNumber=1)[1] == 501
        got = s3.get_object(Bucket=bucket, Key="single", PartNumber=1)
        assert got["Body"].read() == b"just one part"
        assert error_of(s3.get_object, Bucket=bucket, Key="single", PartNumber=2)[1] == 416
        return
    check(2, "false")  # cold: forwarded
    head = s3.head_object(Bucket=bucket, Key="mp", PartNumber=3)
    assert head["ContentLength"] == 100 and head["PartsCount"] == 3
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == whole
    wait_cached(s3, bucket, "mp")
    check(1, "true")  # warm: the span from the backend's HEAD, the bytes local
    check(3, "true")
    assert error_of(s3.get_object, Bucket=bucket, Key="mp", PartNumber=4) == \
        ("InvalidPartNumber", 416)
    assert error_of(s3.get_object, Bucket=bucket, Key="mp", PartNumber=1,
                    Range="bytes=0-1") == ("InvalidRequest", 400)
    assert error_of(s3.get_object, Bucket=bucket, Key="mp", PartNumber=0)[1] == 400

    cold = s3.get_object(Bucket=bucket, Key="single", PartNumber=1)
    assert cold["Body"].read() == b"just one part" and cached(cold) == "false"
    s3.get_object(Bucket=bucket, Key="single")["Body"].read()
    wait_cached(s3, bucket, "single")
    warm = s3.get_object(Bucket=bucket, Key="single", PartNumber=1)
    assert warm["Body"].read() == b"just one part" and cached(warm) == "true"
    assert error_of(s3.get_object, Bucket=bucket, Key="single", PartNumber=2) == \
        ("InvalidPartNumber", 416)
    # changed behind the node: the cached copy's ETag no longer matches, forwarded
    new = [os.urandom(5 * MiB), b"tail"]
    _multipart(direct, bucket, "mp", new)
    changed = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert changed["Body"].read() == b"tail" and cached(changed) == "false"


def _request(url: str, method: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as e:
        e.read()
        e.close()
        return e.code, {k.lower(): v for k, v in e.headers.items()}


def _add_origin(request: Any, **_: Any) -> None:
    request.headers["Origin"] = "https://app.example"


@pytest.mark.parametrize("target", ["moto"], indirect=True)
def test_cors_rules_of_an_s3_bucket(front_node: NodeProcess, target: Target) -> None:
    bucket = target.new_bucket()
    direct = target.client()
    direct.put_object(Bucket=bucket, Key="page.html", Body=b"<html/>")
    s3 = client_of(front_node)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": ["https://app.example"], "AllowedMethods": ["GET", "PUT"],
        "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 60}]})
    rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["https://app.example"]
    # kept on the node, not sent to the backend
    assert error_of(direct.get_bucket_cors, Bucket=bucket)[0] == "NoSuchCORSConfiguration"

    url = f"{front_node.s3_url}/{bucket}/page.html"
    status, headers = _request(url, "OPTIONS", {
        "Origin": "https://app.example", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type"})
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert "PUT" in headers["access-control-allow-methods"]
    assert _request(url, "OPTIONS", {"Origin": "https://evil.example",
                                     "Access-Control-Request-Method": "GET"})[0] == 403
    # a response to a request with an Origin (signed, on the signed node) carries them
    s3.meta.events.register("before-sign.s3.GetObject", _add_origin)
    got = s3.get_object(Bucket=bucket, Key="page.html")
    headers = got["ResponseMetadata"]["HTTPHeaders"]
    assert got["Body"].read() == b"<html/>"
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-expose-headers"] == "ETag"

    s3.delete_bucket_cors(Bucket=bucket)
    assert error_of(s3.get_bucket_cors, Bucket=bucket)[0] == "NoSuchCORSConfiguration"
    assert _request(url, "OPTIONS", {"Origin": "https://app.example",
                                     "Access-Control-Request-Method": "PUT"})[0] == 403
