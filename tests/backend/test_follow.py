"""A cold GET that comes while another's fill of the key is in the air is served from that
fill as it goes (aisfs/backend/follow.py): its first bytes come before the fill ends, the
backend is asked once, and a fill that fails or is evicted cuts the follower with a 503.
In process (a store of 1 MiB chunks) and through a real node in both auth modes (8 MiB
chunks: the follower gets two whole chunks while the backend holds the rest back)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from aisfs.backend import Backends, open_remote_objects
from aisfs.backend.flights import Flight
from aisfs.backend.provider import BucketRef, Provider, Resolved
from aisfs.backend.remote import RemoteObjects, RemoteRead
from aisfs.config import BackendConfig, BackendS3Config
from aisfs.errors import S3Error
from aisfs.store import Store, open_store
from support.node import NodeProcess
from support.raw_backend import RawBackend, object_head, read_head

from .conftest import client_of, raw_front, store_config

MiB = 1024 * 1024


class HoldingBackend(RawBackend):
    """The first GET sends ``first`` bytes of ``data``, then waits for ``go`` before the
    rest (``cut``: it closes the connection instead); later GETs send it all."""

    def __init__(self, data: bytes, first: int, cut: bool = False) -> None:
        self.data = data
        self.first = first
        self.cut = cut
        self.gets = 0
        self.go = threading.Event()
        super().__init__()

    def backends(self) -> Backends:
        """RawBackend's, waiting 60 s (not 5) for a held body: a loaded machine's pause
        between the leader's read and the follower's must not end the fill."""
        return Backends(BackendConfig(s3=BackendS3Config(
            endpoint=f"http://127.0.0.1:{self.port}", access_key="a", secret_key="b",
            retries=0, connect_timeout=2.0, read_timeout=60.0)))

    def handle(self, conn: socket.socket) -> None:
        while (head := read_head(conn)) is not None:
            try:
                if not head.startswith(b"GET "):
                    conn.sendall(object_head(len(self.data)))
                    continue
                self.gets += 1
                conn.sendall(object_head(len(self.data)) + self.data[: self.first])
                if self.gets == 1:
                    self.go.wait(60)
                    if self.cut:
                        return
                conn.sendall(self.data[self.first :])
            except OSError:
                return


@pytest.fixture
def held() -> Iterator[HoldingBackend]:
    backend = HoldingBackend(os.urandom(5 * MiB + 17), 3 * MiB + 5)
    yield backend
    backend.go.set()
    backend.close()


@pytest.fixture
def cut() -> Iterator[HoldingBackend]:
    backend = HoldingBackend(os.urandom(5 * MiB + 17), 3 * MiB + 5, cut=True)
    yield backend
    backend.go.set()
    backend.close()


async def take(read: RemoteRead, n: int) -> bytearray:
    """At least ``n`` bytes of ``read``'s body (fewer only at its end)."""
    got = bytearray()
    it = aiter(read.body)
    while len(got) < n:
        try:
            got += await anext(it)
        except StopAsyncIteration:
            break
    return got


async def rest(read: RemoteRead, got: bytearray) -> bytes:
    async for piece in read.body:
        got += piece
    return bytes(got)


@dataclass
class Pair:
    """A leader mid-body (``led``: its first bytes) and a follower that has ``followed``."""

    ro: RemoteObjects
    rb: Resolved
    leader: RemoteRead
    led: bytearray
    follower: RemoteRead
    followed: bytearray


@dataclass
class Lead:
    """A leader's cold GET of ``k`` and its flight, in the air."""

    store: Store
    ro: RemoteObjects
    rb: Resolved
    leader: RemoteRead
    flight: Flight


@contextlib.asynccontextmanager
async def leading(tmp_path: Path, backend: HoldingBackend) -> AsyncIterator[Lead]:
    """A store and RemoteObjects over ``backend``, and a leader's cold GET of ``k`` (its
    flight in the air). The store is checked clean at the end."""
    backends = backend.backends()
    async with open_store(store_config(tmp_path)) as store:
        async with open_remote_objects(store, backends) as ro:
            rb = backends.resolve(BucketRef(Provider.AWS, "bk"), {})
            leader = await ro.get(rb, "k")
            flight = ro._flights.in_air((rb.local, "k"))
            assert flight is not None
            yield Lead(store, ro, rb, leader, flight)
        assert (await store.fsck(rebuild=False)).clean
    await backends.aclose()


