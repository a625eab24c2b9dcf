"""Short-circuit local reads (aisfs_mount/localread.py, aisfs_node/native/locate.py)."""

from __future__ import annotations

import json
import os
import re
import socket
import urllib.request
from pathlib import Path

import pytest
import trio
import xxhash
from mountkit import Endpoint, Mount, MountFactory

from aisfs.errors import S3Error
from aisfs.store import layout
from aisfs_mount.backend import Unreachable
from aisfs_mount.localread import (
    Chunk,
    LocalMiss,
    LocalObject,
    LocalReads,
    _loopback_or_any,
    listener_uid,
    loopback,
)

MiB = 1 << 20


def _mountpath(root: Path) -> str:
    (root / "chunks").mkdir(parents=True)
    (root / layout.IDENTITY_FILE).write_text("{}")
    return str(root)


def _chunk(root: str, data: bytes) -> tuple[str, int]:
    cid = xxhash.xxh3_128_hexdigest(data)
    path = Path(layout.chunk_path(root, cid))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return cid, len(data)


def test_loopback_and_listener_uid() -> None:
    assert loopback("127.0.0.1") and loopback("::1") and loopback("localhost")
    assert not loopback("10.0.0.1") and not loopback("node1")
    assert _loopback_or_any("0100007F") and _loopback_or_any("00000000")
    assert not _loopback_or_any("0100000A")
    assert _loopback_or_any("00000000000000000000000001000000")  # ::1
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert listener_uid(s.getsockname()[1]) == os.geteuid()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert listener_uid(port) is None


def test_parse_builds_paths_itself_and_refuses_what_it_cannot_check(tmp_path: Path) -> None:
    root = _mountpath(tmp_path / "mp")
    cid, size = _chunk(root, b"a" * 1000)
    lr = LocalReads("http://127.0.0.1:9/s3", "http://127.0.0.1:9")
    uid = os.geteuid()
    good = {"size": size, "mountpaths": [root], "chunks": [{"id": cid, "size": size, "mp": [0]}]}
    obj = lr.parse(good, size, uid)
    assert obj.chunks[0].paths == (layout.chunk_path(root, cid),)
    bad_id = dict(good, chunks=[{"id": "../../../etc/passwd", "size": size, "mp": [0]}])
    for answer, want in [
        (dict(good, inline=True), size), (good, size + 1), (bad_id, size),
        (dict(good, mountpaths=[str(tmp_path)]), size),  # no identity file: not a mountpath
        (dict(good, chunks=[{"id": cid, "size": size - 1, "mp": [0]}]), size),
    ]:
        with pytest.raises(LocalMiss):
            lr.parse(answer, want, uid)
    with pytest.raises(LocalMiss):
        LocalReads("http://127.0.0.1:9/s3", "").parse(good, size, uid + 1)  # not the owner
    assert not LocalReads("http://10.1.2.3:9/s3", "").enabled
    assert not LocalReads("https://127.0.0.1:9/s3", "").enabled


def test_read_into_verifies_and_serves_unaligned_chunks(tmp_path: Path) -> None:
    root = _mountpath(tmp_path / "mp")
    pieces = [os.urandom(n) for n in (5000, 3000, 7001)]
    chunks = [Chunk(cid, n, (layout.chunk_path(root, cid),))
              for cid, n in (_chunk(root, p) for p in pieces)]
    data = b"".join(pieces)
    obj = LocalObject(chunks, os.geteuid())
    buf = bytearray(8192)
    for start in range(0, len(data), 4096):  # blocks that end inside chunks
        n = min(4096, len(data) - start)
        assert bytes(obj.read_into(start, n, buf)) == data[start:start + n]
    with pytest.raises(LocalMiss):
        obj.read_into(len(data) - 10, 20, buf)
    # a chunk whose bytes changed on disk is never served
    path = Path(chunks[1].paths[0])
    path.write_bytes(b"x" * 3000)
    obj = LocalObject(chunks, os.geteuid())
    assert bytes(obj.read_into(0, 5000, buf)) == data[:5000]
    with pytest.raises(LocalMiss):
        obj.read_into(5000, 3000, buf)
    path.unlink()
    with pytest.raises(LocalMiss):
        obj.read_into(5000, 3000, buf)


def test_map_block_maps_only_whole_verified_chunks_of_safe_files(tmp_path: Path) -> None:
    root = _mountpath(tmp_path / "mp")
    pieces = [os.urandom(8192), os.urandom(8192)]
    chunks = [Chunk(cid, n, (layout.chunk_path(root, cid),))
              for cid, n in (_chunk(root, p) for p in pieces)]
    obj = LocalObject(chunks, os.geteuid())
    view = obj.map_block(8192, 8192)
    assert view is not None and bytes(view) == pieces[1]
    assert obj.map_block(0, 4096) is None and obj.map_block(4096, 8192) is None
    assert LocalObject(chunks, os.geteuid(), map_ok=False).map_block(0, 8192) is None
    os.chmod(chunks[0].paths[0], 0o664)  # others may write it: copied, not mapped
    assert obj.map_block(0, 8192) is None
    assert bytes(obj.read_into(0, 8192, bytearray(8192))) == pieces[0]
    os.chmod(chunks[0].paths[0], 0o644)
    Path(chunks[0].paths[0]).write_bytes(b"y" * 8192)
    assert obj.map_block(0, 8192) is None
    with pytest.raises(LocalMiss):
        obj.read_into(0, 8192, bytearray(8192))


