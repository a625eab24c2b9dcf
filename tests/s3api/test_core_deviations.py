"""Issue 15's core deviations, each as AWS answers it, against a real node with boto3 (and
the aws CLI where natural), with open auth and with SigV4:

1. DeleteBucket of a bucket holding only multipart uploads deletes it and them.
2. A retried CompleteMultipartUpload answers as the first did (also after a restart);
   the record of a completion is collected after its lifetime.
3. If-Match on a key with no object is 404 NoSuchKey, not 412.
4. CreateBucket of a bucket you own: 200 in us-east-1, BucketAlreadyOwnedByYou elsewhere.
5. Object tags come back sorted by key.
7. UploadPartCopy with a range past the source's end: AWS's InvalidArgument.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.clients import have, s3_client
from support.node import NodeProcess, new_node

SIGV4 = """
[auth]
mode = "sigv4"
access_keys = { AKIDCORE = "core-secret" }
"""
PART = 5 * 1024 * 1024


def signed(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIDCORE",
        aws_secret_access_key="core-secret", config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(params=["open", "sigv4"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[NodeProcess, Any]]:
    """A node and a boto3 client of it, in each auth mode."""
    sig = request.param == "sigv4"
    node = new_node(tmp_path, config=SIGV4 if sig else None).start()
    try:
        yield node, signed(node.s3_url) if sig else s3_client(node.s3_url)
    finally:
        assert node.stop() == 0
        assert "Traceback" not in node.log()


def like(s3: Any, endpoint: str) -> Any:
    """A client as ``s3`` (its keys) of ``endpoint`` (a restarted node's port)."""
    import boto3
    from botocore.config import Config

    creds = s3._request_signer._credentials
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key, config=Config(retries={"max_attempts": 1}),
    )


def code_of(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


# ---- 1 -------------------------------------------------------------------------------


def test_delete_bucket_with_only_uploads_deletes_it_and_them(served: Any) -> None:
    _node, s3 = served
    s3.create_bucket(Bucket="mpu")
    up = s3.create_multipart_upload(Bucket="mpu", Key="a")["UploadId"]
    s3.upload_part(Bucket="mpu", Key="a", UploadId=up, PartNumber=1, Body=b"x" * 1000)
    s3.create_multipart_upload(Bucket="mpu", Key="b/c")
    s3.delete_bucket(Bucket="mpu")
    assert "mpu" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket="mpu", Key="a", UploadId=up)
    assert code_of(e) == ("NoSuchBucket", 404)
    # a bucket of the same name starts empty: no upload came back with it
    s3.create_bucket(Bucket="mpu")
    assert s3.list_multipart_uploads(Bucket="mpu").get("Uploads", []) == []
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket="mpu", Key="a", UploadId=up)
    assert code_of(e) == ("NoSuchUpload", 404)


def test_delete_bucket_with_an_object_keeps_its_uploads(served: Any) -> None:
    _node, s3 = served
    s3.create_bucket(Bucket="full")
    s3.put_object(Bucket="full", Key="o", Body=b"o")
    up = s3.create_multipart_upload(Bucket="full", Key="a")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="full")
    assert code_of(e) == ("BucketNotEmpty", 409)
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="full")["Uploads"]] == [up]


@pytest.mark.skipif(not have("aws"), reason="the aws CLI is not installed")
def test_delete_bucket_with_only_uploads_aws_cli(node: NodeProcess) -> None:
    s3 = s3_client(node.s3_url)
    s3.create_bucket(Bucket="cli")
    s3.create_multipart_upload(Bucket="cli", Key="k")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "FAKEKEY", "AWS_SECRET_ACCESS_KEY": "FAKESECRET"}
    out = subprocess.run(
        ["aws", "s3", "rb", "s3://cli", "--endpoint-url", node.s3_url],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "cli" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


# ---- 2 -------------------------------------------------------------------------------


def _two_part_upload(s3: Any, bucket: str, key: str) -> tuple[str, list[dict[str, Any]]]:
    up = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = []
    for n, body in ((1, b"a" * PART), (2, b"tail")):
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=n, Body=body)["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    return up, parts


def test_retried_complete_answers_as_the_first(served: Any) -> None:
    node, s3 = served
    s3.create_bucket(Bucket="retry")
    up, parts = _two_part_upload(s3, "retry", "k")
    first = s3.complete_multipart_upload(
        Bucket="retry", Key="k", UploadId=up, MultipartUpload={"Parts": parts}
    )
    again = s3.complete_multipart_upload(
        Bucket="retry", Key="k", UploadId=up, MultipartUpload={"Parts": parts},
        IfNoneMatch="*",  # true for the first request: a retry is not checked again
    )
    assert again["ETag"] == first["ETag"] and again["Key"] == "k"
    # the record is durable: a restarted node still answers the retry
    node.restart()
    s3 = like(s3, node.s3_url)
    again = s3.complete_multipart_upload(
        Bucket="retry", Key="k", UploadId=up, MultipartUpload={"Parts": parts}
    )
    assert again["ETag"] == first["ETag"]
    # another list of parts is not a retry
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket="retry", Key="k", UploadId=up, MultipartUpload={"Parts": parts[:1]}
        )
    assert code_of(e) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket="retry", Key="k", UploadId=up)
    assert code_of(e) == ("NoSuchUpload", 404)
    # once the object is another one, the upload is gone for good
    s3.put_object(Bucket="retry", Key="k", Body=b"other")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket="retry", Key="k", UploadId=up, MultipartUpload={"Parts": parts}
        )
    assert code_of(e) == ("NoSuchUpload", 404)
    assert s3.get_object(Bucket="retry", Key="k")["Body"].read() == b"other"