@contextlib.asynccontextmanager
async def following(tmp_path: Path, backend: HoldingBackend,
                    first: int) -> AsyncIterator[Pair]:
    """``leading``'s leader that has its first bytes, and a follower's cold GET that has
    ``first`` bytes (30 s at most: it used to wait for the whole fill) - the backend still
    holding the rest."""
    async with leading(tmp_path, backend) as lead:
        led = await take(lead.leader, 1)
        with trio.fail_after(30):
            follower = await lead.ro.get(lead.rb, "k")
            assert not follower.cached and follower.attrs.size == len(backend.data)
            followed = await take(follower, first)
        assert not backend.go.is_set()
        yield Pair(lead.ro, lead.rb, lead.leader, led, follower, followed)


async def both_cut(p: Pair, cut: HoldingBackend) -> None:
    """A failed fill cut the leader's body and the follower's: a 503 each, after a true
    prefix; the backend was asked once."""
    for read, got in ((p.leader, p.led), (p.follower, p.followed)):
        with pytest.raises(S3Error) as e:
            await rest(read, got)
        assert e.value.status == 503
        assert cut.data.startswith(got)  # a true prefix, never wrong bytes
    assert cut.gets == 1


async def test_a_follower_is_served_while_the_fill_is_held(
    tmp_path: Path, held: HoldingBackend,
) -> None:
    async with following(tmp_path, held, 2 * MiB) as p:  # two chunks, the backend held
        held.go.set()
        assert await rest(p.leader, p.led) == held.data
        assert await rest(p.follower, p.followed) == held.data
        assert held.gets == 1
        assert await p.ro.fetch(p.rb, "k") == -1  # the leader's fill is cached


async def test_a_failed_fill_cuts_its_follower(tmp_path: Path, cut: HoldingBackend) -> None:
    async with following(tmp_path, cut, 2 * MiB) as p:
        cut.go.set()
        await both_cut(p, cut)
        assert await p.ro.fetch(p.rb, "k") == len(cut.data)  # nothing was cached: cold


async def test_an_evict_cuts_the_follower_not_the_leader(
    tmp_path: Path, held: HoldingBackend,
) -> None:
    async with following(tmp_path, held, MiB) as p:
        assert await p.ro.evict(p.rb, "k") is False  # nothing cached yet
        held.go.set()
        assert await rest(p.leader, p.led) == held.data  # the leader's caller gets all
        with pytest.raises(S3Error) as e:
            await rest(p.follower, p.followed)
        assert e.value.status == 503 and held.data.startswith(p.followed)


# -- through a real node -----------------------------------------------------------------

NODE_DATA = os.urandom(20 * MiB + 3)
NODE_FIRST = 17 * MiB  # two whole 8 MiB chunks, then held


@pytest.fixture
def node_held() -> Iterator[HoldingBackend]:
    backend = HoldingBackend(NODE_DATA, NODE_FIRST)
    yield backend
    backend.go.set()
    backend.close()


@pytest.fixture(params=[False, True], ids=["open", "signed"])
def held_front(request: pytest.FixtureRequest, tmp_path: Path,
               node_held: HoldingBackend) -> Iterator[NodeProcess]:
    yield from raw_front(tmp_path, node_held.port, bool(request.param))


def test_a_second_client_reads_while_the_first_fill_is_held(
    held_front: NodeProcess, node_held: HoldingBackend,
) -> None:
    first, second = client_of(held_front), client_of(held_front)
    one = first.get_object(Bucket="bk", Key="k")
    got_one: list[bytes] = []  # the first client reads on (one that read nothing would
    reader = threading.Thread(  # be handed over to follow: test_slow_leader.py)
        target=lambda: got_one.append(one["Body"].read()), daemon=True)
    reader.start()
    two = second.get_object(Bucket="bk", Key="k")  # answered while the backend holds
    assert two["ResponseMetadata"]["HTTPHeaders"]["ais-cached"] == "false"
    assert two["ContentLength"] == len(NODE_DATA)
    got_two = two["Body"].read(16 * MiB)
    assert got_two == NODE_DATA[: 16 * MiB] and not node_held.go.is_set()
    node_held.go.set()
    assert got_two + two["Body"].read() == NODE_DATA
    reader.join(60)
    assert got_one == [NODE_DATA]
    assert node_held.gets == 1
