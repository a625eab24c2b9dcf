"""The ``/v1`` object GET sends a large object's verified chunk copies with sendfile, as
the S3 GET does (docs/store.md "Zero-copy reads", docs/native-api.md): in process, the
node's ASGI app offered ``http.response.zerocopysend`` answers with file segments once
each copy was verified and the whole checksum validated (``validate_warm_get``), and
without the extension (TLS, Hypercorn) with bytes; over a real node, in both auth
modes, the bytes are exact, whole and by range, and a byte flipped in a chunk copy after
its verification is never served."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from aisfs.config import NodeConfig
from aisfs.store import Store, StoreConfig, open_store
from aisfs_node.app import NodeApp
from aisfs_node.http import ZEROCOPY
from support.damage import flip_in_place
from support.node import NodeProcess

from .conftest import start, stop_and_check

MiB = 1024 * 1024
CHUNK = MiB  # the store's chunk size here and in FAST_CONFIG
SIZE = 5 * CHUNK + 12345


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    mps = [tmp_path / "mp1"]
    for mp in mps:
        mp.mkdir()
    config = StoreConfig(mountpaths=mps, index_dir=tmp_path / "index", chunk_size=CHUNK,
                         fsync=False)
    async with open_store(config) as s:
        yield s


class Answer:
    """What the app sent: status, body bytes, how many pieces were file segments."""

    def __init__(self) -> None:
        self.status = 0
        self.body = bytearray()
        self.segments = 0

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == ZEROCOPY:  # read while the descriptor is open
            self.segments += 1
            self.body += os.pread(message["file"], message["count"], message["offset"])
        else:
            self.body += message.get("body", b"")


async def call(app: NodeApp, method: str, path: str, body: bytes = b"",
               headers: dict[str, str] | None = None, zero_copy: bool = True) -> Answer:
    path, _, query = path.partition("?")
    scope: dict[str, Any] = {
        "type": "http", "method": method, "path": path, "raw_path": path.encode(),
        "query_string": query.encode(), "scheme": "http", "client": ("127.0.0.1", 1),
        "headers": [(k.lower().encode(), v.encode()) for k, v in {
            "host": "node", "content-length": str(len(body)), **(headers or {})}.items()],
    }
    if zero_copy:
        scope["extensions"] = {ZEROCOPY: {}}
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await trio.sleep_forever()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    answer = Answer()
    await app(scope, receive, answer.send)
    return answer


def chunk_files(roots: list[Path]) -> dict[bytes, Path]:
    return {p.read_bytes(): p for root in roots for p in root.rglob("*")
            if p.is_file() and "chunks" in p.parts}


async def put_settled(app: NodeApp, bucket: str, key: str, data: bytes) -> None:
    create = json.dumps({"action": "create-bck"}).encode()
    assert (await call(app, "POST", f"/v1/buckets/{bucket}", create)).status in (200, 409)
    assert (await call(app, "PUT", f"/v1/objects/{bucket}/{key}", data)).status == 200
    await trio.sleep(1.1)  # a copy verified within a second of its write is not trusted


async def test_v1_get_sends_file_segments_once_verified(store: Store) -> None:
    app = NodeApp(NodeConfig(), store)
    data = os.urandom(SIZE)
    await put_settled(app, "zcopy", "big", data)
    first = await call(app, "GET", "/v1/objects/zcopy/big")  # chunks and whole checksum hashed
    assert first.status == 200 and first.body == data and first.segments == 0
    again = await call(app, "GET", "/v1/objects/zcopy/big")  # every chunk from its file
    assert again.status == 200 and again.body == data and again.segments == 6
    for lo, hi in ((0, 0), (CHUNK - 3, CHUNK + 3), (2 * CHUNK + 7, 4 * CHUNK + 9),
                   (SIZE - 10, SIZE - 1)):
        got = await call(app, "GET", "/v1/objects/zcopy/big", headers={"Range": f"bytes={lo}-{hi}"})
        assert got.status == 206 and got.body == data[lo : hi + 1], (lo, hi)
        assert got.segments == hi // CHUNK - lo // CHUNK + 1
    # no extension (TLS, Hypercorn): the copying path, the same bytes
    plain = await call(app, "GET", "/v1/objects/zcopy/big", zero_copy=False)
    assert plain.status == 200 and plain.body == data and plain.segments == 0
    # validate_warm_get on, an object never validated whole: streamed through the hash
    await put_settled(app, "zcopy", "other", data[::-1])
    got = await call(app, "GET", "/v1/objects/zcopy/other")
    assert got.body == data[::-1] and got.segments == 0


async def test_v1_get_flipped_byte_is_not_sent(store: Store) -> None:
    app = NodeApp(NodeConfig(), store)
    data = os.urandom(3 * CHUNK)
    await put_settled(app, "zflip", "k", data)
    for _ in range(2):
        assert (await call(app, "GET", "/v1/objects/zflip/k")).body == data
    path = chunk_files(store.config.mountpaths)[data[CHUNK : 2 * CHUNK]]
    flip_in_place(path, CHUNK // 2)
    # found mid-response: cut after the good first chunk, not one wrong byte sent
    cut = await call(app, "GET", "/v1/objects/zflip/k")
    assert cut.status == 200 and cut.body == data[:CHUNK]
    # found first (a range from the bad chunk): a clean 500
    ranged = await call(app, "GET", "/v1/objects/zflip/k", headers={"Range": f"bytes={CHUNK}-"})
    assert ranged.status == 500
    flip_in_place(path, CHUNK // 2)  # put back: read and verified again, then sent from the file
    await trio.sleep(1.1)
    assert (await call(app, "GET", "/v1/objects/zflip/k")).body == data
    again = await call(app, "GET", "/v1/objects/zflip/k")
    assert again.body == data and again.segments == 3


SIGV4 = """
[store]
fsync = false
chunk_size = 1048576
[auth]
mode = "sigv4"
access_keys = { AKIDNATIVE = "native-secret" }
"""


def auth_headers(auth: str, method: str, url: str, body: bytes = b"",
                 headers: dict[str, str] | None = None) -> dict[str, str]:
    """``headers`` with a SigV4 signature (as tests/native/test_mount_extras.py's)."""
    if auth == "open":
        return dict(headers or {})
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    S3SigV4Auth(Credentials("AKIDNATIVE", "native-secret"), "s3", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def v1(proc: NodeProcess, auth: str, method: str, path: str, body: bytes = b"",
       headers: dict[str, str] | None = None) -> httpx.Response:
    url = f"{proc.url}{path}"
    return httpx.request(method, url, content=body, timeout=60,
                         headers=auth_headers(auth, method, url, body, headers))


@pytest.mark.allow_node_errors  # the chunk with no good copy is logged at ERROR
@pytest.mark.parametrize("auth", ["open", "sigv4"])
def test_v1_get_over_a_node(tmp_path: Path, auth: str) -> None:
    proc = start(tmp_path, SIGV4) if auth == "sigv4" else start(tmp_path, mountpaths=1)
    try:
        create = json.dumps({"action": "create-bck"}).encode()
        assert v1(proc, auth, "POST", "/v1/buckets/znode", create).status_code == 200
        data = os.urandom(SIZE)
        assert v1(proc, auth, "PUT", "/v1/objects/znode/k", data).status_code == 200
        time.sleep(1.1)  # a copy verified within a second of its write is not trusted
        for _ in range(3):  # the first verifies, the next are sent from the files
            r = v1(proc, auth, "GET", "/v1/objects/znode/k")
            assert r.status_code == 200 and r.content == data
        lo, hi = CHUNK - 3, 3 * CHUNK + 3
        r = v1(proc, auth, "GET", "/v1/objects/znode/k", headers={"Range": f"bytes={lo}-{hi}"})
        assert r.status_code == 206 and r.content == data[lo : hi + 1]
        files = chunk_files(proc.mountpaths)
        path = files[data[2 * CHUNK : 3 * CHUNK]]
        flip_in_place(path, 7)
        url = f"{proc.url}/v1/objects/znode/k"
        got = bytearray()  # the third chunk is bad: cut before it, no wrong byte sent
        with pytest.raises(httpx.RemoteProtocolError), httpx.stream("GET", url, timeout=60,
                          headers=auth_headers(auth, "GET", url)) as r:
            assert r.status_code == 200
            for part in r.iter_bytes():
                got += part
        assert len(got) < SIZE and got == data[: len(got)]
        flip_in_place(path, 7)
        assert v1(proc, auth, "GET", "/v1/objects/znode/k").content == data
    finally:
        stop_and_check(proc)
