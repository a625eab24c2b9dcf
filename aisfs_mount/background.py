"""What the mount's background requests share (``deletes.py``'s DELETEs, ``markers.py``'s
directory markers): waiting for those still in flight at or under a path, and one retry."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

T = TypeVar("T")


async def wait_in_flight(in_flight: dict[str, trio.Event], path: str, children: bool = False,
                         below: bool = False) -> None:
    """Wait for the request of `path` in `in_flight` (and of the names directly in it, or
    anywhere below it)."""
    if not (children or below):  # (one name: no walk of every request in flight)
        ev = in_flight.get(path)
        if ev is not None:
            await ev.wait()
        return
    pre = path + "/" if path else ""
    for p, ev in list(in_flight.items()):
        tail = p[len(pre):] if p.startswith(pre) else None
        if p == path or tail is not None and (below or children and "/" not in tail):
            await ev.wait()


async def retried_once(call: Callable[[], Awaitable[T]], log: logging.Logger, what: str,
                       path: str) -> T:
    """``call()``, once more if it fails (a warning logged: ``<what> failed ..., retrying``);
    the second failure is raised."""
    try:
        return await call()
    except Exception as e:
        log.warning("%s failed (%s), retrying", what % (path,), e)
    return await call()
