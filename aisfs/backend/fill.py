"""A cold GET's fill: the backend's body into the store, passed to the caller on the way
(remote.py starts one per cold GET, in its nursery).

Two consumers of one read, neither waiting on the other piece by piece: the reader hands
each piece to the store's queue (which may lag ``FILL_LAG`` bytes behind, all fills at
most ``FillMemory``'s total) and each stretch of it, as it came from the socket (a
``memoryview`` of the piece's buffer, ~lean.py's ``LOWAT``), to the caller's
(``RELAY_BYTES``, remote.py); it waits only when one of them is a whole window behind.
A caller that goes away is dropped and the fill goes on. A caller that keeps the fill
waiting on its window (full, and never half empty since) for ``HANDOVER_SPAN`` seconds
while taking less than ``HANDOVER_PACE`` - far slower than the follower's path serves -
while the fill's chunks can be followed (a flight's of more than one chunk, kept) is
handed over: it is sent what was relayed to it already, then follows the fill from
there, from the chunk files as they land (follow.py), and the fill goes on at the
backend's pace - a slow client paces neither the backend's read nor the key's followers,
and is never cut for being slow. One that cannot follow (a presigned GET's fill, an
evicted one) is waited for up to ``CALLER_STALL`` seconds of taking nothing, then
dropped (its body cut). An evict of the key meanwhile (its flight's
``drop_copy``) cancels the store side: the rest of the body is relayed (to a caller
handed over: cut, as its followers are), nothing is cached.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import trio

from ..errors import S3Error, first_error
from ..store import ObjectInfo, Store
from ..store.writer import RemoteCopy
from .cachemeta import meta_for
from .flights import Flight
from .follow import followable
from .provider import Resolved
from .s3 import RemoteStream

log = logging.getLogger(__name__)

MiB = 1024 * 1024
FILL_LAG = 64 * MiB  # how far a cold GET's store side may lag behind its backend read
CALLER_STALL = 120.0  # seconds a fill waits for a caller that takes no piece, then drops it
# a caller that held the fill back (its window full, never half empty since) for this
# many seconds and took less than HANDOVER_PACE bytes a second meanwhile is handed over to
# follow the fill (its chunks followable). A caller that keeps up makes room within
# milliseconds (the longest of the bench's window waits: 40 ms); a follower's path (its
# chunks read back from disk) serves ~460 MiB/s where the relay serves ~800
# (docs/backends.md, tenth pass)
HANDOVER_SPAN = 1.0
HANDOVER_PACE = 64 * MiB


class HandedOver(Exception):
    """Sent to a caller after the last piece relayed to it: it follows the fill from there
    (``Relay``)."""


HANDED_OVER = HandedOver()

Relayed = trio.MemorySendChannel[bytes | memoryview | BaseException]


def nursery_error(eg: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error that matters in a nursery's group (:func:`aisfs.errors.first_error`,
    cancelled siblings passed over)."""
    return first_error(eg, ignore=trio.Cancelled)


