"""RemoteObjects against real backends (moto server, Ceph RGW, a SigV4 aisfs node):
cold/warm/validated GET, one fetch per key, write-through PUT, DELETE, listing, errors."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel
from botocore.exceptions import ClientError

from aisfs.backend import Backends, BucketRef, Provider, client_etag, remote_of
from aisfs.backend.lean import LeanOpened
from aisfs.backend.remote import RemoteRead
from aisfs.errors import S3Error
from aisfs.store import ObjectMeta

from .conftest import Front

MiB = 1024 * 1024


async def read_all(read: RemoteRead) -> bytes:
    out = bytearray()
    async for piece in read.body:
        assert len(piece) <= MiB
        out += piece
    return bytes(out)


async def pieces(data: bytes, n: int = 256 * 1024) -> AsyncIterator[bytes]:
    for i in range(0, len(data), n):
        yield data[i : i + n]
        await trio.lowlevel.checkpoint()


def count_gets(front: Front) -> list[str]:
    """Keys of the GetObject requests the backend client sends: botocore's (an event
    hook) and the lean client's (lean.py, its ``open`` wrapped)."""
    seen: list[str] = []
    backend = front.backends.for_bucket(front.rb)
    backend.client().meta.events.register(
        "before-call.s3.GetObject", lambda params, **_: seen.append(params["url_path"])
    )
    lean = backend._lean
    if lean is not None:
        real = lean.open

        async def counted(bucket: str, key: str, **kw: Any) -> LeanOpened:
            seen.append(f"/{bucket}/{key}")
            return await real(bucket, key, **kw)

        lean.open = counted  # type: ignore[method-assign]
    return seen


async def settle(front: Front) -> None:
    """Until no fill is in the air."""
    with trio.fail_after(30):
        while len(front.ro._flights):  # noqa: ASYNC110 (polled: no event to wait on)
            await trio.sleep(0.02)


async def test_cold_get_streams_and_caches_then_warm(front: Front) -> None:
    data = os.urandom(3 * MiB + 123)
    direct = front.target.client()
    put = direct.put_object(Bucket=front.bucket, Key="dir/obj", Body=data,
                            ContentType="application/x-test", Metadata={"color": "blue"})
    etag = put["ETag"].strip('"')

    read = await front.ro.get(front.rb, "dir/obj")
    assert not read.cached and read.attrs.size == len(data) and read.attrs.etag == etag
    assert read.attrs.content_type == "application/x-test"
    assert read.attrs.user == {"color": "blue"}
    assert await read_all(read) == data
    await settle(front)

    info = await front.store.head_object(front.rb.local, "dir/obj")
    rec = remote_of(info)
    assert rec is not None and rec["etag"] == etag and rec["source"] == f"s3://{front.bucket}"
    assert info.meta.content_type == "application/x-test" and info.meta.user == {"color": "blue"}
    assert client_etag(info) == etag

    gets = count_gets(front)
    warm = await front.ro.get(front.rb, "dir/obj")
    assert warm.cached and warm.attrs.etag == etag
    assert await read_all(warm) == data
    part = await front.ro.get(front.rb, "dir/obj", range_header="bytes=10-19")
    assert part.cached and part.ranged and await read_all(part) == data[10:20]
    assert gets == []  # warm: no backend GET


async def test_concurrent_cold_gets_fetch_once(front: Front) -> None:
    data = os.urandom(2 * MiB)
    front.target.client().put_object(Bucket=front.bucket, Key="hot", Body=data)
    gets = count_gets(front)
    results: list[bytes] = []

    async def one() -> None:
        results.append(await read_all(await front.ro.get(front.rb, "hot")))

    async with trio.open_nursery() as n:
        for _ in range(8):
            n.start_soon(one)
    assert results == [data] * 8
    assert len(gets) == 1


async def test_caller_going_away_does_not_stop_the_fill(front: Front) -> None:
    data = os.urandom(4 * MiB)
    front.target.client().put_object(Bucket=front.bucket, Key="k", Body=data)
    read = await front.ro.get(front.rb, "k")
    it = aiter(read.body)
    assert len(await anext(it)) > 0
    await read.body.aclose()
    await settle(front)
    again = await front.ro.get(front.rb, "k")
    assert again.cached and await read_all(again) == data