def test_retry_of_an_unknown_or_aborted_upload_is_no_such_upload(served: Any) -> None:
    _node, s3 = served
    s3.create_bucket(Bucket="gone")
    up, parts = _two_part_upload(s3, "gone", "k")
    s3.abort_multipart_upload(Bucket="gone", Key="k", UploadId=up)
    for upload_id in (up, "0" * 32):
        with pytest.raises(ClientError) as e:
            s3.complete_multipart_upload(
                Bucket="gone", Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        assert code_of(e) == ("NoSuchUpload", 404)


async def test_completion_records_are_collected(tmp_path: Path) -> None:
    """The store keeps a completion for ``completed_keep_seconds``; gc
    (``reclaim_uploads``) forgets it after."""
    from aisfs.store import ObjectMeta, StoreConfig, open_store

    mp = tmp_path / "mp"
    mp.mkdir()
    config = StoreConfig(mountpaths=[mp], index_dir=tmp_path / "index", fsync=False,
                         min_part_size=1)

    async def body() -> Any:
        yield b"data"

    async with open_store(config) as store:
        await store.create_bucket("b")
        up = await store.create_upload("b", "k", ObjectMeta())
        part = await store.put_part(up.upload_id, "b", "k", 1, body())
        await store.complete_upload(up.upload_id, "b", "k", [(1, part.etag)])
        done = await store.multipart.completed(up.upload_id, "b", "k")
        assert done is not None and done["parts"] == [[1, part.etag]]
        assert await store.reclaim_uploads(3600) == 0
        assert await store.multipart.completed(up.upload_id, "b", "k") is not None
        store.multipart.completed_keep_seconds = 0
        await store.reclaim_uploads(3600)
        assert await store.multipart.completed(up.upload_id, "b", "k") is None


# ---- 3 -------------------------------------------------------------------------------


def test_if_match_on_a_missing_key_is_no_such_key(served: Any) -> None:
    _node, s3 = served
    s3.create_bucket(Bucket="cond")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="cond", Key="nope", Body=b"x", IfMatch='"abc"')
    assert code_of(e) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="cond", Key="nope", Body=b"x", IfMatch="*")
    assert code_of(e) == ("NoSuchKey", 404)
    up, parts = _two_part_upload(s3, "cond", "mp")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket="cond", Key="mp", UploadId=up, MultipartUpload={"Parts": parts}, IfMatch="*"
        )
    assert code_of(e) == ("NoSuchKey", 404)
    # the upload is still in progress after the refusal
    assert len(s3.list_parts(Bucket="cond", Key="mp", UploadId=up)["Parts"]) == 2
    # an object there with another ETag: 412 as before
    etag = s3.put_object(Bucket="cond", Key="there", Body=b"x")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="cond", Key="there", Body=b"y", IfMatch='"0000"')
    assert code_of(e) == ("PreconditionFailed", 412)
    s3.put_object(Bucket="cond", Key="there", Body=b"y", IfMatch=etag)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="cond", Key="nope", IfMatch=etag)
    assert code_of(e) == ("NoSuchKey", 404)


# ---- 4 -------------------------------------------------------------------------------


def test_create_bucket_you_own_is_200_in_us_east_1(served: Any) -> None:
    _node, s3 = served
    s3.create_bucket(Bucket="mine")
    s3.put_object(Bucket="mine", Key="k", Body=b"kept")
    s3.create_bucket(Bucket="mine")
    assert s3.get_object(Bucket="mine", Key="k")["Body"].read() == b"kept"
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="Not_Valid")
    assert code_of(e) == ("InvalidBucketName", 400)


