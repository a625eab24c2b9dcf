"""A small write-through PUT (aisfs/backend/writethrough.py ``run_small``: up to 64 KiB and
the store's inline_max, read whole, sent, then written): against real backends (moto,
Ceph RGW, a SigV4 aisfs node) and through a real front node with boto3 in both auth
modes - the backend's ETag and version to the client and in the local copy, and a body
cut short, a backend refusal or an unreachable backend leaving nothing cached."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import pytest
from botocore.exceptions import ClientError

from aisfs.backend import Backends, BucketRef, Provider, client_etag, remote_attrs
from aisfs.backend.remote import open_remote_objects
from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, Store
from support.ceph import free_port
from support.node import NodeProcess

from .conftest import Front, Target, cached, client_of


async def pieces(data: bytes, n: int = 1000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), n):
        yield data[i : i + n]


async def test_small_put_keeps_the_backends_attributes(front: Front) -> None:
    data = os.urandom(4096)
    meta = ObjectMeta(content_type="text/x-small", user={"colour": "red"},
                      headers={"cache-control": "no-cache"})
    info = await front.ro.put(front.rb, "small/a", pieces(data), meta, size=len(data))
    head = front.target.client().head_object(Bucket=front.bucket, Key="small/a")
    assert head["ETag"].strip('"') == client_etag(info) == hashlib.md5(data).hexdigest()
    assert head["Metadata"] == {"colour": "red"} and head["CacheControl"] == "no-cache"
    local = await front.store.head_object(front.rb.local, "small/a")
    assert client_etag(local) == client_etag(info) and local.size == len(data)
    assert remote_attrs(local).etag == client_etag(info)
    read = await front.ro.get(front.rb, "small/a")
    assert read.cached and b"".join([p async for p in read.body]) == data


async def test_small_body_cut_short_sends_and_caches_nothing(front: Front) -> None:
    data = os.urandom(3000)
    with pytest.raises(S3Error) as e:
        await front.ro.put(front.rb, "small/short", pieces(data), ObjectMeta(),
                           size=len(data) + 100)
    assert e.value.code == "IncompleteBody" and e.value.status == 400
    assert await front.ro.local(front.rb, "small/short") is None
    with pytest.raises(ClientError):
        front.target.client().head_object(Bucket=front.bucket, Key="small/short")


async def test_small_body_longer_than_declared_sends_and_caches_nothing(front: Front) -> None:
    async def endless() -> AsyncIterator[bytes]:
        while True:  # read no further than the declared size
            yield b"z" * 1000

    body = endless()
    with pytest.raises(S3Error) as e:
        await front.ro.put(front.rb, "small/long", body, ObjectMeta(), size=2500)
    await body.aclose()
    assert e.value.code == "IncompleteBody" and e.value.status == 400
    assert await front.ro.local(front.rb, "small/long") is None
    with pytest.raises(ClientError):
        front.target.client().head_object(Bucket=front.bucket, Key="small/long")


async def test_small_put_refused_by_the_backend_caches_nothing(front: Front,
                                                               store: Store) -> None:
    if front.target.name == "moto":
        pytest.skip("moto does not check signatures")
    backends = Backends(front.target.config(secret_key="wrong-secret", retries=1))
    async with open_remote_objects(store, backends) as ro:
        rb = backends.resolve(BucketRef(Provider.AWS, front.bucket), {})
        with pytest.raises(S3Error) as e:
            await ro.put(rb, "small/denied", pieces(b"d" * 4096), ObjectMeta(), size=4096)
        assert e.value.status == 403, e.value
        assert await ro.local(rb, "small/denied") is None
    await backends.aclose()


async def test_small_put_to_an_unreachable_backend_caches_nothing(front: Front,
                                                                  store: Store) -> None:
    backends = Backends(front.target.config(endpoint=f"http://127.0.0.1:{free_port()}",
                                            retries=0, connect_timeout=2.0))
    async with open_remote_objects(store, backends) as ro:
        rb = backends.resolve(BucketRef(Provider.AWS, front.bucket), {})
        await ro.ensure_local_bucket(rb)
        with pytest.raises(S3Error) as e:
            await ro.put(rb, "small/down", pieces(b"d" * 4096), ObjectMeta(), size=4096)
        assert e.value.status == 503, e.value
        assert await ro.local(rb, "small/down") is None
    await backends.aclose()


async def test_small_overwrite_replaces_the_cached_copy(front: Front) -> None:
    for body in (b"first" * 100, b"second" * 100):
        info = await front.ro.put(front.rb, "small/over", pieces(body), ObjectMeta(),
                                  size=len(body))
        assert client_etag(info) == hashlib.md5(body).hexdigest()
    read = await front.ro.get(front.rb, "small/over")
    assert read.cached and b"".join([p async for p in read.body]) == b"second" * 100


@pytest.mark.parametrize("target", ["moto", "ceph"], indirect=True)
def test_small_put_through_the_node_answers_the_backends_version(
    front_node: NodeProcess, target: Target,
) -> None:
    bucket = target.new_bucket()
    direct = target.client()
    direct.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3 = client_of(front_node)
    s3.head_bucket(Bucket=bucket)
    versions = []
    for body in (b"v1" * 2048, b"v2" * 2048):
        put = s3.put_object(Bucket=bucket, Key="k", Body=body)
        head = direct.head_object(Bucket=bucket, Key="k")
        assert put["VersionId"] == head["VersionId"] and put["ETag"] == head["ETag"]
        versions.append(put["VersionId"])
    assert versions[0] != versions[1]
    got = s3.get_object(Bucket=bucket, Key="k")  # the local copy, with the backend's version
    assert got["Body"].read() == b"v2" * 2048 and cached(got) == "true"
    assert got["VersionId"] == versions[1] and got["ETag"] == put["ETag"]
    old = s3.get_object(Bucket=bucket, Key="k", VersionId=versions[0])
    assert old["Body"].read() == b"v1" * 2048


def test_small_puts_through_the_node(front_node: NodeProcess, target: Target) -> None:
    bucket = target.new_bucket()
    direct = target.client()
    s3 = client_of(front_node)
    s3.head_bucket(Bucket=bucket)
    for size in (0, 1, 4096, 64 * 1024):
        body = os.urandom(size)
        put = s3.put_object(Bucket=bucket, Key=f"s/{size}", Body=body,
                            Metadata={"n": str(size)})
        assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
        got = direct.get_object(Bucket=bucket, Key=f"s/{size}")
        assert got["Body"].read() == body and got["Metadata"] == {"n": str(size)}
        warm = s3.get_object(Bucket=bucket, Key=f"s/{size}")
        assert warm["Body"].read() == body and cached(warm) == "true"
    # a body that does not match its Content-MD5 reaches neither the backend nor the cache
    import base64

    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="s/bad", Body=b"x" * 4096,
                      ContentMD5=base64.b64encode(hashlib.md5(b"y").digest()).decode())
    assert e.value.response["Error"]["Code"] in ("BadDigest", "InvalidDigest")
    with pytest.raises(ClientError):
        direct.head_object(Bucket=bucket, Key="s/bad")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="s/bad")


@pytest.mark.parametrize("small", [True, False], ids=["small", "teed"])
async def test_failed_overwrite_in_doubt_drops_the_older_copy(
    front: Front, store: Store, small: bool,
) -> None:
    # an upload whose outcome is unknown (here: no answer at all) may have replaced the
    # backend's object: the older cached copy must not be served in its place
    size = 4096 if small else 200_000
    await front.ro.put(front.rb, "doubt/k", pieces(b"o" * size), ObjectMeta(), size=size)
    assert await front.ro.local(front.rb, "doubt/k") is not None
    backends = Backends(front.target.config(endpoint=f"http://127.0.0.1:{free_port()}",
                                            retries=0, connect_timeout=2.0))
    async with open_remote_objects(store, backends) as ro:
        rb = backends.resolve(BucketRef(Provider.AWS, front.bucket), {})
        with pytest.raises(S3Error) as e:
            await ro.put(rb, "doubt/k", pieces(b"n" * size), ObjectMeta(), size=size)
        assert e.value.status == 503, e.value
        assert await ro.local(rb, "doubt/k") is None
    await backends.aclose()


async def test_refused_overwrite_keeps_the_older_copy(front: Front, store: Store) -> None:
    # a refusal (4xx) proves the backend kept its object: so does the cache
    if front.target.name == "moto":
        pytest.skip("moto does not check signatures")
    await front.ro.put(front.rb, "kept/k", pieces(b"o" * 4096), ObjectMeta(), size=4096)
    backends = Backends(front.target.config(secret_key="wrong-secret", retries=0))
    async with open_remote_objects(store, backends) as ro:
        rb = backends.resolve(BucketRef(Provider.AWS, front.bucket), {})
        with pytest.raises(S3Error) as e:
            await ro.put(rb, "kept/k", pieces(b"n" * 4096), ObjectMeta(), size=4096)
        assert e.value.status == 403, e.value
        read = await ro.get(rb, "kept/k")
        assert read.cached and b"".join([p async for p in read.body]) == b"o" * 4096
    await backends.aclose()
