"""CopyObject (and UploadPartCopy) whose ``x-amz-copy-source`` names a version
(``?versionId=``) on remote buckets, against moto with versioning on, the front open and
signed:

- within one backend: the backend's server-side copy of that version (``CopySource``'s
  VersionId passed on), also onto the key itself (restoring an older version);
- from another backend (here: moto under another endpoint spelling, a bucket's
  ``extra.aws.endpoint``): that version read through the node, never cached, written
  through;
- from a versioned ``ais://`` bucket of the node to a remote bucket;
- to an ``ais://`` bucket of the node from a backend's object or version (read through
  the node, written as a local PutObject/UploadPart);
- refusals as S3's: a version the backend has not (404 NoSuchVersion), a delete marker
  named (400 InvalidRequest; moto says NoSuchVersion, its HEAD 405).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.clients import fronting
from support.node import NodeProcess

from .conftest import Target, cached, client_of, wait_cached
from .test_jobs_prefetch import native

pytestmark = pytest.mark.parametrize("target", ["moto", "aisfs"], indirect=True)


def missing(version: str) -> str:
    """A version id of the backend's own form that it does not have."""
    return version[:-1] + ("0" if version[-1] != "0" else "1")


def versioned(target: Target) -> tuple[str, str, str]:
    """A versioned backend bucket whose key ``k`` has versions ``one`` then ``two``."""
    bucket = target.new_bucket()
    direct = target.client()
    direct.put_bucket_versioning(Bucket=bucket,
                                 VersioningConfiguration={"Status": "Enabled"})
    v1 = direct.put_object(Bucket=bucket, Key="k", Body=b"one", ContentType="text/x-one",
                           Metadata={"gen": "1"})["VersionId"]
    v2 = direct.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    return bucket, v1, v2


