"""One flight per key: concurrent cold GETs of one object fetch it once.

The first caller of a key becomes its leader and does the work; the others wait until it
lands and then read what it left (or get its error). Entries live only while a flight is
in the air: the map's size is the number of keys being fetched, not of keys ever fetched.

An evict of a key in the air (``RemoteObjects.evict``) tells its flight not to keep what
it brings: ``drop_copy`` - the fill relays on to its caller and stores nothing - and
waits for ``stored``: after that, nothing the flight brings is cached.

A flight also keeps what a cold GET arriving meanwhile needs to be served from it as it
goes rather than after it lands (follow.py ``Follower``): the backend's attributes once
its GET answered (``opened``), and the chunks the fill has written so far, in order
(``chunks``, grown by ``chunk_written`` - the store's ``RemoteCopy.written``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import trio

from ..store.types import ChunkRef
from .types import RemoteAttrs


@dataclass(eq=False)
class Flight:
    done: trio.Event = field(default_factory=trio.Event)
    error: BaseException | None = None
    waiters: int = 0
    keep: bool = True  # False: evicted while in the air - its copy is not cached
    stored: trio.Event = field(default_factory=trio.Event)  # its store side has ended
    stop_store: Callable[[], None] | None = None  # the fill's, once it runs
    attrs: RemoteAttrs | None = None  # the backend's, once its GET answered
    chunks: list[ChunkRef] = field(default_factory=list)  # written so far, in order
    _early: dict[int, ChunkRef] = field(default_factory=dict)  # written ahead of a gap
    _moved: trio.lowlevel.ParkingLot = field(default_factory=trio.lowlevel.ParkingLot)

    def drop_copy(self) -> None:
        """What this flight brings is not to be cached (an evict came meanwhile)."""
        self.keep = False
        if self.stop_store is not None:
            self.stop_store()
        self._moved.unpark_all()  # its followers stop where they are

    def opened(self, attrs: RemoteAttrs) -> None:
        """The backend's GET answered with ``attrs``."""
        self.attrs = attrs
        self._moved.unpark_all()

    def chunk_written(self, i: int, ref: ChunkRef) -> None:
        """The fill's chunk ``i`` is in its file (chunks land in any order)."""
        self._early[i] = ref
        while len(self.chunks) in self._early:
            self.chunks.append(self._early.pop(len(self.chunks)))
        self._moved.unpark_all()

    async def moved(self) -> None:
        """Until the flight opens, writes a chunk, is told to drop its copy, or lands."""
        if not self.done.is_set():
            await self._moved.park()


class Flights:
    def __init__(self) -> None:
        self._air: dict[Hashable, Flight] = {}

    def __len__(self) -> int:
        return len(self._air)

    def in_air(self, key: Hashable) -> Flight | None:
        return self._air.get(key)

    def keys_in_air(self) -> list[Hashable]:
        """The keys in the air now."""
        return list(self._air)

    def take_off(self, key: Hashable) -> Flight | None:
        """A new flight for ``key`` (the caller leads it and must ``land`` it), or None
        when one is already in the air (``in_air`` gives it, to wait for)."""
        if key in self._air:
            return None
        flight = self._air[key] = Flight()
        return flight

    def land(self, key: Hashable, flight: Flight, error: BaseException | None = None) -> None:
        if self._air.get(key) is flight:
            del self._air[key]
        flight.error = error
        flight.stored.set()
        flight.done.set()
        flight._moved.unpark_all()

    async def wait(self, flight: Flight) -> None:
        """Until ``flight`` lands; its error (if any) raised here too."""
        flight.waiters += 1
        try:
            await flight.done.wait()
        finally:
            flight.waiters -= 1
        if flight.error is not None:
            raise flight.error
