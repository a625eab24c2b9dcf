"""An encrypted object's GET on the node's own server over plain HTTP: each chunk read,
decrypted and written to the socket by a worker thread (aisfs_node/s3/sse_read.py
``thread_sent``, the server's ``threadsend`` extension).
Exact bytes whole, by range (mid-block, across chunks and parts) and by part, for
SSE-S3 and SSE-C, single and multipart, with boto3 in both auth modes - each read
three times: chunks read and hashed (written under a second ago), verified and
remembered, then trusted (aisfs/store/verified.py). A chunk copy that fails its check
never gives a wrong byte: a clean 500 before the headers, or a body cut short. A client
that leaves mid-body, or one that stops reading while the node stops, ends the worker:
the node serves on, and stops cleanly."""

from __future__ import annotations

import http.client
import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from support.manifest_copies import every_copy
from support.node import NodeProcess, new_node, start_node
from tests.s3api.test_sse import SIGV4, SSEC, bucket, client_for
from tests.s3api.test_zero_copy_get import flip_in_place

MiB = 1024 * 1024
CHUNK = MiB
CONFIG = f"[store]\nfsync = false\nchunk_size = {CHUNK}\n[s3]\nsse_c_over_http = true\n"


@pytest.fixture(scope="module", params=["open", "sigv4"])
def node_s3(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[NodeProcess, Any]]:
    signed = request.param == "sigv4"
    tmp = tmp_path_factory.mktemp(f"sse-read-{request.param}")
    node = new_node(tmp, config=CONFIG + (SIGV4 if signed else "")).start()
    try:
        yield node, client_for(node, signed)
    finally:
        assert node.stop() == 0, node.log()


