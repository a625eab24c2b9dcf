"""A write-through PUT of a known size from ``STREAM_MIN`` up to ``multipart_threshold``
is one PutObject streamed as the body comes (aisfs/backend/lean_put.py ``put_stream``),
never gathered in memory: against real backends (moto server, Ceph RGW, a SigV4 aisfs
node) the backend gets the object whole (its ETag the body's MD5, its metadata kept) and
the local copy has it; a body that fails, runs short or does not match its Content-MD5
leaves nothing in the backend and nothing cached (the backend is left a request cut
short, never a complete object); a backend that refuses the request is its own answer."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
from botocore.exceptions import ClientError

from aisfs.backend import Backends, BucketRef, Provider, client_etag, open_remote_objects
from aisfs.backend.s3 import STREAM_MIN
from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, Store

from .conftest import Target

MiB = 1024 * 1024
SIZE = STREAM_MIN + 3 * MiB + 4321  # streamed: under the threshold below
THRESHOLD = 4 * STREAM_MIN


async def pieces(data: bytes, n: int = 1_000_003) -> AsyncIterator[bytes]:
    for i in range(0, len(data), n):
        yield data[i : i + n]
        await trio.lowlevel.checkpoint()


async def failing(data: bytes) -> AsyncIterator[bytes]:
    async for p in pieces(data[: len(data) // 2]):
        yield p
    raise S3Error("IncompleteBody", "the client went away")


@contextlib.asynccontextmanager
async def front_of(store: Store, target: Target, **over: Any) -> AsyncIterator[Any]:
    backends = Backends(target.config(multipart_threshold=THRESHOLD, **over))
    bucket = target.new_bucket()
    try:
        async with open_remote_objects(store, backends) as ro:
            rb = backends.resolve(BucketRef(Provider.AWS, bucket), {})
            streamed: list[str] = []
            lean = backends.for_bucket(rb)._lean
            assert lean is not None
            real = lean.put_stream

            async def counted(bucket: str, key: str, *a: Any, **kw: Any) -> dict[str, str]:
                streamed.append(key)
                return await real(bucket, key, *a, **kw)

            lean.put_stream = counted  # type: ignore[method-assign]
            yield ro, rb, bucket, streamed
    finally:
        await backends.aclose()


def absent(target: Target, bucket: str, key: str) -> bool:
    try:
        target.client().head_object(Bucket=bucket, Key=key)
    except ClientError:
        return True
    return False


async def test_streamed_put_lands_whole(store: Store, target: Target) -> None:
    data = os.urandom(SIZE)
    md5 = hashlib.md5(data)
    async with front_of(store, target) as (ro, rb, bucket, streamed):
        meta = ObjectMeta(content_type="application/x-streamed", user={"k": "v"})
        info = await ro.put(rb, "s/whole", pieces(data), meta, size=SIZE,
                            content_md5=md5.digest())
        assert streamed == ["s/whole"]
        got = target.client().get_object(Bucket=bucket, Key="s/whole")
        assert got["Body"].read() == data and got["Metadata"] == {"k": "v"}
        assert got["ContentType"] == "application/x-streamed"
        assert got["ETag"].strip('"') == md5.hexdigest() == client_etag(info)
        local = await ro.local(rb, "s/whole")
        assert local is not None and local.size == SIZE and client_etag(local) == md5.hexdigest()
        # below STREAM_MIN: gathered and sent as before (repeated on a failure)
        small = os.urandom(MiB)
        await ro.put(rb, "s/small", pieces(small), ObjectMeta(), size=len(small))
        assert streamed == ["s/whole"]


@pytest.mark.parametrize("how", ["md5", "short", "long", "fails"])
async def test_streamed_put_that_fails_leaves_nothing(
    store: Store, target: Target, how: str
) -> None:
    data = os.urandom(SIZE)
    async with front_of(store, target) as (ro, rb, bucket, streamed):
        size, md5, body = SIZE, None, pieces(data)
        if how == "md5":
            md5 = hashlib.md5(b"not the body").digest()
        elif how == "short":
            body = pieces(data[:-1])
        elif how == "long":
            body = pieces(data + b"x")
        else:
            body = failing(data)
        with pytest.raises(S3Error) as e:
            async with contextlib.aclosing(body):
                await ro.put(rb, "s/bad", body, ObjectMeta(), size=size, content_md5=md5)
        assert streamed == ["s/bad"]
        assert e.value.status == 400, e.value
        assert await ro.local(rb, "s/bad") is None
        assert absent(target, bucket, "s/bad")
        # the node goes on: the same key whole
        await ro.put(rb, "s/bad", pieces(data), ObjectMeta(), size=SIZE)
        assert target.client().get_object(Bucket=bucket, Key="s/bad")["Body"].read() == data


async def test_streamed_put_refused_by_the_backend(store: Store, target: Target) -> None:
    if target.name == "moto":
        pytest.skip("moto does not check signatures")
    data = os.urandom(SIZE)
    async with front_of(store, target, secret_key="wrong-secret", retries=1) as (
            ro, rb, bucket, streamed):
        with pytest.raises(S3Error) as e:
            await ro.put(rb, "s/denied", pieces(data), ObjectMeta(), size=SIZE)
        assert streamed == ["s/denied"]
        assert e.value.status == 403, e.value
        assert await ro.local(rb, "s/denied") is None
    assert absent(target, bucket, "s/denied")
