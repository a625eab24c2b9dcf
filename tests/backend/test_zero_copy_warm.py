"""A warm GET of a cached remote object takes the ``ais://`` GET's zero-copy path
(docs/store.md, "Zero-copy reads"): once a chunk copy of the cached object has been read
and verified, a later GET sends it as a file segment (sendfile), unread by Python - with
and without ``validate_warm_get`` (its HEAD first). It is still verified: a chunk copy
changed after its verification is read and hashed again, and a bad one is never served
(the node drops the copy and fetches the object from the backend again)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import pytest
import trio

from aisfs.backend import Backends, BucketRef, Provider, open_remote_objects
from aisfs.backend.remote import RemoteRead
from aisfs.store import Store
from aisfs.store.chunks import StoreCorruption
from aisfs.store.reader import FileSegment
from support.damage import flip_in_place
from support.moto import MotoServer
from support.node import NodeProcess, new_node

from .conftest import Front, Target, cached, client_of, front_config, wait_cached

MiB = 1024 * 1024
CHUNK = MiB  # the store's chunk size in both fronts here
SIZE = 5 * CHUNK + 12345


@pytest.fixture
def moto_target(moto_server: MotoServer) -> Target:
    return Target("moto", moto_server.endpoint, moto_server.access_key, moto_server.secret_key)


@pytest.fixture
async def moto_front(store: Store, moto_target: Target) -> AsyncIterator[Front]:
    backends = Backends(moto_target.config())
    bucket = moto_target.new_bucket()
    async with open_remote_objects(store, backends) as ro:
        rb = backends.resolve(BucketRef(Provider.AWS, bucket), {})
        yield Front(store, backends, ro, moto_target, bucket, rb)
    await backends.aclose()


async def read_pieces(read: RemoteRead) -> tuple[bytes, int]:
    """The body's bytes (a file segment read from its descriptor while it is open) and
    how many of its pieces were file segments."""
    out = bytearray()
    segments = 0
    async for piece in read.body:
        if isinstance(piece, FileSegment):
            segments += 1
            out += os.pread(piece.fd, piece.count, piece.offset)
        else:
            out += piece
    return bytes(out), segments


def chunk_files(roots: list[Path]) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*")
                  if p.is_file() and "chunks" in p.parts)


def first_chunk(roots: list[Path], data: bytes) -> Path:
    found = [p for p in chunk_files(roots) if p.read_bytes() == data[:CHUNK]]
    assert len(found) == 1, found
    return found[0]


async def test_warm_get_sends_verified_chunks_as_file_segments(moto_front: Front) -> None:
    f = moto_front
    data = os.urandom(SIZE)
    f.target.client().put_object(Bucket=f.bucket, Key="k", Body=data)
    cold = await f.ro.get(f.rb, "k", segments=True)
    assert not cold.cached and (await read_pieces(cold)) == (data, 0)
    with trio.fail_after(30):
        while len(f.ro._flights):  # noqa: ASYNC110 (polled: no event to wait on)
            await trio.sleep(0.02)
    await trio.sleep(1.1)  # a chunk verified in the second it was written is not trusted
    first = await f.ro.get(f.rb, "k", segments=True)
    # verified in place (hashed from the files), then sent from them
    assert first.cached and (await read_pieces(first)) == (data, 6)
    validating = f.resolved(**{"versioning.validate_warm_get": True})
    for rb in (f.rb, validating):  # plain, and after the backend's HEAD
        warm = await f.ro.get(rb, "k", segments=True)
        assert warm.cached and (await read_pieces(warm)) == (data, 6)
    ranged = await f.ro.get(f.rb, "k", range_header=f"bytes={CHUNK - 3}-{3 * CHUNK + 4}",
                            segments=True)
    assert (await read_pieces(ranged)) == (data[CHUNK - 3 : 3 * CHUNK + 5], 4)
    copying = await f.ro.get(f.rb, "k")  # a caller that cannot send files: bytes
    assert (await read_pieces(copying)) == (data, 0)
    roots = list(f.store.config.mountpaths)
    flip_in_place(first_chunk(roots, data), CHUNK // 2)
    changed = await f.ro.get(f.rb, "k", segments=True)
    with pytest.raises(StoreCorruption):  # read and hashed again: refused
        await read_pieces(changed)


# == through a node ==================================================================


@pytest.fixture
def node(tmp_path: Path, moto_target: Target) -> Iterator[NodeProcess]:
    config = f"[store]\nchunk_size = {CHUNK}\n" + front_config(moto_target)
    n = new_node(tmp_path / "front", config=config).start()
    try:
        yield n
    finally:
        assert n.stop() == 0, n.log()[-4000:]


def validate_warm_gets(node: NodeProcess, bucket: str) -> None:
    body = json.dumps({"action": "set-bprops",
                       "value": {"versioning": {"validate_warm_get": True}}}).encode()
    req = Request(f"{node.url}/v1/buckets/{bucket}?provider=aws", data=body, method="PATCH",
                  headers={"content-type": "application/json"})
    with urlopen(req, timeout=30) as resp:
        assert resp.status == 200


def get(s3: Any, bucket: str, **kw: Any) -> tuple[str, bytes]:
    resp = s3.get_object(Bucket=bucket, Key="k", **kw)
    return cached(resp), resp["Body"].read()


@pytest.mark.allow_node_errors
def test_node_warm_get_exact_and_a_changed_copy_fetched_again(
    node: NodeProcess, moto_target: Target
) -> None:
    bucket = moto_target.new_bucket()
    data = os.urandom(SIZE)
    moto_target.client().put_object(Bucket=bucket, Key="k", Body=data)
    s3 = client_of(node)
    assert get(s3, bucket) == ("false", data)
    wait_cached(s3, bucket, "k")
    time.sleep(1.1)  # past the racy second: the next read is remembered
    for _ in range(3):  # the first verifies, the next are sent from the files
        assert get(s3, bucket) == ("true", data)
    lo, hi = CHUNK - 3, 4 * CHUNK + 9
    assert get(s3, bucket, Range=f"bytes={lo}-{hi}") == ("true", data[lo : hi + 1])
    validate_warm_gets(node, bucket)
    for _ in range(2):  # the backend HEADed first, then the same path
        assert get(s3, bucket) == ("true", data)
    flip_in_place(first_chunk(node.mountpaths, data), CHUNK // 2)
    # hashed again, found bad, dropped; the object comes from the backend, whole
    assert get(s3, bucket) == ("false", data)
    assert "cannot be read" in node.log()
    wait_cached(s3, bucket, "k")
    assert get(s3, bucket) == ("true", data)