class FillMemory:
    """How far all fills' store sides may lag at once, node-wide, in MiB units. One fill
    at a time takes its units: none holds a part of what it needs while the others wait
    for the rest."""

    def __init__(self, total: int) -> None:
        self.units = trio.Semaphore(max(1, total // MiB))
        self.lock = trio.Lock()

    @property
    def value(self) -> int:
        """The MiB units free now (all of them when no fill runs)."""
        return self.units.value


class RelayWindow:
    """The bytes relayed to one caller and not taken yet: the fill waits for room while
    ``limit`` are (so at most ``limit`` plus one stretch - at most a piece - are held for
    a slow caller); the caller's ``Relay`` makes room, and its close ends every wait."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self.taken = 0  # by the caller, all told
        self.closed = False
        self._lot = trio.lowlevel.ParkingLot()

    async def room(self) -> None:
        while self.held >= self.limit and not self.closed:
            await self._lot.park()

    def took(self, n: int) -> None:
        self.held -= n
        self.taken += n
        if self.held < self.limit:
            self._lot.unpark_all()

    def close(self) -> None:
        self.closed = True
        self._lot.unpark_all()


class Fill:
    """One cold GET's fill of ``rb/key`` from ``stream``; ``run`` it once. ``caller``
    None: nobody takes the pieces (a prefetch, ``RemoteObjects.fetch``)."""

    def __init__(
        self, store: Store, memory: FillMemory, piece: int, rb: Resolved, key: str,
        stream: RemoteStream, caller: Relayed | None, stale: ObjectInfo | None,
        window: RelayWindow | None = None, flight: Flight | None = None,
    ) -> None:
        assert rb.remote is not None
        self.store = store
        self.rb = rb
        self.key = key
        self.stream = stream
        self.stale = stale
        self._memory = memory
        self._piece = piece
        self._units = piece // MiB  # of the windows, per piece (the last may be short)
        self._window = trio.Semaphore(max(self._units, FILL_LAG // MiB))
        self._to_store, self._store_in = trio.open_memory_channel[bytes](math.inf)
        self._caller: Relayed | None = caller
        self._relay_window = window  # bounds what ``caller`` holds (its channel: unbounded)
        # since when the caller's window is behind (full, never half empty since), and
        # what it had taken by then
        self._behind: tuple[float, int] | None = None
        self._held = 0  # MiB of the node's fill memory this fill holds
        self._meta = meta_for(stream.attrs, rb.remote.uri)
        self._flight = flight
        self._store_scope = trio.CancelScope()  # cancelled by an evict: nothing cached
        if flight is not None:
            flight.stop_store = self._store_scope.cancel
            if not flight.keep:
                self._store_scope.cancel()

    async def run(self) -> Exception | None:
        """Fill; the error that stopped it (None: cached, or left to a newer local copy).
        The backend stream and the caller's channel are closed on return."""
        error: Exception | None = None
        try:
            error = await self._transfer()
        finally:
            await self._settle(error)
        return error

    async def _transfer(self) -> Exception | None:
        try:
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._read)
                    nursery.start_soon(self._write)
            except BaseExceptionGroup as eg:
                raise nursery_error(eg) from None
        except S3Error as e:
            if e.code != "PreconditionFailed":
                return e
            log.debug("%s/%s changed locally during a fill: not cached", self.rb.bucket,
                      self.key)
        except Exception as e:
            return e
        return None

    # -- the reader: the backend's body, to the store's queue and the caller's ----------

    async def _read(self) -> None:
        # the caller gets each stretch of a piece as it came from the socket (~4 MiB,
        # lean.py's LOWAT), the store the whole piece: the client's send starts while
        # the piece is still being received, on bytes the receive has just written
        # (bench/relay_splice.py: the relay's CPU per GiB ~10-15 % lower; the cold GET
        # ~20 % faster beside main, docs/backends.md, eighth pass)
        part = self._relay if self._caller is not None else None
        async with contextlib.aclosing(self.stream.pieces(self._piece, part)) as body:
            async for piece in body:
                await self._take_memory()
                self._to_store.send_nowait(piece)
        # the whole body: the store side ends. Not on an error - the store side then only
        # sees its cancellation, so the fill's error is the read's (a short body is the
        # backend's 503, never the store's IncompleteBody)
        self._to_store.close()

    async def _take_memory(self) -> None:
        for _ in range(self._units):
            await self._window.acquire()
        async with self._memory.lock:
            for _ in range(self._units):
                await self._memory.units.acquire()
                self._held += 1

    async def _relay(self, piece: memoryview) -> None:
        out = self._caller
        if out is None:
            return
        window = self._relay_window
        if window is not None:
            if window.held >= window.limit:
                if await self._let_go(out, window):
                    return
            elif window.held <= window.limit // 2:  # caught up: judged afresh if behind
                self._behind = None
        try:
            out.send_nowait(piece)  # room: no cancel scope, no scheduler trip
            if window is not None:
                window.held += len(piece)
            return
        except trio.WouldBlock:
            pass
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._caller = None
            return
        with trio.move_on_after(CALLER_STALL) as stalled:
            try:
                await out.send(piece)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._caller = None  # the caller went away: fill on
                return
        if stalled.cancelled_caught:
            self._stalled(out)

    async def _let_go(self, out: Relayed, window: RelayWindow) -> bool:
        """``out``'s window is full: wait for room. True when the caller was let go -
        handed over to follow the fill (its chunks followable; behind for a whole
        ``HANDOVER_SPAN``, slower than ``HANDOVER_PACE``), or dropped (``CALLER_STALL``)."""
        flight = self._flight
        chunk = self.store.config.chunk_size
        while flight is not None and followable(flight, chunk):
            if self._behind is None:
                self._behind = (trio.current_time(), window.taken)
            since, taken = self._behind
            with trio.move_on_at(since + HANDOVER_SPAN):
                await window.room()
            if window.held < window.limit or window.closed:
                return False  # (behind still, until its window is half empty)
            self._behind = None  # a whole span behind: its pace decides
            if window.taken - taken >= HANDOVER_PACE * HANDOVER_SPAN:
                continue  # fast enough to be relayed to (only slower than the backend)
            if followable(flight, chunk):  # still (not evicted meanwhile)
                self._hand_over(out)
                return True
        with trio.move_on_after(CALLER_STALL) as stalled:
            await window.room()
        if stalled.cancelled_caught:
            self._stalled(out)
        return stalled.cancelled_caught

    def _hand_over(self, out: Relayed) -> None:
        log.debug("%s/%s: the caller is behind: it follows the fill", self.rb.bucket,
                  self.key)
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            out.send_nowait(HANDED_OVER)  # after what it was relayed: in its order
        out.close()
        self._caller = None

    def _stalled(self, out: Relayed) -> None:
        log.warning("%s/%s: the caller took nothing for %.0f s: dropped",
                    self.rb.bucket, self.key, CALLER_STALL)
        out.close()
        self._caller = None

    # -- the store side --------------------------------------------------------------------

    async def _store_pieces(self) -> AsyncGenerator[bytes, None]:
        async for piece in self._store_in:
            self._release_piece()
            yield piece
        # the reader ended: short (its error ends the nursery) or the whole body

    def _release_piece(self) -> None:
        for _ in range(self._units):
            self._window.release()
            self._held -= 1
            self._memory.units.release()

    async def _write(self) -> None:
        # replace only what this fetch was made to replace: a PUT that committed meanwhile
        # wins (PreconditionFailed here: its copy is newer than ours). The backend's ETag
        # is the copy's: no MD5 of the body (docs/backends.md)
        etag = self.stream.attrs.etag
        try:
            with self._store_scope:
                async with contextlib.aclosing(self._store_pieces()) as pieces:
                    await self.store.put_object(
                        self.rb.local, self.key, pieces, self._meta,
                        expected_size=self.stream.attrs.size,
                        if_match=self.stale.etag if self.stale else None,
                        if_none_match=None if self.stale else "*",
                        remote=RemoteCopy(
                            etag=(lambda: etag) if etag else None,
                            written=self._flight.chunk_written if self._flight else None),
                    )
        finally:
            if self._flight is not None:
                self._flight.stored.set()
        if self._store_scope.cancelled_caught:
            # evicted while in the air: the rest of the body goes to the caller only
            log.debug("%s/%s evicted during its fill: not cached", self.rb.bucket, self.key)
            async for _piece in self._store_in:
                self._release_piece()

    # -- the end -----------------------------------------------------------------------

    async def _settle(self, error: Exception | None) -> None:
        """What the store did not take goes back to the node's fill memory; the backend
        stream is closed; the caller gets ``error`` (if it has room) and its end."""
        self._store_in.close()
        for _ in range(self._held):
            self._memory.units.release()
        self._held = 0
        with trio.CancelScope(shield=True):
            await self.stream.aclose()
        out = self._caller
        if out is not None:
            if error is not None:
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError,
                                         trio.WouldBlock):
                    out.send_nowait(error)
            out.close()


