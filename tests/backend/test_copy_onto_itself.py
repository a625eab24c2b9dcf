"""A copy of an object onto itself with new metadata (how a client - and the mount's
chmod, chown and utime - changes an object's metadata in S3) is a server-side copy in the
backend; the front keeps its cached copy with the new metadata when the copy's ETag is
the cached one's (the same bytes), and drops it when it is not (the backend's object had
changed behind the front's back). Each backend, both auth modes."""

from __future__ import annotations

import os

from support.node import NodeProcess

from .conftest import Target, cached, client_of, wait_cached


def test_a_metadata_copy_onto_itself_keeps_the_cached_copy(
    front_node: NodeProcess, target: Target,
) -> None:
    bucket = target.new_bucket()
    s3, direct = client_of(front_node), target.client()
    data = os.urandom(70_000)
    s3.put_object(Bucket=bucket, Key="f", Body=data, Metadata={"mode": "33188"})
    assert cached(s3.head_object(Bucket=bucket, Key="f")) == "true"  # written through

    s3.copy_object(Bucket=bucket, Key="f", CopySource={"Bucket": bucket, "Key": "f"},
                   MetadataDirective="REPLACE", Metadata={"mode": "33257"},
                   ContentType="text/plain", CacheControl="max-age=60")
    head = s3.head_object(Bucket=bucket, Key="f")
    assert cached(head) == "true"
    assert head["Metadata"] == {"mode": "33257"} and head["ContentType"] == "text/plain"
    assert head["CacheControl"] == "max-age=60"
    back = direct.head_object(Bucket=bucket, Key="f")
    assert back["Metadata"] == {"mode": "33257"} and back["CacheControl"] == "max-age=60"
    assert back["ETag"] == head["ETag"]
    got = s3.get_object(Bucket=bucket, Key="f")
    assert got["Body"].read() == data and got["Metadata"] == {"mode": "33257"}


def test_a_stale_cached_copy_is_not_kept_by_a_copy_onto_itself(
    front_node: NodeProcess, target: Target,
) -> None:
    bucket = target.new_bucket()
    s3, direct = client_of(front_node), target.client()
    s3.put_object(Bucket=bucket, Key="f", Body=b"cached bytes")
    direct.put_object(Bucket=bucket, Key="f", Body=b"newer bytes, behind the front's back")
    s3.copy_object(Bucket=bucket, Key="f", CopySource={"Bucket": bucket, "Key": "f"},
                   MetadataDirective="REPLACE", Metadata={"mode": "33257"})
    assert cached(s3.head_object(Bucket=bucket, Key="f")) == "false"
    got = s3.get_object(Bucket=bucket, Key="f")
    assert got["Body"].read() == b"newer bytes, behind the front's back"
    assert got["Metadata"] == {"mode": "33257"}


def test_a_multipart_object_keeps_its_cached_copy_through_a_metadata_copy(
    front_node: NodeProcess, target: Target,
) -> None:
    """A multipart object's copy onto itself gets a new ETag in the backend (the copy is a
    single object now); the front made the copy on the condition that the backend's
    object was its cached copy (CopySourceIfMatch), so the bytes are those it holds and
    it keeps them under the new ETag - a mount's final chmod after a write-behind upload
    used to drop the file's cached copy."""
    bucket = target.new_bucket()
    s3, direct = client_of(front_node), target.client()
    parts = [os.urandom(5 << 20), os.urandom(70_000)]
    upload = direct.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    done = [{"PartNumber": n, "ETag": direct.upload_part(
        Bucket=bucket, Key="big", UploadId=upload, PartNumber=n, Body=p)["ETag"]}
        for n, p in enumerate(parts, start=1)]
    direct.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload,
                                     MultipartUpload={"Parts": done})
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == b"".join(parts)
    wait_cached(s3, bucket, "big")

    s3.copy_object(Bucket=bucket, Key="big", CopySource={"Bucket": bucket, "Key": "big"},
                   MetadataDirective="REPLACE", Metadata={"mode": "33257"})
    head = s3.head_object(Bucket=bucket, Key="big")
    assert cached(head) == "true"
    assert head["Metadata"] == {"mode": "33257"}
    assert head["ETag"] == direct.head_object(Bucket=bucket, Key="big")["ETag"]
    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["Body"].read() == b"".join(parts) and got["ETag"] == head["ETag"]
