"""Reads of an object through ranged GETs, with adaptive read-ahead.

A reader that sees sequential reads fetches whole blocks ahead of the reader, the window
doubling from one block to `max_blocks` as the streak goes on, with up to `in_flight`
GETs at once per open file (and a mount-wide limiter). A random read fetches just what
it asks for (at least `min_random` bytes) and resets the window. Memory per reader is
bounded by (max_blocks + 1) * block_size whatever the file size.

On our node's own host a block comes from the object's chunk files instead of a GET
(`aisfs_mount/localread.py`): the backend's `locate` is asked once, at the first block.

Block buffers are reused: a block dropped once fetched gives its bytearray back to the
reader's free list (when the backend can receive into one, and only when nothing -
a reply to the kernel still being sent - holds a view of it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import trio

from aisfs_mount.backend import Backend, Buffer
from aisfs_mount.localread import LocalMiss, LocalObject

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Block:
    done: trio.Event = field(default_factory=trio.Event)
    data: Buffer = b""
    error: BaseException | None = None
    buf: bytearray | None = None  # the reused buffer `data` may be a view of
    users: int = 0  # reads waiting on or slicing this block


_NOCODE = (lambda: None).__code__


class Reader:
    def __init__(
        self,
        backend: Backend,
        bucket: str,
        key: str,
        size: int,
        nursery: trio.Nursery,
        limiter: trio.CapacityLimiter,
        *,
        block_size: int = 8 << 20,
        max_blocks: int = 8,
        in_flight: int = 4,
        min_random: int = 128 << 10,
    ) -> None:
        self.backend = backend
        self.bucket = bucket
        self.key = key
        self.size = size
        self.nursery = nursery
        self.limiter = limiter
        self.block_size = block_size
        self.max_blocks = max_blocks
        self.min_random = min_random
        self.sem = trio.Semaphore(in_flight)
        self.blocks: dict[int, _Block] = {}
        self.window = 0  # blocks ahead; 0 = not sequential
        self.next_off = 0
        self.last: tuple[int, Buffer] = (0, b"")
        self.scopes: set[trio.CancelScope] = set()
        self.free: list[bytearray] = []
        self.into = hasattr(backend, "get_range") and "into" in getattr(
            backend.get_range, "__code__", _NOCODE).co_varnames
        self.local: LocalObject | None = None
        self.located: trio.Event | None = None  # set once `locate` has answered

    def close(self) -> None:
        for scope in self.scopes:
            scope.cancel()
        self.blocks.clear()
        self.free.clear()

    def _drop(self, idx: int) -> None:
        block = self.blocks.pop(idx, None)
        if block is None or block.buf is None or not block.done.is_set() or block.users:
            return  # a fetch still writing into it, or a read about to slice it, keeps it
        buf, block.buf, block.data = block.buf, None, b""
        try:  # a bytearray with live views can't be resized: then it is not ours to reuse
            buf.append(0)
            buf.pop()
        except BufferError:
            return
        if len(self.free) <= self.max_blocks:
            self.free.append(buf)

    def _clear(self) -> None:
        for idx in list(self.blocks):
            self._drop(idx)

    async def read(self, off: int, size: int) -> Buffer:
        if off >= self.size or size <= 0:
            return b""
        size = min(size, self.size - off)
        lo, data = self.last
        if lo <= off and off + size <= lo + len(data):
            return data[off - lo:off - lo + size]
        # the kernel's own read-ahead sends several reads at once, so they may arrive a
        # little out of order: anything near the stream's position (or in a block already
        # fetched) continues the stream
        bs = self.block_size
        near = self.next_off - 2 * bs <= off <= self.next_off + 2 * bs
        if near or off // bs in self.blocks:
            self.next_off = max(self.next_off, off + size)
            return await self._read_blocks(off, size)
        self.window = 0
        self._clear()
        self.next_off = off + size
        data = await self.backend.get_range(self.bucket, self.key, off, max(size, self.min_random))
        self.last = (off, data)
        return data[:size]

    async def _read_blocks(self, off: int, size: int) -> Buffer:
        bs = self.block_size
        first, last = off // bs, (off + size - 1) // bs
        self.window = max(1, min(self.max_blocks, self.window * 2 if self.window else 1))
        nblocks = -(-self.size // bs)
        for idx in list(self.blocks):
            if idx < first - 1:  # keep one behind for reads that arrive late
                self._drop(idx)
        for idx in range(first, min(nblocks, max(last + 1, first + self.window))):
            if idx not in self.blocks:
                block = _Block()
                self.blocks[idx] = block
                self.nursery.start_soon(self._fetch, idx, block)
        parts: list[memoryview] = []
        for idx in range(first, last + 1):
            known = self.blocks.get(idx)
            if known is None:  # evicted by a concurrent reader of this handle
                known = _Block()
                self.blocks[idx] = known
                self.nursery.start_soon(self._fetch, idx, known)
            block = known
            block.users += 1
            try:
                await block.done.wait()
                if block.error is not None:
                    self.blocks.pop(idx, None)
                    raise block.error
                start = max(off, idx * bs) - idx * bs
                end = min(off + size, (idx + 1) * bs) - idx * bs
                parts.append(memoryview(block.data)[start:end])
            finally:
                block.users -= 1
        # one block: a view into it, no copy (pyfuse3 takes any buffer)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def _fetch(self, idx: int, block: _Block) -> None:
        with trio.CancelScope() as scope:
            self.scopes.add(scope)
            try:
                async with self.sem, self.limiter:
                    start = idx * self.block_size
                    length = min(self.block_size, self.size - start)
                    local = await self._local()
                    data = None if local is None else await self._read_local(
                        local, start, length, block)
                    if data is not None:
                        block.data = data
                    elif self.into:
                        block.data = await self.backend.get_range(
                            self.bucket, self.key, start, length, into=self._buf(block))
                    else:
                        block.data = await self.backend.get_range(
                            self.bucket, self.key, start, length)
            except Exception as e:
                block.error = e
            finally:
                self.scopes.discard(scope)
        block.done.set()

    async def _local(self) -> LocalObject | None:
        """The object's local chunk files, located at the first block (once)."""
        if self.located is None:
            self.located = trio.Event()
            locate = getattr(self.backend, "locate", None)
            try:
                if locate is not None:
                    self.local = await locate(self.bucket, self.key, self.size)
            finally:
                self.located.set()
        await self.located.wait()
        return self.local

    def _buf(self, block: _Block) -> bytearray:
        if block.buf is None:
            block.buf = self.free.pop() if self.free else bytearray(self.block_size)
        return block.buf

    async def _read_local(
        self, local: LocalObject, start: int, length: int, block: _Block
    ) -> memoryview | None:
        """A block from the chunk files (in a worker thread): mapped if it is one chunk,
        else copied into the block's buffer. None: do a GET."""
        try:
            view = await trio.to_thread.run_sync(local.map_block, start, length)
            if view is not None:
                return view
            return await trio.to_thread.run_sync(local.read_into, start, length,
                                                 self._buf(block))
        except (LocalMiss, OSError) as e:
            log.info("local read of %s/%s: %s; reading with GETs", self.bucket, self.key, e)
            self.local = None
            return None
