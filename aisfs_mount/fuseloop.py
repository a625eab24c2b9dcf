"""pyfuse3's request loop, one trip through trio's scheduler per request instead of two.

pyfuse3's worker tasks take a `trio.Lock` around waiting for the FUSE device to be
readable (only one task may wait on a file descriptor). trio's `Lock.acquire` always
checkpoints - it yields to the scheduler even when the lock is free, and that is the
common case: one idle worker, one request at a time. So every FUSE request cost two
passes of trio's run loop (two `epoll_wait`s), one of them for nothing; a stat of a file
whose attributes expired is one FUSE lookup answered from memory, so that pass was a
good part of its cost.

pyfuse3 reaches trio through its module global `trio`, which it lets be replaced (that
is how `pyfuse3.asyncio` switches it to asyncio). `install()` puts there a module that
is trio in everything but `Lock`: `ReaderLock` takes a free lock without yielding and
parks a task only when another holds it, handing the lock over on release (so a parked
task is never overtaken). The wait for the device itself stays trio's `wait_readable`,
which checkpoints, so a worker still lets every other task run between two requests.
"""

from __future__ import annotations

import types
from typing import Any

import pyfuse3
import trio


class ReaderLock:
    """A lock whose uncontended acquire does not yield (see the module's doc)."""

    __slots__ = ("_held", "_lot")

    def __init__(self) -> None:
        self._held = False
        self._lot = trio.lowlevel.ParkingLot()

    async def __aenter__(self) -> None:
        if self._held:
            await self._lot.park()  # the holder's release hands the lock over
        else:
            self._held = True

    async def __aexit__(self, *exc: object) -> None:
        if not (self._lot and self._lot.unpark()):  # nobody waiting: free it
            self._held = False


class _TrioForPyfuse3(types.ModuleType):
    """trio, but for `Lock`."""

    Lock = ReaderLock

    def __getattr__(self, name: str) -> Any:
        return getattr(trio, name)


def install() -> None:
    """Have pyfuse3's workers use `ReaderLock` (before `pyfuse3.main`)."""
    if not isinstance(getattr(pyfuse3, "trio", None), _TrioForPyfuse3):
        pyfuse3.trio = _TrioForPyfuse3("trio")  # type: ignore[attr-defined]
