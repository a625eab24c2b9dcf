"""A cold GET's fill keeps no copy of a body the backend did not send whole: a backend
(here a raw socket server that promises more bytes than it sends, or closes mid-body)
whose body is shorter than its Content-Length leaves nothing in the store, and the caller's
body fails instead of ending short. The fill no longer computes an MD5 (the backend's
ETag is kept): the length check and TCP are what stand between the wire and the store,
as for a client GETting from the backend itself; the store's chunk checksums cover the
bytes from there on (docs/backends.md, Performance)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from aisfs.backend import open_remote_objects
from aisfs.backend.provider import BucketRef, Provider
from aisfs.errors import S3Error
from aisfs.store import open_store
from support.raw_backend import RawBackend, object_head, read_head

from .conftest import store_config

PROMISED = 3 * 1024 * 1024


class LyingBackend(RawBackend):
    """Answers every GET with ``Content-Length: PROMISED`` and sends ``sent`` bytes."""

    def __init__(self, sent: int) -> None:
        self.sent = sent
        self.requests = 0
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        if read_head(conn) is None:
            return
        self.requests += 1
        try:
            conn.sendall(object_head(PROMISED) + b"z" * self.sent)
        except OSError:  # the client went first
            pass


@pytest.fixture(params=[0, 1000, PROMISED - 1], ids=["none", "some", "all-but-one"])
def lying(request: pytest.FixtureRequest) -> Iterator[LyingBackend]:
    backend = LyingBackend(int(request.param))
    yield backend
    backend.close()


async def test_a_short_body_is_not_cached(tmp_path: Path, lying: LyingBackend) -> None:
    backends = lying.backends()
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
