"""Write-through PUTs sent on the event loop (aisfs/backend/lean_put.py) and small ones
group-committed in the store: against real backends (moto server, Ceph RGW, a SigV4
aisfs node) - the backend's ETag to the client and the local copy, the headers and
metadata the backend keeps, Content-MD5 checked by the backend, a header botocore must
send (not ASCII), and many small PUTs at once."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import AsyncIterator

import pytest
import trio
from botocore.exceptions import ClientError

from aisfs.backend import Backends, BucketRef, Provider, client_etag
from aisfs.backend.lean_put import LeanPutClient
from aisfs.backend.remote import open_remote_objects
from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, Store

from .conftest import Front

MiB = 1024 * 1024


async def pieces(data: bytes, n: int = 256 * 1024) -> AsyncIterator[bytes]:
    for i in range(0, len(data), n):
        yield data[i : i + n]
        await trio.lowlevel.checkpoint()


async def test_lean_put_is_the_client_for_static_keys(front: Front) -> None:
    backend = front.backends.for_bucket(front.rb)
    assert isinstance(backend._lean, LeanPutClient)


async def test_many_small_write_throughs_at_once(front: Front) -> None:
    bodies = {f"many/{i:02d}": os.urandom(100 + i * 97) for i in range(24)}
    got: dict[str, str] = {}

    async def one(key: str) -> None:
        meta = ObjectMeta(content_type="text/x-many", user={"n": key[-2:]})
        info = await front.ro.put(front.rb, key, pieces(bodies[key]), meta,
                                  size=len(bodies[key]))
        got[key] = client_etag(info)

    async with trio.open_nursery() as nursery:
        for key in bodies:
            nursery.start_soon(one, key)
    direct = front.target.client()
    for key, data in bodies.items():
        head = direct.head_object(Bucket=front.bucket, Key=key)
        assert head["ETag"].strip('"') == got[key]
        assert head["ContentType"] == "text/x-many"
        assert head["Metadata"] == {"n": key[-2:]}
        local = await front.store.head_object(front.rb.local, key)
        assert local.size == len(data) and client_etag(local) == got[key]
        read = await front.ro.get(front.rb, key)
        assert read.cached
        assert b"".join([p async for p in read.body]) == data


async def test_headers_the_backend_keeps(front: Front) -> None:
    meta = ObjectMeta(content_type="application/x-kept", user={"colour": "red"},
                      headers={"cache-control": "max-age=60",
                               "content-disposition": 'attachment; filename="a b.txt"'})
    data = b"kept" * 1000
    md5 = hashlib.md5(data).digest()
    info = await front.ro.put(front.rb, "kept/obj", pieces(data), meta, size=len(data),
                              content_md5=md5)
    head = front.target.client().head_object(Bucket=front.bucket, Key="kept/obj")
    assert head["ETag"].strip('"') == client_etag(info) == md5.hex()
    assert head["CacheControl"] == "max-age=60"
    assert head["ContentDisposition"] == 'attachment; filename="a b.txt"'
    assert head["Metadata"] == {"colour": "red"}


async def test_wrong_content_md5_caches_nothing(front: Front) -> None:
    data = os.urandom(5000)
    wrong = hashlib.md5(b"something else").digest()
    with pytest.raises(S3Error) as e:
        await front.ro.put(front.rb, "md5/bad", pieces(data), ObjectMeta(), size=len(data),
                           content_md5=wrong)
    assert e.value.code in ("BadDigest", "InvalidDigest") and e.value.status == 400
    assert await front.ro.local(front.rb, "md5/bad") is None
    with pytest.raises(ClientError):
        front.target.client().head_object(Bucket=front.bucket, Key="md5/bad")


async def test_multipart_parts_sent_as_pieces(front: Front) -> None:
    # 5 MiB parts (the fixture's part_size), the body in odd pieces: parts cut across them
    data = os.urandom(11 * MiB + 12345)
    md5 = hashlib.md5(data).digest()
    info = await front.ro.put(front.rb, "mp/odd", pieces(data, 300_001), ObjectMeta(),
                              size=len(data), content_md5=md5)
    got = front.target.client().get_object(Bucket=front.bucket, Key="mp/odd")
    assert got["Body"].read() == data
    assert got["ETag"].strip('"') == client_etag(info) and client_etag(info).endswith("-3")


async def test_not_ascii_metadata_is_refused(front: Front) -> None:
    # S3's REST rule (botocore refuses it too): a 400, nothing sent, nothing cached
    for size in (10, 7 * MiB):  # a single PUT, a multipart upload
        meta = ObjectMeta(user={"word": "caf\u00e9"})
        body = pieces(b"x" * size)
        with pytest.raises(S3Error) as e:
            async with contextlib.aclosing(body):
                await front.ro.put(front.rb, "ascii/obj", body, meta, size=size)
        assert e.value.code == "InvalidArgument" and e.value.status == 400
        assert await front.ro.local(front.rb, "ascii/obj") is None
        with pytest.raises(ClientError):
            front.target.client().head_object(Bucket=front.bucket, Key="ascii/obj")


async def test_refused_signature_is_a_403_not_a_retry(front: Front, store: Store) -> None:
    # a backend that checks signatures answers a 5 MiB single PUT signed with a wrong
    # secret early (before reading its body): the client gets the 403, nothing cached
    if front.target.name == "moto":
        pytest.skip("moto does not check signatures")
    backends = Backends(front.target.config(secret_key="wrong-secret", retries=1,
                                            multipart_threshold=6 * MiB))
    async with open_remote_objects(store, backends) as ro:
        rb = backends.resolve(BucketRef(Provider.AWS, front.bucket), {})
        body = pieces(os.urandom(5 * MiB))
        with pytest.raises(S3Error) as e:
            async with contextlib.aclosing(body):
                await ro.put(rb, "denied", body, ObjectMeta(), size=5 * MiB)
        assert e.value.status == 403, e.value
        assert await ro.local(rb, "denied") is None
    await backends.aclose()
