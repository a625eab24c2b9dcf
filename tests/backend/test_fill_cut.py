"""A backend that cuts a cold GET's body mid-way: the caller gets a cut, never wrong
bytes, and nothing is cached - now that the fill relays each stretch of a piece as it
came from the socket (fill.py ``Fill._read``), not whole 8 MiB pieces, the cut falls
inside a piece the caller has partly been sent. In process (the caller's pieces, the
store checked), and through a real node in both auth modes (a client's GET); a slow
caller holds no more than the relay's window."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from aisfs.backend import open_remote_objects
from aisfs.backend.provider import BucketRef, Provider
from aisfs.errors import S3Error
from aisfs.store import open_store
from support.node import NodeProcess
from support.raw_backend import RawBackend, object_head, read_head

from .conftest import Front, client_of, raw_front, store_config

MiB = 1024 * 1024
PROMISED = 20 * MiB
SENT = 11 * MiB + 5  # past the first 8 MiB piece, inside the second
PATTERN = os.urandom(PROMISED)


class CuttingBackend(RawBackend):
    """Answers a GET with ``Content-Length: PROMISED``, sends the first ``SENT`` bytes
    of ``PATTERN`` and closes; a HEAD (of a bucket, an object) with the same head and no
    body."""

    def __init__(self) -> None:
        self.gets = 0
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        while (head := read_head(conn)) is not None:
            if not head.startswith(b"GET "):
                conn.sendall(object_head(PROMISED))
                continue
            self.gets += 1
            try:
                conn.sendall(object_head(PROMISED) + PATTERN[:SENT])
            except OSError:
                pass
            return


@pytest.fixture
def cutting() -> Iterator[CuttingBackend]:
    backend = CuttingBackend()
    yield backend
    backend.close()


async def test_a_cut_mid_piece_gives_the_caller_a_true_prefix_and_caches_nothing(
    tmp_path: Path, cutting: CuttingBackend,
) -> None:
    backends = cutting.backends()
    async with open_store(store_config(tmp_path)) as store:
        async with open_remote_objects(store, backends) as ro:
            rb = backends.resolve(BucketRef(Provider.AWS, "bk"), {})
            got = bytearray()
            read = await ro.get(rb, "k")
            with pytest.raises(S3Error) as e:
                try:
                    async for piece in read.body:
                        got += piece
                finally:
                    await read.body.aclose()
            assert e.value.status == 503
            assert 0 < len(got) <= SENT and got == PATTERN[:len(got)]
            assert await ro.local(rb, "k") is None
        assert (await store.fsck(rebuild=False)).clean
    await backends.aclose()
    assert cutting.gets >= 1


@pytest.fixture(params=[False, True], ids=["open", "signed"])
def cut_front(request: pytest.FixtureRequest, tmp_path: Path,
              cutting: CuttingBackend) -> Iterator[NodeProcess]:
    yield from raw_front(tmp_path, cutting.port, bool(request.param))


@pytest.mark.allow_node_errors  # "response aborted": the cut, logged
def test_a_client_of_a_node_gets_a_cut_never_wrong_bytes(
    cut_front: NodeProcess, cutting: CuttingBackend,
) -> None:
    s3 = client_of(cut_front)
    for attempt in (1, 2):  # the second is a cold GET again: nothing was cached
        resp = s3.get_object(Bucket="bk", Key="k")
        assert int(resp["ContentLength"]) == PROMISED
        assert resp["ResponseMetadata"]["HTTPHeaders"]["ais-cached"] == "false"
        got = bytearray()
        with pytest.raises(Exception):  # noqa: B017,PT011 - botocore's short-body error
            for piece in resp["Body"].iter_chunks(1 << 20):
                got += piece
        assert len(got) <= SENT and got == PATTERN[:len(got)]
        assert cutting.gets == attempt
    text = cut_front.log()
    assert "Traceback" not in text, text[-4000:]


async def test_a_slow_caller_holds_at_most_the_relay_window(front: Front) -> None:
    """The fill relays stretches as received into an unbounded channel bounded in bytes
    (``RelayWindow``): a caller that takes nothing holds ``RELAY_BYTES`` plus at most one
    piece, and then gets the whole body, right."""
    import trio

    from aisfs.backend.remote import RELAY_BYTES

    data = os.urandom(RELAY_BYTES + 8 * MiB)
    front.target.client().put_object(Bucket=front.bucket, Key="slow", Body=data)
    read = await front.ro.get(front.rb, "slow")
    window = read.body._window  # type: ignore[attr-defined]
    it = aiter(read.body)
    got = bytearray(await anext(it))
    with trio.fail_after(60):
        while window.held < RELAY_BYTES:  # noqa: ASYNC110 (polled: the fill's progress)
            await trio.sleep(0.02)
    await trio.sleep(0.2)  # a fill that did not wait would run on meanwhile
    assert window.held <= RELAY_BYTES + front.ro.fill_piece
    async for piece in it:
        got += piece
    assert got == data