def error(call: Any, **kw: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as e:
        call(**kw)
    return (e.value.response["Error"]["Code"],
            e.value.response["ResponseMetadata"]["HTTPStatusCode"])


def test_server_side_copy_of_a_version(front_node: NodeProcess, target: Target) -> None:
    bucket, v1, v2 = versioned(target)
    direct = target.client()
    s3 = client_of(front_node)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    wait_cached(s3, bucket, "k")

    done = s3.copy_object(Bucket=bucket, Key="old", CopySource={
        "Bucket": bucket, "Key": "k", "VersionId": v1})
    assert done["CopySourceVersionId"] == v1 and done["VersionId"]
    got = direct.get_object(Bucket=bucket, Key="old")
    assert got["Body"].read() == b"one" and got["VersionId"] == done["VersionId"]
    assert got["ContentType"] == "text/x-one" and got["Metadata"] == {"gen": "1"}
    assert s3.get_object(Bucket=bucket, Key="old")["Body"].read() == b"one"

    # REPLACE with a version; and the version onto the key itself: the old one restored
    done = s3.copy_object(Bucket=bucket, Key="replaced", MetadataDirective="REPLACE",
                          ContentType="text/x-new", Metadata={"m": "new"},
                          CopySource={"Bucket": bucket, "Key": "k", "VersionId": v1})
    got = direct.get_object(Bucket=bucket, Key="replaced")
    assert got["Body"].read() == b"one" and got["Metadata"] == {"m": "new"}
    done = s3.copy_object(Bucket=bucket, Key="k", CopySource={
        "Bucket": bucket, "Key": "k", "VersionId": v1})
    assert done["CopySourceVersionId"] == v1
    current = s3.get_object(Bucket=bucket, Key="k")
    assert current["Body"].read() == b"one" and current["VersionId"] == done["VersionId"]
    versions = direct.list_object_versions(Bucket=bucket, Prefix="k")["Versions"]
    assert [v["VersionId"] for v in versions if v["Key"] == "k"][1:] == [v2, v1]

    # the source's preconditions are the version's
    etag_v1 = direct.head_object(Bucket=bucket, Key="k", VersionId=v1)["ETag"]
    s3.copy_object(Bucket=bucket, Key="cond", CopySourceIfMatch=etag_v1,
                   CopySource={"Bucket": bucket, "Key": "k", "VersionId": v1})
    assert error(s3.copy_object, Bucket=bucket, Key="cond", CopySourceIfNoneMatch=etag_v1,
                 CopySource={"Bucket": bucket, "Key": "k", "VersionId": v1}) \
        == ("PreconditionFailed", 412)


def test_refusals(front_node: NodeProcess, target: Target) -> None:
    bucket, v1, _ = versioned(target)
    direct = target.client()
    s3 = client_of(front_node)
    marker = direct.delete_object(Bucket=bucket, Key="k")["VersionId"]
    gone = missing(v1)
    other = target.new_bucket()
    for dst in (bucket, other):  # server-side (same backend, same props) and plain
        assert error(s3.copy_object, Bucket=dst, Key="x", CopySource={
            "Bucket": bucket, "Key": "k", "VersionId": gone}) == ("NoSuchVersion", 404)
        assert error(s3.copy_object, Bucket=dst, Key="x", CopySource={
            "Bucket": bucket, "Key": "k", "VersionId": marker}) == ("InvalidRequest", 400)
    # an empty versionId (botocore drops it: the header set before signing)
    def empty_version(request: Any, **_: Any) -> None:
        del request.headers["x-amz-copy-source"]  # (botocore's headers: a set adds one)
        request.headers["x-amz-copy-source"] = f"/{bucket}/k?versionId="

    s3.meta.events.register("before-sign.s3.CopyObject", empty_version)
    for dst in (bucket, other):
        assert error(s3.copy_object, Bucket=dst, Key="x", CopySource={
            "Bucket": bucket, "Key": "k"}) == ("InvalidArgument", 400)
    s3.meta.events.unregister("before-sign.s3.CopyObject", empty_version)
    # the version itself is still there to copy: the marker only hides the key
    s3.copy_object(Bucket=other, Key="x", CopySource={"Bucket": bucket, "Key": "k",
                                                      "VersionId": v1})
    assert direct.get_object(Bucket=other, Key="x")["Body"].read() == b"one"


def test_copy_across_backends(front_node: NodeProcess, target: Target) -> None:
    """The destination's backend is moto under another endpoint spelling (the bucket's
    ``extra.aws.endpoint``): not the source's backend, so the version is read through
    the node (not cached) and written through."""
    bucket, v1, _ = versioned(target)
    direct = target.client()
    s3 = client_of(front_node)
    dst = target.new_bucket()
    elsewhere = target.endpoint.replace("127.0.0.1", "localhost")
    assert elsewhere != target.endpoint
    with native(front_node) as http:
        http.head(f"/v1/buckets/{dst}", params={"provider": "aws"}).raise_for_status()
        http.patch(f"/v1/buckets/{dst}", params={"provider": "aws"}, json={
            "action": "set-bprops",
            "value": {"extra": {"aws": {"endpoint": elsewhere}}}}).raise_for_status()
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    wait_cached(s3, bucket, "k")

    done = s3.copy_object(Bucket=dst, Key="c", CopySource={
        "Bucket": bucket, "Key": "k", "VersionId": v1})
    assert done["CopySourceVersionId"] == v1
    got = direct.get_object(Bucket=dst, Key="c")
    assert got["Body"].read() == b"one" and got["ContentType"] == "text/x-one"
    assert got["Metadata"] == {"gen": "1"}
    # the cached current version of the source is untouched
    again = s3.get_object(Bucket=bucket, Key="k")
    assert cached(again) == "true" and again["Body"].read() == b"two"
    # and the copy's own copy, written through, is warm (a server-side copy drops it)
    warm = s3.get_object(Bucket=dst, Key="c")
    assert cached(warm) == "true" and warm["Body"].read() == b"one"

    # UploadPartCopy of a version, across backends too
    up = s3.create_multipart_upload(Bucket=dst, Key="mp")["UploadId"]
    part = s3.upload_part_copy(Bucket=dst, Key="mp", UploadId=up, PartNumber=1,
                               CopySource={"Bucket": bucket, "Key": "k", "VersionId": v1},
                               CopySourceRange="bytes=1-2")
    s3.complete_multipart_upload(Bucket=dst, Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]})
    assert direct.get_object(Bucket=dst, Key="mp")["Body"].read() == b"ne"