def test_locate_failures(tmp_path: Path) -> None:
    """Unreachable fails the read at once; an older node (501) is not asked again; any
    other failure means GETs."""
    root = _mountpath(tmp_path / "mp")
    cid, size = _chunk(root, os.urandom(5 * MiB))
    good = {"size": size, "mountpaths": [root], "chunks": [{"id": cid, "size": size, "mp": [0]}]}
    calls: list[str] = []

    def native(outcome: object) -> object:
        async def call(method: str, path: str, body: object, resource: str = "") -> object:
            calls.append(f"{method} {path} {body}")
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome
        return call

    async def main() -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            lr = LocalReads(f"http://127.0.0.1:{port}/s3", f"http://127.0.0.1:{port}")
            obj = await lr.locate(native(good), "b", "k", size)
            assert obj is not None and obj.size == size
            assert calls == ["POST /v1/objects/b/k {'action': 'locate'}"]
            assert await lr.locate(native(good), "b", "k", size - 1) is None  # changed size
            assert await lr.locate(native(good), "b", "small", MiB) is None
            assert len(calls) == 2  # no locate for a small file
            with pytest.raises(Unreachable):
                await lr.locate(native(Unreachable("down")), "b", "k", size)
            assert await lr.locate(native(S3Error("InternalError", "x", status=500)),
                                   "b", "k", size) is None and lr.enabled
            assert await lr.locate(native(S3Error("NotImplemented", "x", status=501)),
                                   "b", "k", size) is None and not lr.enabled
            n = len(calls)
            assert await lr.locate(native(good), "b", "k", size) is None and len(calls) == n
        # nobody listens on the port: not asked at all
        lr = LocalReads(f"http://127.0.0.1:{port}/s3", f"http://127.0.0.1:{port}")
        assert await lr.locate(native(good), "b", "k", size) is None and len(calls) == n

    trio.run(main)


def _base(endpoint: Endpoint) -> str:
    return endpoint.url.rstrip("/").removesuffix("/s3")


def _get_bytes_out(endpoint: Endpoint) -> int:
    text = urllib.request.urlopen(_base(endpoint) + "/metrics", timeout=10).read().decode()
    m = re.search(r'^aisfs_response_bytes_out_total\{api="s3",operation="GetObject"\} (\S+)',
                  text, re.M)
    return int(float(m.group(1))) if m else 0


@pytest.fixture
def node(endpoint: Endpoint) -> Endpoint:
    if endpoint.kind != "node":
        pytest.skip("local reads need our node")
    return endpoint


def test_big_reads_come_from_the_chunk_files(node: Endpoint, mount_factory: MountFactory,
                                             bucket: str) -> None:
    s3 = node.s3
    data = os.urandom(20 * MiB + 123)
    s3.put_object(Bucket=bucket, Key="one", Body=data)
    # a multipart object of 5 MiB parts: its chunks do not line up with 8 MiB blocks
    up = s3.create_multipart_upload(Bucket=bucket, Key="parts")["UploadId"]
    parts = []
    for n, i in enumerate(range(0, len(data), 5 * MiB), 1):
        r = s3.upload_part(Bucket=bucket, Key="parts", UploadId=up, PartNumber=n,
                           Body=data[i:i + 5 * MiB])
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key="parts", UploadId=up,
                                 MultipartUpload={"Parts": parts})
    m = mount_factory(bucket)
    before = _get_bytes_out(node)
    assert (m.path / "one").read_bytes() == data
    assert (m.path / "parts").read_bytes() == data
    assert _get_bytes_out(node) - before < 2 * MiB, "the data came through GETs"
    copy = mount_factory(bucket, "local_read=copy")
    before = _get_bytes_out(node)
    assert (copy.path / "one").read_bytes() == data
    assert _get_bytes_out(node) - before < MiB
    off = mount_factory(bucket, "local_read=off")
    before = _get_bytes_out(node)
    assert (off.path / "one").read_bytes() == data
    assert _get_bytes_out(node) - before >= len(data)


def test_chunk_of_another_owner_is_read_with_gets(node: Endpoint, mnt: Mount,
                                                  bucket: str) -> None:
    data = os.urandom(9 * MiB)
    node.s3.put_object(Bucket=bucket, Key="f", Body=data)
    req = urllib.request.Request(f"{_base(node)}/v1/objects/{bucket}/f", method="POST",
                                 data=b'{"action": "locate"}',
                                 headers={"Content-Type": "application/json"})
    where = json.loads(urllib.request.urlopen(req, timeout=10).read())
    assert where["size"] == len(data) and not where["inline"]
    first = where["chunks"][0]
    path = layout.chunk_path(where["mountpaths"][first["mp"][0]], first["id"])
    os.chown(path, 12345, 12345)
    try:
        before = _get_bytes_out(node)
        assert (mnt.path / "f").read_bytes() == data
        assert _get_bytes_out(node) - before >= 8 * MiB
    finally:
        os.chown(path, os.geteuid(), os.getegid())