async def test_fill_memory_comes_back(front: Front) -> None:
    """The store side of a fill may lag the backend read (FILL_LAG, node-wide FILL_MEMORY):
    what it held is given back whether the caller read the whole body or went away."""
    from aisfs.backend.remote import FILL_MEMORY

    full = FILL_MEMORY // MiB
    direct = front.target.client()
    for i in range(2):
        direct.put_object(Bucket=front.bucket, Key=f"m{i}", Body=os.urandom(5 * MiB + i))
    whole = await front.ro.get(front.rb, "m0")
    assert len(await read_all(whole)) == 5 * MiB
    gone = await front.ro.get(front.rb, "m1")
    await gone.body.aclose()
    await settle(front)
    assert front.ro._fill_memory.value == full
    assert (await front.ro.get(front.rb, "m1")).cached


async def test_cold_get_errors(front: Front) -> None:
    with pytest.raises(S3Error) as e:
        await front.ro.get(front.rb, "missing")
    assert (e.value.code, e.value.status) == ("NoSuchKey", 404)
    nob = front.backends.resolve(BucketRef(Provider.AWS, "no-such-bucket-here"), {})
    with pytest.raises(S3Error) as e:
        await front.ro.get(nob, "k")
    assert e.value.status == 404 and e.value.code in ("NoSuchBucket", "NoSuchKey")
    assert await front.ro.local(front.rb, "missing") is None
    assert len(front.ro._flights) == 0


async def test_validate_warm_get_and_synchronize(front: Front) -> None:
    direct = front.target.client()
    direct.put_object(Bucket=front.bucket, Key="v", Body=b"one")
    assert await read_all(await front.ro.get(front.rb, "v")) == b"one"
    await settle(front)
    direct.put_object(Bucket=front.bucket, Key="v", Body=b"two, changed")

    # not validated: the cached copy
    assert await read_all(await front.ro.get(front.rb, "v")) == b"one"
    validating = front.resolved(**{"versioning.validate_warm_get": True})
    read = await front.ro.get(validating, "v")
    assert not read.cached and await read_all(read) == b"two, changed"
    await settle(front)
    read = await front.ro.get(validating, "v")
    assert read.cached and await read_all(read) == b"two, changed"
    head = await front.ro.head(validating, "v")
    assert head.cached and head.attrs.size == len(b"two, changed")

    direct.delete_object(Bucket=front.bucket, Key="v")
    # validate only: a deletion in the backend is not synchronized
    assert await read_all(await front.ro.get(validating, "v")) == b"two, changed"
    syncing = front.resolved(**{"versioning.synchronize": True})
    with pytest.raises(S3Error) as e:
        await front.ro.get(syncing, "v")
    assert e.value.code == "NoSuchKey"
    assert await front.ro.local(front.rb, "v") is None


@pytest.mark.parametrize("size", [1000, 13 * MiB + 7])
async def test_write_through_put(front: Front, size: int) -> None:
    data = os.urandom(size)
    meta = ObjectMeta(content_type="text/x-wt", user={"k": "v"})
    info = await front.ro.put(front.rb, "wt/obj", pieces(data), meta, size=size,
                              content_md5=hashlib.md5(data).digest())
    direct = front.target.client()
    got = direct.get_object(Bucket=front.bucket, Key="wt/obj")
    assert got["Body"].read() == data
    assert got["ContentType"] == "text/x-wt" and got["Metadata"] == {"k": "v"}
    backend_etag = got["ETag"].strip('"')
    assert client_etag(info) == backend_etag
    if size > 6 * MiB:
        assert backend_etag.endswith("-3")  # 5 MiB parts
    local = await front.store.head_object(front.rb.local, "wt/obj")
    assert local.size == size and client_etag(local) == backend_etag
    gets = count_gets(front)
    read = await front.ro.get(front.rb, "wt/obj")
    assert read.cached and await read_all(read) == data and gets == []


async def test_write_through_failures_leave_nothing(front: Front) -> None:
    # the backend refuses (no such bucket there): nothing cached
    nob = front.backends.resolve(BucketRef(Provider.AWS, "no-such-bucket-wt"), {})
    with pytest.raises(S3Error) as e:
        await front.ro.put(nob, "k", pieces(b"x" * 1000), ObjectMeta(), size=1000)
    assert e.value.status == 404
    assert await front.ro.local(nob, "k") is None

    # the client's body fails half-way through a multipart upload: nothing anywhere
    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(7 * MiB)
        raise S3Error("IncompleteBody", "client went away")

    with pytest.raises(S3Error) as e:
        await front.ro.put(front.rb, "cut", broken(), ObjectMeta(), size=20 * MiB)
    assert e.value.code == "IncompleteBody"
    assert await front.ro.local(front.rb, "cut") is None
    with pytest.raises(ClientError):
        front.target.client().head_object(Bucket=front.bucket, Key="cut")

    # a short body (fewer bytes than declared) is never sent to the backend as complete
    with pytest.raises(S3Error) as e:
        await front.ro.put(front.rb, "short", pieces(b"y" * 100), ObjectMeta(), size=200)
    assert e.value.code == "IncompleteBody"
    with pytest.raises(ClientError):
        front.target.client().head_object(Bucket=front.bucket, Key="short")
    assert await front.ro.local(front.rb, "short") is None


async def test_put_then_overwrite_in_backend_then_delete(front: Front) -> None:
    await front.ro.put(front.rb, "d", pieces(b"local"), ObjectMeta(), size=5)
    assert (await front.ro.local(front.rb, "d")) is not None
    await front.ro.delete(front.rb, "d")
    assert await front.ro.local(front.rb, "d") is None
    with pytest.raises(ClientError):
        front.target.client().head_object(Bucket=front.bucket, Key="d")
    # a missing key: what the backend answers (S3: success; an aisfs node: 404)
    try:
        await front.ro.delete(front.rb, "never-was")
    except S3Error as e:
        assert front.target.name == "aisfs" and e.code == "NoSuchKey"


async def test_ranged_cold_get_then_background_fill(front: Front) -> None:
    data = os.urandom(3 * MiB)
    front.target.client().put_object(Bucket=front.bucket, Key="r", Body=data)
    read = await front.ro.get(front.rb, "r", range_header="bytes=1000-1999")
    assert read.ranged and not read.cached and (read.start, read.end) == (1000, 1999)
    assert read.attrs.size == len(data)
    assert await read_all(read) == data[1000:2000]
    await settle(front)
    with trio.fail_after(20):
        while await front.ro.local(front.rb, "r") is None:  # noqa: ASYNC110
            await trio.sleep(0.05)
    warm = await front.ro.get(front.rb, "r")
    assert warm.cached and await read_all(warm) == data


async def test_listing_pages_and_buckets(front: Front) -> None:
    direct = front.target.client()
    for i in range(25):
        direct.put_object(Bucket=front.bucket, Key=f"p/{i:03d}", Body=b"x" * i)
    direct.put_object(Bucket=front.bucket, Key="q/one", Body=b"1")
    keys: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await front.ro.list_page(front.rb, prefix="p/", token=token, page_size=10)
        pages += 1
        keys += [e.key for e in page.entries]
        if not page.next_token:
            break
        token = page.next_token
    assert keys == [f"p/{i:03d}" for i in range(25)] and pages == 3
    top = await front.ro.list_page(front.rb, delimiter="/")
    assert top.common_prefixes == ["p/", "q/"] and top.entries == []
    names = [b.name for b in await front.ro.list_buckets(front.rb)]
    assert front.bucket in names


async def test_server_side_copy(front: Front) -> None:
    front.target.client().put_object(Bucket=front.bucket, Key="src", Body=b"copy me")
    await front.ro.put(front.rb, "dst", pieces(b"old"), ObjectMeta(), size=3)
    await front.ro.copy(front.rb, "src", front.rb, "dst")
    assert await front.ro.local(front.rb, "dst") is None  # the stale copy went
    assert await read_all(await front.ro.get(front.rb, "dst")) == b"copy me"


async def test_ais_bucket_with_backend_bck(front: Front) -> None:
    await front.store.create_bucket("fronted", {"backend_bck": f"s3://{front.bucket}"})
    info = await front.store.get_bucket("fronted")
    rb = front.backends.resolve(BucketRef(Provider.AIS, "fronted"), info.props)
    assert rb.local == "fronted" and rb.remote == BucketRef(Provider.AWS, front.bucket)
    front.target.client().put_object(Bucket=front.bucket, Key="via", Body=b"fronted data")
    assert await read_all(await front.ro.get(rb, "via")) == b"fronted data"
    await settle(front)
    assert (await front.store.head_object("fronted", "via")).size == 12
    # the same backend object through s3:// is cached separately
    assert await front.ro.local(front.rb, "via") is None


async def test_wrong_credentials_are_access_denied(front: Front) -> None:
    if front.target.name == "moto":
        pytest.skip("moto does not check signatures")
    bad = Backends(front.target.config(secret_key="wrong-secret"))
    rb = bad.resolve(BucketRef(Provider.AWS, front.bucket), {})
    with pytest.raises(S3Error) as e:
        await bad.for_bucket(rb).head_object(front.bucket, "k")
    assert (e.value.code, e.value.status) == ("AccessDenied", 403)
    assert "wrong-secret" not in str(e.value) and "wrong-secret" not in repr(rb)
    await bad.aclose()


async def test_backend_down_cold_503_warm_served(front: Front, free_port: int) -> None:
    front.target.client().put_object(Bucket=front.bucket, Key="w", Body=b"warm")
    assert await read_all(await front.ro.get(front.rb, "w")) == b"warm"
    await settle(front)
    down = Backends(front.target.config(endpoint=f"http://127.0.0.1:{free_port}", retries=1))
    props: dict[str, Any] = {"versioning.validate_warm_get": True}
    rb = down.resolve(BucketRef(Provider.AWS, front.bucket), props)
    ro = type(front.ro)(front.store, down, front.ro._nursery)
    with pytest.raises(S3Error) as e:
        await ro.get(rb, "cold")
    assert e.value.status == 503 and e.value.code == "ServiceUnavailable"
    assert f"127.0.0.1:{free_port}" in e.value.message
    read = await ro.get(rb, "w")  # warm, validation impossible: served
    assert read.cached and await read_all(read) == b"warm"
    await down.aclose()


@pytest.fixture
def free_port() -> int:
    from support.ceph import free_port as pick

    return pick()


async def test_two_front_nodes_one_backend(front: Front, tmp_path: Path) -> None:
    """Node A writes through; node B (another store, its own cache) sees the new object
    on its next validated warm GET."""
    from aisfs.backend import open_remote_objects
    from aisfs.store import open_store

    from .conftest import store_config

    props = {"versioning.validate_warm_get": True}
    rb_a = front.resolved(**props)
    backends_b = Backends(front.target.config())
    rb_b = backends_b.resolve(BucketRef(Provider.AWS, front.bucket), props)
    async with open_store(store_config(tmp_path / "node-b")) as store_b, \
            open_remote_objects(store_b, backends_b) as ro_b:
        await front.ro.put(rb_a, "shared", pieces(b"version one"), ObjectMeta(), size=11)
        assert await read_all(await ro_b.get(rb_b, "shared")) == b"version one"
        with trio.fail_after(20):
            while await ro_b.local(rb_b, "shared") is None:  # noqa: ASYNC110
                await trio.sleep(0.02)
        await front.ro.put(rb_a, "shared", pieces(b"version two!"), ObjectMeta(), size=12)
        read = await ro_b.get(rb_b, "shared")
        assert not read.cached and await read_all(read) == b"version two!"
        await front.ro.delete(rb_a, "shared")
        # B validates: its copy is still served (no synchronize) until it synchronizes
        syncing = backends_b.resolve(BucketRef(Provider.AWS, front.bucket),
                                     {"versioning.synchronize": True})
        with trio.fail_after(20):
            while await ro_b.local(rb_b, "shared") is None:  # noqa: ASYNC110
                await trio.sleep(0.02)
        with pytest.raises(S3Error):
            await ro_b.get(syncing, "shared")
        assert await ro_b.local(rb_b, "shared") is None
    await backends_b.aclose()


async def test_backend_dies_during_cold_get(
    front: Front, request: pytest.FixtureRequest
) -> None:
    """radosgw killed mid-body: the caller's body fails (never a short object passed off
    as whole), nothing is cached, the flight lands; after a restart the GET works."""
    if front.target.name != "ceph":
        pytest.skip("kills the backend: done with Ceph's radosgw")
    from support.ceph import CephCluster

    cluster: CephCluster = request.getfixturevalue("ceph_cluster")
    data = os.urandom(96 * MiB)
    front.target.client().put_object(Bucket=front.bucket, Key="big", Body=data)
    read = await front.ro.get(front.rb, "big")
    it = aiter(read.body)
    got = len(await anext(it))
    await trio.to_thread.run_sync(cluster.kill_rgw)
    try:
        with pytest.raises(S3Error) as e:
            async for piece in it:
                got += len(piece)
        assert e.value.status == 503 and got < len(data)
        await settle(front)
        assert await front.ro.local(front.rb, "big") is None
    finally:
        await trio.to_thread.run_sync(cluster.restart_rgw)
    again = await front.ro.get(front.rb, "big")
    assert await read_all(again) == data
