"""The S3 facade of a node in front of a backend: ``/s3/B`` for ``s3://B``, end to end.

A front node (a real process) whose ``[backend.s3]`` points at moto, Ceph RGW or a
SigV4 aisfs node; boto3 and the aws CLI talk to the front node, and what they did is
checked in the backend directly with boto3.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.clients import have
from support.node import NodeProcess, new_node

from .conftest import FRONT_KEY, FRONT_SECRET, Target, client_of, front_config, wait_cached


def test_cold_warm_ranged_get_of_a_backend_bucket(front_node: NodeProcess, target: Target) -> None:
    bucket = target.new_bucket()
    direct = target.client()
    data = os.urandom(3 * 1024 * 1024 + 17)
    direct.put_object(Bucket=bucket, Key="dir/obj", Body=data, ContentType="image/png",
                      Metadata={"colour": "blue"})
    direct.put_object(Bucket=bucket, Key="ranged", Body=data)
    backend_etag = direct.head_object(Bucket=bucket, Key="dir/obj")["ETag"]
    s3 = client_of(front_node)

    s3.head_bucket(Bucket=bucket)  # discovered on first use
    head = s3.head_object(Bucket=bucket, Key="dir/obj")
    assert head["ContentLength"] == len(data) and head["ETag"] == backend_etag
    cold = s3.get_object(Bucket=bucket, Key="dir/obj")
    assert cold["Body"].read() == data
    assert cold["ETag"] == backend_etag and cold["ContentType"] == "image/png"
    assert cold["Metadata"] == {"colour": "blue"}
    warm = s3.get_object(Bucket=bucket, Key="dir/obj")
    assert warm["ResponseMetadata"]["HTTPHeaders"]["ais-cached"] == "true"
    assert warm["Body"].read() == data and warm["ETag"] == backend_etag
    part = s3.get_object(Bucket=bucket, Key="ranged", Range="bytes=1000-2999")
    assert part["ContentRange"] == f"bytes 1000-2999/{len(data)}"
    assert part["Body"].read() == data[1000:3000]
    assert s3.get_object(Bucket=bucket, Key="dir/obj", Range="bytes=-10")["Body"].read() \
        == data[-10:]

    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="missing")
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="no-such-bucket-anywhere-" + bucket[-6:])
    assert e.value.response["Error"]["Code"] in ("404", "NoSuchBucket")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket in names and not any(n.startswith("@") for n in names)


def test_write_through_delete_copy(front_node: NodeProcess, target: Target) -> None:
    bucket = target.new_bucket()
    direct = target.client()
    s3 = client_of(front_node)
    s3.head_bucket(Bucket=bucket)
    data = os.urandom(200_000)
    put = s3.put_object(Bucket=bucket, Key="a/b.bin", Body=data, Metadata={"k": "v"},
                        ContentType="text/x-test")
    got = direct.get_object(Bucket=bucket, Key="a/b.bin")
    assert got["Body"].read() == data and got["Metadata"] == {"k": "v"}
    assert put["ETag"] == got["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    # the local copy was written with it: a warm GET
    again = s3.get_object(Bucket=bucket, Key="a/b.bin")
    assert again["ResponseMetadata"]["HTTPHeaders"]["ais-cached"] == "true"
    assert again["Body"].read() == data

    copied = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket,
                                                                   "Key": "a/b.bin"})
    assert copied["CopyObjectResult"]["ETag"] == put["ETag"]
    assert direct.get_object(Bucket=bucket, Key="copy")["Body"].read() == data

    # a bad Content-MD5 leaves nothing anywhere
    import base64

    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"x" * 100,
                      ContentMD5=base64.b64encode(hashlib.md5(b"y").digest()).decode())
    assert e.value.response["Error"]["Code"] in ("BadDigest", "InvalidDigest")
    with pytest.raises(ClientError):
        direct.head_object(Bucket=bucket, Key="bad")

    assert s3.delete_object(Bucket=bucket, Key="a/b.bin")["ResponseMetadata"][
        "HTTPStatusCode"] == 204
    with pytest.raises(ClientError):
        direct.head_object(Bucket=bucket, Key="a/b.bin")
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="a/b.bin")
    # a missing key answers what the backend answers: S3's 204, an AIS (aisfs) node's 404
    if target.name == "aisfs":
        with pytest.raises(s3.exceptions.NoSuchKey):
            s3.delete_object(Bucket=bucket, Key="never")
    else:
        assert s3.delete_object(Bucket=bucket, Key="never")["ResponseMetadata"][
            "HTTPStatusCode"] == 204
    res = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "copy"},
                                                               {"Key": "nope"}]})
    assert sorted(d["Key"] for d in res["Deleted"]) == ["copy", "nope"]
    assert direct.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_listing_is_the_backends_paged(front_node: NodeProcess, target: Target) -> None:
    bucket = target.new_bucket()
    direct = target.client()
    keys = [f"d{i % 2}/k{i:02d}" for i in range(7)] + ["top"]
    for k in keys:
        direct.put_object(Bucket=bucket, Key=k, Body=k.encode())
    s3 = client_of(front_node)
    seen = []
    pages = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                              PaginationConfig={"PageSize": 3}):
        pages += 1
        seen += [(c["Key"], c["Size"]) for c in page.get("Contents", [])]
    assert seen == sorted((k, len(k)) for k in keys) and pages == 3
    v1 = []
    for page in s3.get_paginator("list_objects").paginate(Bucket=bucket,
                                                           PaginationConfig={"PageSize": 3}):
        v1 += [c["Key"] for c in page.get("Contents", [])]
    assert v1 == sorted(keys)
    res = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in res["CommonPrefixes"]] == ["d0/", "d1/"]
    assert [c["Key"] for c in res["Contents"]] == ["top"]
    res = s3.list_objects_v2(Bucket=bucket, Prefix="d1/", StartAfter="d1/k03")
    assert [c["Key"] for c in res["Contents"]] == ["d1/k05"]


def test_multipart_upload_is_forwarded(front_node: NodeProcess, target: Target) -> None:
    from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]

    bucket = target.new_bucket()
    s3 = client_of(front_node)
    s3.head_bucket(Bucket=bucket)
    data = os.urandom(12 * 1024 * 1024 + 5)
    cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024,
                         multipart_chunksize=5 * 1024 * 1024, max_concurrency=2)
    s3.upload_fileobj(io.BytesIO(data), bucket, "big", Config=cfg)
    direct = target.client()
    head = direct.head_object(Bucket=bucket, Key="big")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')
    assert s3.head_object(Bucket=bucket, Key="big")["ETag"] == head["ETag"]
    out = io.BytesIO()
    s3.download_fileobj(bucket, "big", out, Config=cfg)
    assert out.getvalue() == data
    # a managed copy of a large object: UploadPartCopy, the backend's within one backend
    s3.copy({"Bucket": bucket, "Key": "big"}, bucket, "big-copy", Config=cfg)
    assert direct.get_object(Bucket=bucket, Key="big-copy")["Body"].read() == data
    # from an ais:// bucket of the node: its ranges read and uploaded as parts
    local = "loc-" + bucket[-10:]
    s3.create_bucket(Bucket=local)
    s3.put_object(Bucket=local, Key="src", Body=data)
    s3.copy({"Bucket": local, "Key": "src"}, bucket, "from-local", Config=cfg)
    assert direct.get_object(Bucket=bucket, Key="from-local")["Body"].read() == data
    # ListParts and Abort are the backend's
    up = s3.create_multipart_upload(Bucket=bucket, Key="aborted")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="aborted", UploadId=up, PartNumber=1, Body=b"p" * 1000)
    parts = s3.list_parts(Bucket=bucket, Key="aborted", UploadId=up)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 1000)]
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("aborted", up)]
    s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=up)
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="aborted")
    assert e.value.response["Error"]["Code"] == "404"


@pytest.mark.skipif(not have("aws"), reason="aws CLI not installed")
@pytest.mark.parametrize("target", ["moto"], indirect=True)
def test_aws_cli_through_the_front(front_node: NodeProcess, target: Target,
                                   tmp_path: Path) -> None:
    bucket = target.new_bucket()
    signed = getattr(front_node, "signed", False)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=FRONT_KEY if signed else "x",
               AWS_SECRET_ACCESS_KEY=FRONT_SECRET if signed else "x",
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "one.txt").write_bytes(b"one\n")
    (src / "sub" / "big.bin").write_bytes(os.urandom(9 * 1024 * 1024))

    def aws(*args: str) -> str:
        return subprocess.run(["aws", "--endpoint-url", front_node.s3_url, "s3", *args],
                              env=env, check=True, capture_output=True, text=True,
                              timeout=120).stdout

    aws("cp", "--recursive", str(src), f"s3://{bucket}/tree/")
    direct = target.client()
    listed = {c["Key"]: c["Size"] for c in direct.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed == {"tree/one.txt": 4, "tree/sub/big.bin": 9 * 1024 * 1024}
    out = aws("ls", "--recursive", f"s3://{bucket}/")
    assert "tree/one.txt" in out and "tree/sub/big.bin" in out
    dst = tmp_path / "dst"
    aws("cp", "--recursive", f"s3://{bucket}/tree/", str(dst))
    assert (dst / "sub" / "big.bin").read_bytes() == (src / "sub" / "big.bin").read_bytes()
    aws("rm", "--recursive", f"s3://{bucket}/tree/")
    assert direct.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


@pytest.mark.allow_node_errors
def test_backend_down_is_503_naming_it(tmp_path: Path, moto_server: Any) -> None:
    from botocore.exceptions import ClientError

    from support.ceph import free_port

    t = Target("moto", moto_server.endpoint, moto_server.access_key, moto_server.secret_key)
    bucket = t.new_bucket()
    t.client().put_object(Bucket=bucket, Key="warm", Body=b"cached")
    node = new_node(tmp_path / "a", config=front_config(t)).start()
    try:
        s3 = client_of(node)
        assert s3.get_object(Bucket=bucket, Key="warm")["Body"].read() == b"cached"
        wait_cached(s3, bucket, "warm")  # the fill commits just after the body is sent
    finally:
        node.stop()
    # the same node and store, its backend now a closed port
    dead = f"http://127.0.0.1:{free_port()}"
    assert node.config_file is not None
    node.config_file.write_text(front_config(t, endpoint=dead, retries=0))
    node.start()
    try:
        s3 = client_of(node)
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=bucket, Key="cold")
        err = e.value.response
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert err["Error"]["Code"] == "ServiceUnavailable"
        assert dead.split("//")[1] in err["Error"]["Message"]
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key="new", Body=b"x")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        # the warm copy is served: the cache rides out the backend
        assert s3.get_object(Bucket=bucket, Key="warm")["Body"].read() == b"cached"
        wait_cached(s3, bucket, "warm")  # the fill commits just after the body is sent
    finally:
        node.stop()


@pytest.mark.allow_node_errors  # the store logs the bad chunk it found
def test_corrupt_cached_copy_is_fetched_again(tmp_path: Path, moto_server: Any) -> None:
    t = Target("moto", moto_server.endpoint, moto_server.access_key, moto_server.secret_key)
    bucket = t.new_bucket()
    data = os.urandom(3 * 1024 * 1024)
    t.client().put_object(Bucket=bucket, Key="obj", Body=data)
    node = new_node(tmp_path / "c", config=front_config(t)).start()
    try:
        s3 = client_of(node)
        assert s3.get_object(Bucket=bucket, Key="obj")["Body"].read() == data
        import time

        deadline = time.monotonic() + 20  # the fill commits just after the last piece
        while s3.head_object(Bucket=bucket, Key="obj")["ResponseMetadata"]["HTTPHeaders"][
                "ais-cached"] != "true":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        chunks = [p for mp in node.mountpaths for p in (mp / "chunks").rglob("*")
                  if p.is_file()]
        assert chunks
        for p in chunks:  # every copy of every chunk
            raw = bytearray(p.read_bytes())
            raw[len(raw) // 2] ^= 0x10
            p.write_bytes(bytes(raw))
        got = s3.get_object(Bucket=bucket, Key="obj")
        assert got["Body"].read() == data
        assert "fetched again" in node.log()
        again = s3.get_object(Bucket=bucket, Key="obj")  # the new copy is good
        assert again["Body"].read() == data
    finally:
        node.stop()
