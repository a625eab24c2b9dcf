"""Reads of an object through ranged GETs, with adaptive read-ahead.

A reader that sees sequential reads fetches whole blocks ahead of the reader, the window
doubling from one block to `max_blocks` as the streak goes on, with up to `in_flight`
GETs at once per open file (and a mount-wide limiter). A random read fetches just what
it asks for (at least `min_random` bytes) and resets the window. Memory per reader is
bounded by (max_blocks + 1) * block_size whatever the file size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import trio

from mount.backend import Backend


@dataclass(slots=True)
class _Block:
    done: trio.Event = field(default_factory=trio.Event)
    data: bytes = b""
    error: BaseException | None = None


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
        block_size: int = 4 << 20,
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
        self.last: tuple[int, bytes] = (0, b"")
        self.scopes: set[trio.CancelScope] = set()

    def close(self) -> None:
        for scope in self.scopes:
            scope.cancel()
        self.blocks.clear()

    async def read(self, off: int, size: int) -> bytes:
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
        self.blocks.clear()
        self.next_off = off + size
        data = await self.backend.get_range(self.bucket, self.key, off, max(size, self.min_random))
        self.last = (off, data)
        return data[:size]

    async def _read_blocks(self, off: int, size: int) -> bytes:
        bs = self.block_size
        first, last = off // bs, (off + size - 1) // bs
        self.window = max(1, min(self.max_blocks, self.window * 2 if self.window else 1))
        nblocks = -(-self.size // bs)
        for idx in list(self.blocks):
            if idx < first - 1:  # keep one behind for reads that arrive late
                del self.blocks[idx]
        for idx in range(first, min(nblocks, max(last + 1, first + self.window))):
            if idx not in self.blocks:
                block = _Block()
                self.blocks[idx] = block
                self.nursery.start_soon(self._fetch, idx, block)
        parts = []
        for idx in range(first, last + 1):
            block = self.blocks.get(idx)
            if block is None:  # evicted by a concurrent reader of this handle
                block = _Block()
                self.blocks[idx] = block
                self.nursery.start_soon(self._fetch, idx, block)
            await block.done.wait()
            if block.error is not None:
                self.blocks.pop(idx, None)
                raise block.error
            start = max(off, idx * bs) - idx * bs
            end = min(off + size, (idx + 1) * bs) - idx * bs
            parts.append(memoryview(block.data)[start:end])
        # one block: a view into it, no copy (pyfuse3 takes any buffer)
        return parts[0] if len(parts) == 1 else b"".join(parts)  # type: ignore[return-value]

    async def _fetch(self, idx: int, block: _Block) -> None:
        with trio.CancelScope() as scope:
            self.scopes.add(scope)
            try:
                async with self.sem, self.limiter:
                    start = idx * self.block_size
                    length = min(self.block_size, self.size - start)
                    block.data = await self.backend.get_range(self.bucket, self.key, start, length)
            except Exception as e:
                block.error = e
            finally:
                self.scopes.discard(scope)
        block.done.set()