def test_upload_part_copy_of_a_version(front_node: NodeProcess, target: Target) -> None:
    bucket, v1, _ = versioned(target)
    direct = target.client()
    s3 = client_of(front_node)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1,
                               CopySource={"Bucket": bucket, "Key": "k", "VersionId": v1})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]})
    assert direct.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"one"
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp2")["UploadId"]
    assert error(s3.upload_part_copy, Bucket=bucket, Key="mp2", UploadId=up, PartNumber=1,
                 CopySource={"Bucket": bucket, "Key": "k", "VersionId": missing(v1)}) \
        == ("NoSuchVersion", 404)
    s3.abort_multipart_upload(Bucket=bucket, Key="mp2", UploadId=up)


def test_between_ais_and_remote(front_node: NodeProcess, target: Target) -> None:
    bucket, v1, _ = versioned(target)
    direct = target.client()
    s3 = client_of(front_node)
    local = "loc-" + uuid.uuid4().hex[:10]
    s3.create_bucket(Bucket=local)
    s3.put_bucket_versioning(Bucket=local, VersioningConfiguration={"Status": "Enabled"})
    l1 = s3.put_object(Bucket=local, Key="a", Body=b"local one")["VersionId"]
    s3.put_object(Bucket=local, Key="a", Body=b"local two")

    # an ais:// version to a remote bucket
    done = s3.copy_object(Bucket=bucket, Key="from-ais", CopySource={
        "Bucket": local, "Key": "a", "VersionId": l1})
    assert done["CopySourceVersionId"] == l1
    assert direct.get_object(Bucket=bucket, Key="from-ais")["Body"].read() == b"local one"

    # a remote version into the (versioned) ais:// bucket, read through the node
    done = s3.copy_object(Bucket=local, Key="from-s3", CopySource={
        "Bucket": bucket, "Key": "k", "VersionId": v1})
    assert done["CopySourceVersionId"] == v1 and done["VersionId"]
    got = s3.get_object(Bucket=local, Key="from-s3")
    assert got["Body"].read() == b"one" and got["ContentType"] == "text/x-one"
    assert got["Metadata"] == {"gen": "1"} and got["VersionId"] == done["VersionId"]
    # the backend object's tags come with it (a version's own)
    direct.put_object_tagging(Bucket=bucket, Key="k", VersionId=v1,
                              Tagging={"TagSet": [{"Key": "gen", "Value": "one"}]})
    s3.copy_object(Bucket=local, Key="tagged", CopySource={
        "Bucket": bucket, "Key": "k", "VersionId": v1})
    assert s3.get_object_tagging(Bucket=local, Key="tagged")["TagSet"] == [
        {"Key": "gen", "Value": "one"}]
    # the current object, REPLACE with tags
    s3.copy_object(Bucket=local, Key="cur", CopySource={"Bucket": bucket, "Key": "k"},
                   MetadataDirective="REPLACE", ContentType="text/x-r", Metadata={"r": "1"},
                   TaggingDirective="REPLACE", Tagging="t=v")
    got = s3.get_object(Bucket=local, Key="cur")
    assert got["Body"].read() == b"two" and got["Metadata"] == {"r": "1"}
    assert got["ContentType"] == "text/x-r"
    assert s3.get_object_tagging(Bucket=local, Key="cur")["TagSet"] == [
        {"Key": "t", "Value": "v"}]
    # UploadPartCopy of a range of a remote version into a local upload
    up = s3.create_multipart_upload(Bucket=local, Key="mp")["UploadId"]
    part = s3.upload_part_copy(Bucket=local, Key="mp", UploadId=up, PartNumber=1,
                               CopySource={"Bucket": bucket, "Key": "k", "VersionId": v1},
                               CopySourceRange="bytes=0-1")
    assert part["CopySourceVersionId"] == v1
    assert error(s3.upload_part_copy, Bucket=local, Key="mp", UploadId=up, PartNumber=2,
                 CopySource={"Bucket": bucket, "Key": "k", "VersionId": v1},
                 CopySourceRange="bytes=0-3") == ("InvalidArgument", 400)
    s3.complete_multipart_upload(Bucket=local, Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=local, Key="mp")["Body"].read() == b"on"
    # refusals as for a remote destination
    assert error(s3.copy_object, Bucket=local, Key="x", CopySource={
        "Bucket": bucket, "Key": "k", "VersionId": missing(v1)}) == ("NoSuchVersion", 404)
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]  # the cached copy too
    assert error(s3.copy_object, Bucket=local, Key="x", CopySource={
        "Bucket": bucket, "Key": "k", "VersionId": marker}) == ("InvalidRequest", 400)
    assert error(s3.copy_object, Bucket=local, Key="x", CopySource={
        "Bucket": bucket, "Key": "k"}) == ("NoSuchKey", 404)
    # a missing destination is still NoSuchBucket; ais:// to ais:// is the local copy
    assert error(s3.copy_object, Bucket="no-such-" + local, Key="x", CopySource={
        "Bucket": bucket, "Key": "k", "VersionId": v1}) == ("NoSuchBucket", 404)
    s3.copy_object(Bucket=local, Key="b", CopySource={"Bucket": local, "Key": "a",
                                                      "VersionId": l1})
    assert s3.get_object(Bucket=local, Key="b")["Body"].read() == b"local one"
    # a version onto its own key (a restore, as S3 allows it), without one: refused
    done = s3.copy_object(Bucket=local, Key="a", CopySource={"Bucket": local, "Key": "a",
                                                             "VersionId": l1})
    assert done["CopySourceVersionId"] == l1
    assert s3.get_object(Bucket=local, Key="a")["Body"].read() == b"local one"
    assert error(s3.copy_object, Bucket=local, Key="a", CopySource={
        "Bucket": local, "Key": "a"}) == ("InvalidRequest", 400)


