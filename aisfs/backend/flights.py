"""One flight per key: concurrent cold GETs of one object fetch it once.

The first caller of a key becomes its leader and does the work; the others wait until it
lands and then read what it left (or get its error). Entries live only while a flight is
in the air: the map's size is the number of keys being fetched, not of keys ever fetched.

An evict of a key in the air (``RemoteObjects.evict``) tells its flight not to keep what
it brings: ``drop_copy`` - the fill relays on to its caller and stores nothing - and
waits for ``stored``: after that, nothing the flight brings is cached.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import trio


@dataclass(eq=False)
class Flight:
    done: trio.Event = field(default_factory=trio.Event)
    error: BaseException | None = None
    waiters: int = 0
    keep: bool = True  # False: evicted while in the air - its copy is not cached
    stored: trio.Event = field(default_factory=trio.Event)  # its store side has ended
    stop_store: Callable[[], None] | None = None  # the fill's, once it runs

    def drop_copy(self) -> None:
        """What this flight brings is not to be cached (an evict came meanwhile)."""
        self.keep = False
        if self.stop_store is not None:
            self.stop_store()


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

    async def wait(self, flight: Flight) -> None:
        """Until ``flight`` lands; its error (if any) raised here too."""
        flight.waiters += 1
        try:
            await flight.done.wait()
        finally:
            flight.waiters -= 1
        if flight.error is not None:
            raise flight.error