def test_create_bucket_you_own_elsewhere_is_already_owned(tmp_path: Path) -> None:
    node = new_node(tmp_path, config='[auth]\nregion = "eu-west-1"\n').start()
    try:
        s3 = s3_client(node.s3_url)
        conf = {"LocationConstraint": "eu-west-1"}
        s3.create_bucket(Bucket="mine", CreateBucketConfiguration=conf)
        with pytest.raises(ClientError) as e:
            s3.create_bucket(Bucket="mine", CreateBucketConfiguration=conf)
        assert code_of(e) == ("BucketAlreadyOwnedByYou", 409)
    finally:
        assert node.stop() == 0


# ---- 5 -------------------------------------------------------------------------------


def test_object_tags_come_back_sorted_by_key(served: Any) -> None:
    _node, s3 = served
    s3.create_bucket(Bucket="tags")
    tags = [{"Key": k, "Value": v} for k, v in (("zeta", "1"), ("alpha", "2"), ("Mid", "3"))]
    s3.put_object(Bucket="tags", Key="k", Body=b"x")
    s3.put_object_tagging(Bucket="tags", Key="k", Tagging={"TagSet": tags})
    want = sorted(tags, key=lambda t: t["Key"])
    assert s3.get_object_tagging(Bucket="tags", Key="k")["TagSet"] == want
    s3.put_object(Bucket="tags", Key="h", Body=b"x", Tagging="zeta=1&alpha=2&Mid=3")
    assert s3.get_object_tagging(Bucket="tags", Key="h")["TagSet"] == want


# ---- 7 -------------------------------------------------------------------------------

FORM = (
    "The x-amz-copy-source-range value must be of the form bytes=first-last where first and "
    "last are the zero-based offsets of the first and last bytes to copy"
)


@pytest.mark.parametrize(
    ("span", "message"),
    [
        ("bytes=0-10", "Range specified is not valid for source object of size: 10"),
        ("bytes=10-12", "Range specified is not valid for source object of size: 10"),
        ("bytes=5-2", "Range specified is not valid for source object of size: 10"),
        ("bytes=0", FORM),
        ("0-2", FORM),
        ("bytes=a-z", FORM),
        ("bytes=0-2,3-5", FORM),
    ],
)
def test_upload_part_copy_range_past_the_end(served: Any, span: str, message: str) -> None:
    _node, s3 = served
    s3.create_bucket(Bucket="copy")
    s3.put_object(Bucket="copy", Key="src", Body=b"0123456789")
    up = s3.create_multipart_upload(Bucket="copy", Key="dst")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(
            Bucket="copy", Key="dst", UploadId=up, PartNumber=1,
            CopySource={"Bucket": "copy", "Key": "src"}, CopySourceRange=span,
        )
    assert code_of(e) == ("InvalidArgument", 400)
    err = e.value.response["Error"]
    assert err["Message"] == message
    assert err["ArgumentName"] == "x-amz-copy-source-range" and err["ArgumentValue"] == span
    assert s3.list_parts(Bucket="copy", Key="dst", UploadId=up).get("Parts", []) == []
    # the last byte exactly is in range
    r = s3.upload_part_copy(
        Bucket="copy", Key="dst", UploadId=up, PartNumber=1,
        CopySource={"Bucket": "copy", "Key": "src"}, CopySourceRange="bytes=7-9",
    )
    assert r["CopyPartResult"]["ETag"]


@pytest.mark.skipif(not have("aws"), reason="the aws CLI is not installed")
def test_upload_part_copy_range_past_the_end_aws_cli(node: NodeProcess) -> None:
    s3 = s3_client(node.s3_url)
    s3.create_bucket(Bucket="cli")
    s3.put_object(Bucket="cli", Key="src", Body=b"0123456789")
    up = s3.create_multipart_upload(Bucket="cli", Key="dst")["UploadId"]
    out = subprocess.run(
        ["aws", "s3api", "upload-part-copy", "--bucket", "cli", "--key", "dst",
         f"--upload-id={up}", "--part-number", "1", "--copy-source", "cli/src",
         "--copy-source-range", "bytes=0-99", "--endpoint-url", node.s3_url],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode != 0
    assert "InvalidArgument" in out.stderr
    assert "Range specified is not valid for source object of size: 10" in out.stderr
    listed = subprocess.run(
        ["aws", "s3api", "list-parts", "--bucket", "cli", "--key", "dst", f"--upload-id={up}",
         "--endpoint-url", node.s3_url],
        capture_output=True, text=True, timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert not json.loads(listed.stdout or "{}").get("Parts")
