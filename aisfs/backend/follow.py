"""A cold GET that comes while another's fill of the key is in the air: served from that
fill as it goes, not after it lands (one backend GET for both).

The leader's fill writes the object's chunks into the store in order of the body
(``Flight.chunks``, grown as each chunk's write lands); a follower reads them from their
files as they appear, at the fill's pace, one chunk in memory at a time. Before this, a
follower waited for the whole fill before its first byte - with a large object from a
slow backend, longer than a client waits for an answer (botocore's read timeout is 60 s).

Only an object of more than one chunk is followed: a single chunk is written at the
commit, so its followers wait for the flight to land (remote.py). A fill that fails, or
is told to drop its copy (an evict meanwhile), cuts its followers' bodies where they are
(503, as the leader's own caller sees a short body).

The leader's own caller becomes a follower too when it falls behind (fill.py
``Fill._hand_over``): it follows from the byte it has reached (``start``), so a slow
client does not pace the fill, nor its followers.
"""

from __future__ import annotations

from ..errors import S3Error
from ..store import Store
from ..store.chunks import StoreCorruption
from ..store.threads import run_sync
from .flights import Flight


def followable(flight: Flight, chunk_size: int) -> bool:
    """Can a cold GET be served from ``flight`` as it goes (it is open, keeps its copy and
    writes more than one chunk)?"""
    return (flight.attrs is not None and flight.keep
            and flight.attrs.size > chunk_size)


async def opened(flight: Flight) -> None:
    """Until ``flight``'s backend GET answered, or the flight landed."""
    while flight.attrs is None and not flight.done.is_set():
        await flight.moved()


class Follower:
    """The body of a cold GET that follows ``flight``'s fill: its chunks as written, from
    byte ``start`` on (a leader handed over: what its client was not sent yet)."""

    def __init__(self, store: Store, flight: Flight, resource: str, start: int = 0) -> None:
        assert flight.attrs is not None
        self._store = store
        self._flight = flight
        self._resource = resource
        self._next = 0  # the index of the next chunk to send
        self._skip = start  # bytes of the next chunks not to send (before ``start``)
        self._left = flight.attrs.size - start

    def __aiter__(self) -> Follower:
        return self

    async def __anext__(self) -> bytes:
        if self._left <= 0:
            raise StopAsyncIteration
        flight = self._flight
        while True:
            while len(flight.chunks) <= self._next:
                if flight.done.is_set() or not flight.keep:
                    raise self._cut()
                await flight.moved()
            ref = flight.chunks[self._next]
            self._next += 1
            if self._skip < ref.size:
                break
            self._skip -= ref.size  # wholly before ``start``: not read
        try:
            data = await run_sync(self._store.chunks.read, ref.id, ref.size)
        except (StoreCorruption, OSError):  # the failed fill's chunks went meanwhile
            raise self._cut() from None
        if self._skip:
            data = data[self._skip:]
            self._skip = 0
        self._left -= len(data)
        return data

    def _cut(self) -> S3Error:
        return S3Error("ServiceUnavailable", "The backend's body ended early",
                       self._resource, status=503)

    async def aclose(self) -> None:
        pass
