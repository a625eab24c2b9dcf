"""A small object's GET answers with the bytes its record came with (aisfs_node/s3/objects.py:
``head_object(with_data=True)``): whole, ranged across chunk boundaries, by partNumber,
with response-* overrides and conditions - for an inline object and for one of several
chunks, open and as a (non-admin) SigV4 user on their own bucket."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.clients import s3_client
from support.node import NodeProcess, new_node

CHUNK = 65536
STORE = f"[store]\nchunk_size = {CHUNK}\ninline_max = 16384\n"
SIGV4 = STORE + (
    '[auth]\nmode = "sigv4"\n[auth.users.alice]\naccess_keys = { AKALICE = "alice-secret" }\n'
)
SIZES = {"inline": 10_000, "chunked": 5 * CHUNK + 123}  # inline_max 16 KiB; 6 chunks


@pytest.fixture(params=["open", "sigv4"])
def s3(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    import boto3
    from botocore.config import Config

    sig = request.param == "sigv4"
    node: NodeProcess = new_node(tmp_path, config=SIGV4 if sig else STORE).start()
    try:
        if sig:
            client = boto3.client(
                "s3", endpoint_url=node.s3_url, region_name="us-east-1",
                aws_access_key_id="AKALICE", aws_secret_access_key="alice-secret",
                config=Config(retries={"max_attempts": 1}),
            )
        else:
            client = s3_client(node.s3_url)
        client.create_bucket(Bucket="small")
        yield client
    finally:
        assert node.stop() == 0


@pytest.mark.parametrize("kind", sorted(SIZES))
def test_small_get_bodies(s3: Any, kind: str) -> None:
    body = os.urandom(SIZES[kind])
    s3.put_object(Bucket="small", Key=kind, Body=body, ContentType="application/x-small")
    got = s3.get_object(Bucket="small", Key=kind)
    assert got["Body"].read() == body
    assert got["ContentLength"] == len(body)
    assert got["ContentType"] == "application/x-small"
    cut = CHUNK if len(body) > CHUNK else len(body) // 2  # a chunk boundary, when there is one
    for span, want in (
        (f"bytes={cut - 10}-{cut + 9}", body[cut - 10 : cut + 10]),
        ("bytes=0-0", body[:1]),
        ("bytes=-7", body[-7:]),
        (f"bytes={len(body) - 3}-", body[-3:]),
    ):
        got = s3.get_object(Bucket="small", Key=kind, Range=span)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["Body"].read() == want
        assert got["ContentLength"] == len(want)
    whole = s3.get_object(Bucket="small", Key=kind, PartNumber=1)
    assert whole["Body"].read() == body
    over = s3.get_object(Bucket="small", Key=kind, ResponseContentType="text/x-over")
    assert over["ContentType"] == "text/x-over"
    assert over["Body"].read() == body
    head = s3.head_object(Bucket="small", Key=kind)
    assert head["ContentLength"] == len(body)


@pytest.mark.parametrize("kind", sorted(SIZES))
def test_small_get_conditions(s3: Any, kind: str) -> None:
    body = os.urandom(SIZES[kind])
    etag = s3.put_object(Bucket="small", Key=kind, Body=body)["ETag"]
    assert s3.get_object(Bucket="small", Key=kind, IfMatch=etag)["Body"].read() == body
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="small", Key=kind, IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="small", Key=kind, IfMatch='"0123"')
    assert e.value.response["Error"]["Code"] == "PreconditionFailed"
    replaced = os.urandom(SIZES[kind])
    s3.put_object(Bucket="small", Key=kind, Body=replaced)
    assert s3.get_object(Bucket="small", Key=kind)["Body"].read() == replaced