def multipart(s3: Any, b: str, key: str, parts: list[tuple[int, bytes]],
              enc: dict[str, Any]) -> bytes:
    up = s3.create_multipart_upload(Bucket=b, Key=key, **enc)
    done = []
    for number, data in parts:
        extra = {k: v for k, v in enc.items() if k.startswith("SSECustomer")}
        r = s3.upload_part(Bucket=b, Key=key, UploadId=up["UploadId"], PartNumber=number,
                           Body=data, **extra)
        done.append({"PartNumber": number, "ETag": r["ETag"]})
    s3.complete_multipart_upload(Bucket=b, Key=key, UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": done})
    return b"".join(data for _, data in parts)


def check_reads(s3: Any, b: str, key: str, data: bytes, bounds: list[int],
                read: dict[str, Any]) -> None:
    """The whole object, ranges around each of ``bounds`` and across them, each part."""
    got = s3.get_object(Bucket=b, Key=key, **read)
    assert got["ContentLength"] == len(data) and got["Body"].read() == data
    ranges = [(0, 0), (15, 16), (17, 17 + 2 * CHUNK), (len(data) - 10, len(data) - 1)]
    ranges += [(at - 7, at + 9) for at in bounds]
    ranges += [(bounds[0] + 3, bounds[-1] + 33)]
    for lo, hi in ranges:
        part = s3.get_object(Bucket=b, Key=key, Range=f"bytes={lo}-{hi}", **read)
        assert part["Body"].read() == data[lo : hi + 1], (key, lo, hi)


SINGLE = 5 * CHUNK + 12345
PARTS = [(1, 5 * MiB + 5), (2, 5 * MiB + 3), (3, 777)]
PARTS_C = [(2, 5 * MiB + 11), (5, 5 * MiB + 7), (9, 1234)]  # numbers, not order, key CTR


@pytest.mark.parametrize("kind", ["single", "multipart", "multipart-c"])
def test_exact_bytes_every_way(node_s3: tuple[NodeProcess, Any], kind: str) -> None:
    _node, s3 = node_s3
    b = bucket(s3, "sse-read")
    if kind == "single":
        data = os.urandom(SINGLE)
        s3.put_object(Bucket=b, Key=kind, Body=data, ServerSideEncryption="AES256")
        read: dict[str, Any] = {}
        bounds = [CHUNK, 3 * CHUNK]
        sizes = [SINGLE]
    else:
        spec = PARTS if kind == "multipart" else PARTS_C
        enc: dict[str, Any] = ({"ServerSideEncryption": "AES256"} if kind == "multipart"
                               else dict(SSEC))
        read = {} if kind == "multipart" else dict(SSEC)
        data = multipart(s3, b, kind, [(n, os.urandom(size)) for n, size in spec], enc)
        sizes = [size for _, size in spec]
        bounds = [CHUNK, sizes[0], sizes[0] + sizes[1]]  # a chunk's end, the parts' ends
    for attempt in range(3):  # hashed (racy), verified and remembered, trusted
        check_reads(s3, b, kind, data, bounds, read)
        if attempt == 0:
            time.sleep(1.1)
    if kind != "single":
        off = 0
        for number, size in enumerate(sizes, 1):
            got = s3.get_object(Bucket=b, Key=kind, PartNumber=number, **read)
            assert got["Body"].read() == data[off : off + size], number
            off += size


# ---- a chunk that fails its check ---------------------------------------------------

def raw_get(node: NodeProcess, path: str) -> tuple[int, bytes, bool]:
    """(status, the body bytes that arrived, whether the body was whole)."""
    url = urlparse(node.s3_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.request("GET", f"{url.path}{path}")
        resp = conn.getresponse()
        try:
            return resp.status, resp.read(), True
        except http.client.IncompleteRead as e:
            return resp.status, e.partial, False
    finally:
        conn.close()


def chunk_paths(node: NodeProcess, key: str) -> list[Path]:
    """The chunk files of ``key``, in object order (from its manifest)."""
    for mp in node.mountpaths:
        for c in every_copy(mp):
            if c.key == key:
                return [next(p for m in node.mountpaths
                             for p in m.rglob(cid) if p.is_file())
                        for cid, _ in c.doc()["chunks"]]
    raise AssertionError(f"no manifest of {key}")


@pytest.mark.allow_node_errors
def test_a_bad_chunk_gives_no_wrong_byte(tmp_path: Path) -> None:
    node = start_node(tmp_path, config=CONFIG)
    try:
        s3 = client_for(node, False)
        b = bucket(s3, "sse-bad")
        data = os.urandom(4 * CHUNK + 100)
        s3.put_object(Bucket=b, Key="k", Body=data, ServerSideEncryption="AES256")
        time.sleep(1.1)  # let the next GET remember its chunks as verified
        for _ in range(2):
            assert raw_get(node, f"/{b}/k") == (200, data, True)
        files = chunk_paths(node, "k")
        assert len(files) == 5
        flip_in_place(files[2], 123)  # changed after it was verified: read and hashed
        status, body, whole = raw_get(node, f"/{b}/k")
        assert status == 200 and not whole  # cut after the good chunks, never past them
        assert len(body) <= 2 * CHUNK and body == data[: len(body)]
        flip_in_place(files[2], 123)
        flip_in_place(files[0], 5)  # the first piece: refused before the headers
        status, body, whole = raw_get(node, f"/{b}/k")
        assert status == 500 and b"InternalError" in body
        flip_in_place(files[0], 5)
        assert raw_get(node, f"/{b}/k") == (200, data, True)
        assert "is corrupt" in node.log()
    finally:
        node.stop()


@pytest.mark.parametrize("how", ["sse-s3", "sse-c"])
def test_empty_object(node_s3: tuple[NodeProcess, Any], how: str) -> None:
    _node, s3 = node_s3
    b = bucket(s3, "sse-empty")
    enc: dict[str, Any] = {"ServerSideEncryption": "AES256"} if how == "sse-s3" else dict(SSEC)
    read = {} if how == "sse-s3" else dict(SSEC)
    s3.put_object(Bucket=b, Key="e", Body=b"", **enc)
    got = s3.get_object(Bucket=b, Key="e", **read)
    assert got["ContentLength"] == 0 and got["Body"].read() == b""
    data = multipart(s3, b, "m", [(1, os.urandom(5 * MiB)), (2, b"")], enc)
    assert s3.get_object(Bucket=b, Key="m", **read)["Body"].read() == data


def open_get(node: NodeProcess, path: str) -> socket.socket:
    """A raw GET of ``path`` sent, its answer not read."""
    url = urlparse(node.s3_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=60)
    sock.sendall(f"GET {url.path}{path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def test_a_client_leaving_mid_body_and_a_stop_mid_body(tmp_path: Path) -> None:
    node = start_node(tmp_path, config=CONFIG + "[net]\ngraceful_timeout = 1.0\n")
    try:
        s3 = client_for(node, False)
        b = bucket(s3, "sse-leave")
        data = os.urandom(40 * CHUNK + 7)  # far more than the sockets' buffers hold
        s3.put_object(Bucket=b, Key="k", Body=data, ServerSideEncryption="AES256")
        time.sleep(1.1)  # the next GETs send copies remembered as verified
        assert raw_get(node, f"/{b}/k") == (200, data, True)
        for _ in range(3):  # read a little, then reset the connection
            sock = open_get(node, f"/{b}/k")
            got = 0
            while got < 3 * CHUNK:
                got += len(sock.recv(1 << 20))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        assert raw_get(node, f"/{b}/k") == (200, data, True)
        # a client that stops reading while the node stops: the worker blocked on its
        # full socket is woken when the request is cancelled, and the node exits cleanly
        stalled = open_get(node, f"/{b}/k")
        assert stalled.recv(100).startswith(b"HTTP/1.1 200 ")
        time.sleep(0.3)
        assert node.stop() == 0
        stalled.close()
    finally:
        node.stop()


@pytest.mark.allow_node_errors
def test_a_copy_bad_before_any_read_is_served_from_the_good_one(tmp_path: Path) -> None:
    """A whole chunk's copy is handed to the decrypting thread unverified and hashed as
    it is decrypted (one pass): a copy bad from the start is found before a byte of it
    goes out, and the chunk comes from its other copy - the body whole and exact."""
    node = start_node(tmp_path, mountpaths=2,
                      config=CONFIG.replace("[store]\n", "[store]\ndefault_copies = 2\n"))
    try:
        s3 = client_for(node, False)
        b = bucket(s3, "sse-mirror")
        data = os.urandom(4 * CHUNK + 100)
        s3.put_object(Bucket=b, Key="k", Body=data, ServerSideEncryption="AES256")
        time.sleep(1.1)
        cid = chunk_paths(node, "k")[1].name  # the second chunk: a copy on each mountpath
        copies = [p for m in node.mountpaths for p in m.rglob(cid) if p.is_file()]
        assert len(copies) == 2
        for copy in copies:  # whichever copy a read opens first, one GET finds it bad
            good = copy.read_bytes()
            flip_in_place(copy, 77)
            for _ in range(2):
                assert raw_get(node, f"/{b}/k") == (200, data, True)
            got = s3.get_object(Bucket=b, Key="k", Range=f"bytes={CHUNK - 5}-{2 * CHUNK + 5}")
            assert got["Body"].read() == data[CHUNK - 5 : 2 * CHUNK + 6]
            if copy.read_bytes() != good:  # not read (the other was first): put it back
                copy.write_bytes(good)
        assert "is corrupt" in node.log()  # one of them was read, found bad and repaired
    finally:
        node.stop()
