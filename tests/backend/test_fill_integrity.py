"""A cold GET's fill keeps no copy of a body the backend did not send whole: a backend
(here a raw socket server that promises more bytes than it sends, or closes mid-body)
whose body is shorter than its Content-Length leaves nothing in the store, and the caller's
body fails instead of ending short. The fill no longer computes an MD5 (the backend's
ETag is kept): the length check and TCP are what stand between the wire and the store,
as for a client GETting from the backend itself; the store's chunk checksums cover the
bytes from there on (docs/backends.md, Performance)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aisfs.backend import Backends, open_remote_objects
from aisfs.backend.provider import BucketRef, Provider
from aisfs.config import BackendConfig, BackendS3Config
from aisfs.errors import S3Error
from aisfs.store import open_store

from .conftest import store_config

PROMISED = 3 * 1024 * 1024


class LyingBackend:
    """Answers every GET with ``Content-Length: PROMISED`` and sends ``sent`` bytes."""

    def __init__(self, sent: int) -> None:
        self.sent = sent
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    data = conn.recv(65536)
                    if not data:
                        break
                    head += data
                self.requests += 1
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                    b'ETag: "0123456789abcdef0123456789abcdef"\r\n'
                    b"Last-Modified: Sat, 05 Dec 2026 10:00:00 GMT\r\n"
                    + f"Content-Length: {PROMISED}\r\n\r\n".encode()
                    + b"z" * self.sent
                )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(params=[0, 1000, PROMISED - 1], ids=["none", "some", "all-but-one"])
def lying(request: pytest.FixtureRequest) -> Iterator[LyingBackend]:
    backend = LyingBackend(int(request.param))
    yield backend
    backend.close()


async def test_a_short_body_is_not_cached(tmp_path: Path, lying: LyingBackend) -> None:
    cfg = BackendConfig(s3=BackendS3Config(
        endpoint=f"http://127.0.0.1:{lying.port}", access_key="a", secret_key="b",
        retries=0, connect_timeout=2.0, read_timeout=5.0))
    backends = Backends(cfg)
    async with open_store(store_config(tmp_path)) as store:
        async with open_remote_objects(store, backends) as ro:
            rb = backends.resolve(BucketRef(Provider.AWS, "bk"), {})
            with pytest.raises(S3Error) as e:
                read = await ro.get(rb, "k")
                got = 0
                try:
                    async for piece in read.body:
                        got += len(piece)
                finally:
                    await read.body.aclose()
            assert e.value.status == 503
            assert await ro.local(rb, "k") is None
        assert (await store.fsck(rebuild=False)).clean
    await backends.aclose()
    assert lying.requests >= 1
