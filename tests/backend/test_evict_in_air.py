"""An evict (or a DELETE) of a key whose cold GET is still filling: the fill relays on to
its caller and caches nothing - the late fill used to commit after the evict had found
nothing to drop, so the deleted object was served from the cache afterwards. In process
(``RemoteObjects.evict``, a bucket's evict job's ``evict_in_air``) and through a real node
in both auth modes (a client's DELETE while another client's GET is mid-body)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aisfs.backend import open_remote_objects
from aisfs.backend.provider import BucketRef, Provider
from aisfs.store import open_store
from support.node import NodeProcess
from support.raw_backend import RawBackend, object_head, read_head

from .conftest import client_of, raw_front, store_config

MiB = 1024 * 1024
SIZE = 3 * MiB
FIRST = MiB  # sent before the first GET pauses
PATTERN = os.urandom(SIZE)


class PausingBackend(RawBackend):
    """The first GET sends ``FIRST`` bytes of ``PATTERN`` and waits for ``go`` before the
    rest; later GETs send it all. A DELETE is answered 204, a HEAD with the object's head."""

    def __init__(self) -> None:
        self.gets = 0
        self.go = threading.Event()
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        while (head := read_head(conn)) is not None:
            try:
                if head.startswith(b"DELETE "):
                    conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
                elif not head.startswith(b"GET "):
                    conn.sendall(object_head(SIZE))
                else:
                    self.gets += 1
                    conn.sendall(object_head(SIZE) + PATTERN[:FIRST])
                    if self.gets == 1:
                        self.go.wait(60)
                    conn.sendall(PATTERN[FIRST:])
            except OSError:
                return


@pytest.fixture
def pausing() -> Iterator[PausingBackend]:
    backend = PausingBackend()
    yield backend
    backend.go.set()
    backend.close()


@pytest.mark.parametrize("how", ["evict", "bucket"])
async def test_an_evict_during_a_fill_caches_nothing(
    tmp_path: Path, pausing: PausingBackend, how: str,
) -> None:
    backends = pausing.backends()
    async with open_store(store_config(tmp_path)) as store:
        async with open_remote_objects(store, backends) as ro:
            rb = backends.resolve(BucketRef(Provider.AWS, "bk"), {})
            read = await ro.get(rb, "k")
            it = aiter(read.body)
            got = bytearray(await anext(it))  # the fill is in the air
            if how == "evict":
                assert await ro.evict(rb, "k") is False  # nothing cached yet
            else:
                assert await ro.evict_in_air(rb, "") == 0
            pausing.go.set()
            async for piece in it:
                got += piece
            assert got == PATTERN  # the caller got all of it
            # fetch waits for the first flight to land; a copy it left would answer -1
            assert await ro.fetch(rb, "k") == SIZE
            assert pausing.gets == 2
        assert (await store.fsck(rebuild=False)).clean
    await backends.aclose()


@pytest.fixture(params=[False, True], ids=["open", "signed"])
def pausing_front(request: pytest.FixtureRequest, tmp_path: Path,
                  pausing: PausingBackend) -> Iterator[NodeProcess]:
    yield from raw_front(tmp_path, pausing.port, bool(request.param))


def test_a_delete_during_a_cold_get_leaves_nothing_cached(
    pausing_front: NodeProcess, pausing: PausingBackend,
) -> None:
    s3 = client_of(pausing_front)
    resp = s3.get_object(Bucket="bk", Key="k")
    body = resp["Body"]
    first = body.read(4096)  # the cold GET is mid-body, its fill in the air
    s3.delete_object(Bucket="bk", Key="k")
    pausing.go.set()
    assert first + body.read() == PATTERN
    again = s3.get_object(Bucket="bk", Key="k")  # the backend has it again (a fake)
    assert again["ResponseMetadata"]["HTTPHeaders"]["ais-cached"] == "false"
    assert again["Body"].read() == PATTERN
    assert pausing.gets == 2
