"""A cold GET's leader whose client falls behind is handed over to follow its own fill
(aisfs/backend/fill.py ``Fill._let_go``, follow.py ``Follower(start=)``): the fill goes on
at the backend's pace, a follower of the key is served in full while the leader's client
still reads, the backend is asked once, the slow client gets every byte (never cut for
being slow), and a fill that fails, or is evicted, after the handover cuts it with a 503
after a true prefix. In process (a store of 1 MiB chunks: a leader that takes nothing
more) and through a real node in both auth modes (a raw socket reading a few KiB at a
time)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

import pytest
import trio

from aisfs.backend.remote import RELAY_BYTES, RemoteRead
from aisfs.errors import S3Error
from support.node import NodeProcess

from .conftest import client_of, raw_front
from .test_follow import HoldingBackend, Pair, both_cut, leading, rest, take

if TYPE_CHECKING:
    from aisfs.backend.follow import Follower

MiB = 1024 * 1024
SIZE = RELAY_BYTES + 24 * MiB + 7  # past the leader's window by far
HELD_AT = RELAY_BYTES + 14 * MiB + 3  # a held or cut backend's bytes before it waits


@contextlib.asynccontextmanager
async def handed_over(tmp_path: Path, backend: HoldingBackend,
                      first: int) -> AsyncIterator[Pair]:
    """RemoteObjects over ``backend``: a leader's cold GET of ``k`` that took one piece
    (``led``) and then nothing, handed over, and a follower's that has ``first`` bytes -
    more than the fill can relay to a leader that takes nothing (its window and a
    piece), so the fill went on past it only by handing it over (without: it waits
    ``CALLER_STALL``, 120 s, for the leader, and the 60 s guard fails). At the end the
    fill is waited for (not cancelled mid-body: the raw backend's thread would see a
    reset) and the store checked clean."""
    async with leading(tmp_path, backend) as lead:
        led = await take(lead.leader, 1)
        with trio.fail_after(60):
            follower = await lead.ro.get(lead.rb, "k")
            followed = await take(follower, first)
        assert len(followed) >= first > RELAY_BYTES + lead.ro.fill_piece + len(led)
        yield Pair(lead.ro, lead.rb, lead.leader, led, follower, followed)
        with trio.fail_after(60):  # the fill ends on its own (reads the body to its end)
            await lead.flight.done.wait()


@pytest.fixture
def whole() -> Iterator[HoldingBackend]:
    """Sends the whole body at once (nothing held)."""
    backend = HoldingBackend(os.urandom(SIZE), SIZE)
    backend.go.set()
    yield backend
    backend.close()


@pytest.fixture
def held() -> Iterator[HoldingBackend]:
    backend = HoldingBackend(os.urandom(SIZE), HELD_AT)
    yield backend
    backend.go.set()
    backend.close()


@pytest.fixture
def cut() -> Iterator[HoldingBackend]:
    backend = HoldingBackend(os.urandom(SIZE), HELD_AT, cut=True)
    yield backend
    backend.go.set()
    backend.close()


async def test_a_leader_that_takes_nothing_does_not_hold_its_follower(
    tmp_path: Path, whole: HoldingBackend,
) -> None:
    async with handed_over(tmp_path, whole, SIZE) as p:
        assert bytes(p.followed) == whole.data  # all of it, the leader still at its start
        assert len(p.led) < SIZE
        assert await rest(p.leader, p.led) == whole.data  # and then the leader gets all
        assert whole.gets == 1
        assert await p.ro.fetch(p.rb, "k") == -1  # cached


async def test_a_leader_that_takes_slowly_is_handed_over(
    tmp_path: Path, whole: HoldingBackend,
) -> None:
    """A leader that never goes a second without taking a piece, but takes them slowly (a
    piece, 1 MiB, every 0.2 s: ~5 MiB/s, under ``HANDOVER_PACE``), is handed over too: its
    follower gets the whole object while the leader is still far from the end (held to
    its pace, the fill would have relayed all but a window and a piece to it first)."""
    async with leading(tmp_path, whole) as lead:
        led = bytearray()
        done = trio.Event()

        async def take_slowly() -> None:
            async for piece in lead.leader.body:
                led.extend(piece)
                if not done.is_set():
                    await trio.sleep(0.2)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(take_slowly)
            with trio.fail_after(60):
                follower = await lead.ro.get(lead.rb, "k")
                assert await rest(follower, bytearray()) == whole.data
            behind = len(led)
            done.set()
        assert behind < SIZE - RELAY_BYTES - 2 * lead.ro.fill_piece
        assert bytes(led) == whole.data
        assert lead.leader.body._followed is not None  # type: ignore[attr-defined]
        assert whole.gets == 1


async def test_a_failed_fill_cuts_a_leader_handed_over(
    tmp_path: Path, cut: HoldingBackend,
) -> None:
    async with handed_over(tmp_path, cut, RELAY_BYTES + 4 * MiB) as p:
        cut.go.set()
        await both_cut(p, cut)
        assert await p.ro.fetch(p.rb, "k") == SIZE  # nothing was cached: cold


async def test_an_evict_cuts_a_leader_handed_over(
    tmp_path: Path, held: HoldingBackend,
) -> None:
    async with handed_over(tmp_path, held, RELAY_BYTES + 4 * MiB) as p:
        assert await p.ro.evict(p.rb, "k") is False  # nothing cached yet
        held.go.set()
        with pytest.raises(S3Error) as e:
            await rest(p.leader, p.led)
        assert e.value.status == 503 and held.data.startswith(p.led)
        assert len(p.led) < SIZE


async def test_a_follower_from_any_byte_gets_the_rest_exactly(tmp_path: Path) -> None:
    """``Follower(start=)`` (what a leader handed over reads): from the first byte, inside
    a chunk, at a chunk's edge, the last byte, the end - the rest of the body exactly."""
    from aisfs.backend.follow import Follower

    backend = HoldingBackend(os.urandom(3 * MiB + 5), 3 * MiB + 5)
    backend.go.set()
    try:
        async with leading(tmp_path, backend) as lead:
            assert await rest(lead.leader, bytearray()) == backend.data
            await lead.flight.done.wait()
            size = len(backend.data)
            for start in (0, 1, MiB - 1, MiB, MiB + 1, 2 * MiB + 3, size - 1, size):
                got = await rest(cast(RemoteRead, _Read(
                    Follower(lead.store, lead.flight, "k", start))), bytearray())
                assert got == backend.data[start:], start
    finally:
        backend.close()