class Relay:
    """A fill's body as the caller sees it (a cold GET, a presigned GET): the pieces the
    fill passes on; short is an error, never a silently truncated object. ``follow``:
    the fill's chunks from a given byte on (follow.py ``Follower``), for a caller the
    fill hands over (``HANDED_OVER``)."""

    def __init__(self, recv: trio.MemoryReceiveChannel[bytes | memoryview | BaseException],
                 length: int, resource: str, window: RelayWindow | None = None,
                 follow: Callable[[int], AsyncIterator[bytes]] | None = None) -> None:
        self._recv = recv
        self._window = window
        self._length = length
        self._left = length
        self._resource = resource
        self._follow = follow
        self._followed: AsyncIterator[bytes] | None = None  # once handed over

    def __aiter__(self) -> Relay:
        return self

    async def __anext__(self) -> bytes:
        if self._left <= 0:
            self._close()
            raise StopAsyncIteration
        if self._followed is not None:
            return await self._next_followed()
        try:
            item = await self._recv.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise S3Error("ServiceUnavailable", "The backend's body ended early",
                          self._resource, status=503) from None
        if isinstance(item, BaseException):
            self._close()
            if item is HANDED_OVER:  # all relayed to us was taken: now follow the fill
                return await self._handed_over()
            raise item
        self._left -= len(item)
        if self._window is not None:
            self._window.took(len(item))
        # a memoryview of a received piece's buffer (Fill._read) is read as bytes are
        return item  # type: ignore[return-value]

    async def _handed_over(self) -> bytes:
        if self._follow is None:  # (a fill hands over only a caller that can follow)
            raise S3Error("ServiceUnavailable", "The backend's body ended early",
                          self._resource, status=503)
        self._followed = self._follow(self._length - self._left)
        return await self._next_followed()

    async def _next_followed(self) -> bytes:
        assert self._followed is not None
        data = await anext(self._followed)
        self._left -= len(data)
        return data

    async def aclose(self) -> None:
        self._close()

    def _close(self) -> None:
        self._recv.close()
        if self._window is not None:
            self._window.close()  # a fill waiting for room goes on (and finds us gone)