def test_from_backend_bck_into_ais(front_node: NodeProcess, target: Target) -> None:
    """The source an ``ais://`` bucket with ``backend_bck``: its object as a GET reads it
    (cold here: not only a cached copy), a version of it too."""
    remote, v1, _ = versioned(target)
    name = "cp-" + remote[-8:]
    local = "cpl-" + remote[-8:]
    with native(front_node) as http:
        fronting(http, name, remote)
    s3 = client_of(front_node)
    s3.create_bucket(Bucket=local)
    s3.copy_object(Bucket=local, Key="cur", CopySource={"Bucket": name, "Key": "k"})
    s3.copy_object(Bucket=local, Key="old", CopySource={"Bucket": name, "Key": "k",
                                                        "VersionId": v1})
    assert s3.get_object(Bucket=local, Key="cur")["Body"].read() == b"two"
    assert s3.get_object(Bucket=local, Key="old")["Body"].read() == b"one"


@pytest.mark.parametrize("front_node", [True], indirect=True, ids=["signed"])
def test_a_user_who_may_not_read_the_source(front_node: NodeProcess, target: Target) -> None:
    """A node's backend buckets are its admins' (docs/auth.md): a user who may not GET an
    ``s3://`` object may not copy it into a bucket of their own either (CopyObject,
    UploadPartCopy: 403, nothing written)."""
    import boto3
    from botocore.config import Config

    bucket, v1, _ = versioned(target)
    client_of(front_node).head_bucket(Bucket=bucket)
    name = "eve" + uuid.uuid4().hex[:6]
    key, secret = "AK" + name.upper(), "eve-secret-" + name
    with native(front_node) as http:
        http.post("/v1/users", json={"name": name, "access_key": key, "secret_key": secret}
                  ).raise_for_status()
    eve = boto3.client("s3", endpoint_url=front_node.s3_url, region_name="us-east-1",
                       aws_access_key_id=key, aws_secret_access_key=secret,
                       config=Config(retries={"max_attempts": 1},
                                     s3={"addressing_style": "path"}))
    own = name + "-b"
    eve.create_bucket(Bucket=own)
    assert error(eve.get_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)
    for source in ({"Bucket": bucket, "Key": "k"},
                   {"Bucket": bucket, "Key": "k", "VersionId": v1}):
        assert error(eve.copy_object, Bucket=own, Key="c", CopySource=source) \
            == ("AccessDenied", 403)
    up = eve.create_multipart_upload(Bucket=own, Key="m")["UploadId"]
    assert error(eve.upload_part_copy, Bucket=own, Key="m", UploadId=up, PartNumber=1,
                 CopySource={"Bucket": bucket, "Key": "k"}) == ("AccessDenied", 403)
    eve.abort_multipart_upload(Bucket=own, Key="m", UploadId=up)
    assert "Contents" not in eve.list_objects_v2(Bucket=own)
