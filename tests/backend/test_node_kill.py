"""kill -9 of a front node in the middle of a cold GET and of a write-through PUT
(issue 13, item 10): after the restart no partial object is visible - the object is
either not cached at all or cached whole - and a PUT the client never saw acknowledged
is in neither the cache nor the backend."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.moto import MotoServer
from support.node import NodeProcess, new_node

from .conftest import Target, front_config

BIG = 24 * 1024 * 1024


@pytest.fixture
def moto_target(moto_server: MotoServer) -> Target:
    return Target("moto", moto_server.endpoint, moto_server.access_key, moto_server.secret_key)


@pytest.fixture
def front(tmp_path: Path, moto_target: Target) -> Iterator[NodeProcess]:
    node = new_node(tmp_path / "front", config=front_config(moto_target)).start()
    try:
        yield node
    finally:
        assert node.stop() == 0


def _cached(node: NodeProcess, bucket: str) -> dict[str, int]:
    from aistore.sdk import Client  # type: ignore[import-untyped]
    from aistore.sdk.list_object_flag import ListObjectFlag  # type: ignore[import-untyped]

    b = Client(node.url, max_pool_size=2).bucket(bucket, provider="aws")
    page = b.list_objects(props="name,size", flags=[ListObjectFlag.CACHED])
    return {e.name: e.size for e in page.entries}


def _raw(node: NodeProcess) -> tuple[socket.socket, str]:
    host, port = node.url.split("//", 1)[1].rstrip("/").split(":")
    return socket.create_connection((host, int(port)), timeout=30), f"{host}:{port}"


def test_kill_during_cold_get(front: NodeProcess, moto_target: Target) -> None:
    bucket = moto_target.new_bucket()
    data = os.urandom(BIG)
    moto_target.client().put_object(Bucket=bucket, Key="big", Body=data)
    sock, host = _raw(front)
    sock.sendall(f"GET /s3/{bucket}/big HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    got = 0
    while got < 2 * 1024 * 1024:  # part of the body, read slowly, then the kill
        piece = sock.recv(65536)
        assert piece
        got += len(piece)
    front.kill()
    sock.close()
    front.restart()
    cached = _cached(front, bucket)
    assert cached in ({}, {"big": BIG})  # nothing, or all of it
    s3 = _client(front)
    body = s3.get_object(Bucket=bucket, Key="big")["Body"].read()
    assert hashlib.md5(body).digest() == hashlib.md5(data).digest()
    # the fill commits as the response ends, not before its last byte
    deadline = time.monotonic() + 30
    while _cached(front, bucket) != {"big": BIG} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _cached(front, bucket) == {"big": BIG}


def test_kill_during_write_through_put(front: NodeProcess, moto_target: Target) -> None:
    bucket = moto_target.new_bucket()
    sock, host = _raw(front)
    # a multipart-sized body (the threshold is 6 MiB), of which only a part is sent
    sock.sendall(f"PUT /s3/{bucket}/half HTTP/1.1\r\nHost: {host}\r\n"
                 f"Content-Length: {BIG}\r\n\r\n".encode())
    chunk = os.urandom(1024 * 1024)
    for _ in range(12):
        sock.sendall(chunk)
    time.sleep(0.5)  # let the node pass what it has to the backend and the store
    front.kill()
    sock.close()
    front.restart()
    assert _cached(front, bucket) == {}
    direct = moto_target.client()
    assert "Contents" not in direct.list_objects_v2(Bucket=bucket)
    s3 = _client(front)
    with pytest.raises(s3.exceptions.ClientError) as err:
        s3.head_object(Bucket=bucket, Key="half")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # the node takes writes again, whole
    s3.put_object(Bucket=bucket, Key="half", Body=chunk)
    assert direct.get_object(Bucket=bucket, Key="half")["Body"].read() == chunk
    assert _cached(front, bucket) == {"half": len(chunk)}


def _client(node: NodeProcess) -> Any:
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=node.s3_url, region_name="us-east-1",
        aws_access_key_id="anything", aws_secret_access_key="anything",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )
