"""The lean HEAD and GET (aisfs/backend/lean.py: SigV4 signed by aisfs.s3, HTTP/1.1 on
the event loop) against real backends: what they answer is what botocore's HeadObject and
GetObject answer, for keys that test the signature's encoding, and errors map as
botocore's do."""

from __future__ import annotations

import os

import pytest
import trio

from aisfs.backend.lean import LeanClient
from aisfs.backend.s3 import RemoteStream, S3Backend
from aisfs.backend.settings import settings_for
from aisfs.errors import S3Error
from support.ceph import free_port

from .conftest import Target

KEYS = ["plain", "dir/sub/k.bin", "sp ace+plus&amp=eq", "ünï/çödé", "pct%2Fenc", "a~b_c-d.e"]


def _backend(target: Target, **over: object) -> S3Backend:
    return S3Backend(settings_for(target.config(**over).s3))


async def test_lean_head_answers_as_botocore(target: Target) -> None:
    bucket = target.new_bucket()
    client = target.client()
    for i, key in enumerate(KEYS):
        client.put_object(Bucket=bucket, Key=key, Body=b"x" * (100 + i),
                          ContentType="text/plain", Metadata={"color": "blue"},
                          CacheControl="max-age=60")
    backend = _backend(target)
    assert backend._lean is not None  # static keys and an endpoint: the lean path
    lean = backend._lean
    try:
        for i, key in enumerate(KEYS):
            got = await lean.head(bucket, key)
            want = await backend.call("head_object", key, Bucket=bucket, Key=key)
            assert got.size == 100 + i == want["ContentLength"]
            assert got.etag == want["ETag"].strip('"')
            assert got.last_modified_ns == int(want["LastModified"].timestamp() * 1e9)
            assert got.content_type == "text/plain"
            assert got.user == {"color": "blue"}
            assert got.headers.get("cache-control") == "max-age=60"
            # through S3Backend.head_object too (the path the node takes)
            assert (await backend.head_object(bucket, key)).etag == got.etag
        with pytest.raises(S3Error) as e:
            await lean.head(bucket, "missing")
        assert e.value.code == "NoSuchKey"
        etag = (await lean.head(bucket, "plain")).etag
        with pytest.raises(S3Error) as e:
            await lean.head(bucket, "plain", if_match='"0000"')
        assert e.value.code == "PreconditionFailed"
        assert (await lean.head(bucket, "plain", if_match=f'"{etag}"')).etag == etag
    finally:
        await backend.aclose()


async def test_lean_head_keeps_connections(target: Target) -> None:
    if target.name == "moto":
        pytest.skip("moto's server closes every connection (HTTP/1.0)")
    bucket = target.new_bucket()
    target.client().put_object(Bucket=bucket, Key="k", Body=b"v")
    backend = _backend(target)
    lean = backend._lean
    assert lean is not None
    try:
        async with trio.open_nursery() as n:
            for _ in range(8):
                n.start_soon(lean.head, bucket, "k")
        idle = len(lean._idle)
        assert 1 <= idle <= 8
        for _ in range(20):
            await lean.head(bucket, "k")
        assert len(lean._idle) == idle  # reused, none opened
    finally:
        await backend.aclose()
    assert not lean._idle


async def test_lean_head_with_a_wrong_secret_is_access_denied(target: Target) -> None:
    if target.name == "moto":
        pytest.skip("moto does not check signatures")
    bucket = target.new_bucket()
    target.client().put_object(Bucket=bucket, Key="k", Body=b"v")
    backend = _backend(target, secret_key="not-the-secret")
    assert backend._lean is not None
    try:
        with pytest.raises(S3Error) as e:
            await backend.head_object(bucket, "k")
        assert e.value.code == "AccessDenied" and e.value.status == 403
        assert "not-the-secret" not in str(e.value)
    finally:
        await backend.aclose()


async def test_lean_head_of_a_backend_that_is_down_is_503() -> None:
    from aisfs.config import BackendS3Config

    cfg = BackendS3Config(endpoint=f"http://127.0.0.1:{free_port()}", access_key="a",
                          secret_key="b", retries=1, connect_timeout=1.0)
    lean = LeanClient(settings_for(cfg))
    with pytest.raises(S3Error) as e:
        await lean.head("b", "k")
    assert e.value.code == "ServiceUnavailable" and e.value.status == 503
    assert "127.0.0.1" in e.value.message


def test_lean_head_only_with_static_keys_and_an_endpoint() -> None:
    from aisfs.config import BackendS3Config

    def usable(**kw: object) -> bool:
        return LeanClient.usable(settings_for(BackendS3Config(**kw)))  # type: ignore[arg-type]

    assert usable(endpoint="http://h:1", access_key="a", secret_key="b")
    assert usable(endpoint="https://h", access_key="a", secret_key="b")
    assert not usable(endpoint="http://h:1")  # the credential chain: botocore
    assert not usable(access_key="a", secret_key="b")  # AWS itself: botocore
    assert not usable(endpoint="http://h:1", access_key="a", secret_key="b", profile="p")


async def _read(stream: RemoteStream, piece: int = 1 << 20) -> bytes:
    try:
        return b"".join([p async for p in stream.pieces(piece)])
    finally:
        await stream.aclose()


async def test_lean_get_answers_as_botocore(target: Target) -> None:
    """S3Backend.open_object takes the lean GET (no botocore GetObject is made): the
    bytes, the attributes, a range's span and whole size are botocore's; an error status
    falls back to botocore, whose errors map as before; connections are kept."""
    bucket = target.new_bucket()
    client = target.client()
    data = os.urandom(3 * 1024 * 1024 + 7)
    for key in KEYS:
        client.put_object(Bucket=bucket, Key=key, Body=data, ContentType="text/plain",
                          Metadata={"color": "blue"})
    client.put_object(Bucket=bucket, Key="empty", Body=b"")
    backend = _backend(target)
    botocore_gets: list[str] = []
    backend.client().meta.events.register(
        "before-call.s3.GetObject", lambda params, **_: botocore_gets.append(params["url_path"]))
    try:
        for key in KEYS:
            head = await backend.head_object(bucket, key)
            stream = await backend.open_object(bucket, key)
            assert stream.attrs == head and stream.length == len(data)
            assert await _read(stream, 1 << 20) == data
        part = await backend.open_object(bucket, KEYS[1], range_header="bytes=10-1048585")
        assert (part.start, part.end, part.length) == (10, 1048585, 1048576)
        assert part.attrs.size == len(data) and part.attrs.etag == head.etag
        assert await _read(part, 4096) == data[10:1048586]
        empty = await backend.open_object(bucket, "empty")
        assert empty.length == 0 and await _read(empty) == b""
        # errors map as botocore's do, read from the backend's error document here
        with pytest.raises(S3Error) as e:
            await backend.open_object(bucket, "missing")
        assert e.value.code == "NoSuchKey" and e.value.status == 404
        with pytest.raises(S3Error) as e:
            await backend.open_object("no-such-bucket-lean", "k")
        assert e.value.code == "NoSuchBucket" and e.value.status == 404
        with pytest.raises(S3Error) as e:
            await backend.open_object(bucket, KEYS[0], if_match='"0000"')
        assert e.value.code == "PreconditionFailed" and e.value.status == 412
        assert botocore_gets == []
        if target.name != "moto":  # moto does not check signatures
            wrong = _backend(target, secret_key="not-the-secret")
            try:
                with pytest.raises(S3Error) as e:
                    await wrong.open_object(bucket, KEYS[0])
                assert e.value.code == "AccessDenied" and e.value.status == 403
            finally:
                await wrong.aclose()
        # a body left unread closes its connection; one read to its end is kept
        unread = await backend.open_object(bucket, KEYS[0])
        await unread.aclose()
        lean = backend._lean
        assert lean is not None
        if target.name != "moto":  # moto's server closes every connection (HTTP/1.0)
            assert await _read(await backend.open_object(bucket, "empty")) == b""
            idle = len(lean._idle)
            for _ in range(5):
                assert await _read(await backend.open_object(bucket, "empty")) == b""
            assert len(lean._idle) == idle >= 1
        assert backend.slots.borrowed_tokens == 0
    finally:
        await backend.aclose()