@dataclass
class _Read:
    body: Follower  # (what ``rest`` reads of a RemoteRead)


# -- through a real node -----------------------------------------------------------------

NODE_DATA = os.urandom(64 * MiB + 3)
STEP = 4096  # the slow client's read


@pytest.fixture
def node_whole() -> Iterator[HoldingBackend]:
    backend = HoldingBackend(NODE_DATA, len(NODE_DATA))
    backend.go.set()
    yield backend
    backend.close()


@pytest.fixture(params=[False, True], ids=["open", "signed"])
def whole_front(request: pytest.FixtureRequest, tmp_path: Path,
                node_whole: HoldingBackend) -> Iterator[NodeProcess]:
    yield from raw_front(tmp_path, node_whole.port, bool(request.param))


class SlowClient:
    """A GET of ``bk/k`` on a raw socket with a small receive buffer, its body read
    ``STEP`` bytes at a time with a pause between reads until ``hurry`` is set, then as
    fast as it comes; the body's SHA-256 and length kept."""

    def __init__(self, node: NodeProcess) -> None:
        url = urlsplit(client_of(node).generate_presigned_url(
            "get_object", Params={"Bucket": "bk", "Key": "k"}))
        target = url.path + (f"?{url.query}" if getattr(node, "signed", False) else "")
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        self.sock.connect((url.hostname or "", url.port or 80))
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            data = self.sock.recv(STEP)
            assert data, head
            head += data
        head, _, self.early = head.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        assert b"\r\nais-cached: false" in head.lower(), head
        self.hurry = threading.Event()
        self.got = len(self.early)
        self.digest = hashlib.sha256(self.early)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with self.sock:
            while self.got < len(NODE_DATA):
                data = self.sock.recv(STEP if not self.hurry.is_set() else MiB)
                if not data:
                    return
                self.digest.update(data)
                self.got += len(data)
                if not self.hurry.is_set():
                    self.hurry.wait(0.01)


def test_a_slow_client_does_not_pace_the_fill_for_another(
    whole_front: NodeProcess, node_whole: HoldingBackend,
) -> None:
    slow = SlowClient(whole_front)
    try:
        two = client_of(whole_front).get_object(Bucket="bk", Key="k")
        assert two["ContentLength"] == len(NODE_DATA)
        assert two["Body"].read() == NODE_DATA  # all of it, at the backend's pace
        behind = slow.got
    finally:
        slow.hurry.set()
    assert behind < len(NODE_DATA)  # the slow client was still reading meanwhile
    slow.thread.join(120)
    assert slow.got == len(NODE_DATA)  # not cut: every byte, right
    assert slow.digest.digest() == hashlib.sha256(NODE_DATA).digest()
    assert node_whole.gets == 1
    assert "dropped" not in whole_front.log()
