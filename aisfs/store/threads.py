"""The hand-off of blocking steps to worker threads.

Not ``trio.to_thread.run_sync``: per call that costs a CapacityLimiter round, a thread
name built and set, and a cancel-scope dance, which together were ~25 % of the node's
CPU on a small PUT/DELETE (py-spy --gil). This is the same hand-off on trio's own
thread cache (``start_thread_soon``), with its own bound on threads in use: the caller
waits, uncancellable, until the function returns (as ``run_sync`` without
``abandon_on_cancel``), so a store step is never left half done by a cancellation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import outcome
import trio

if TYPE_CHECKING:
    from .store import Store

R = TypeVar("R")

MAX_THREADS = 40  # as trio's default limiter


class _Slots:
    def __init__(self, total: int) -> None:
        self.free = total
        self.waiters: list[trio.Event] = []


_slots: dict[trio.lowlevel.TrioToken, _Slots] = {}


async def _run(fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """``fn(*args, **kwargs)`` in a worker thread; its result or exception."""
    await trio.lowlevel.checkpoint_if_cancelled()
    token = trio.lowlevel.current_trio_token()
    slots = _slots.get(token)
    if slots is None:
        _slots.clear()  # a new trio run: the old token is dead
        slots = _slots[token] = _Slots(MAX_THREADS)
    while slots.free <= 0:
        ev = trio.Event()
        slots.waiters.append(ev)
        await ev.wait()
    slots.free -= 1
    task = trio.lowlevel.current_task()
    call = functools.partial(fn, *args, **kwargs) if args or kwargs else fn

    def deliver(result: outcome.Outcome[R]) -> None:
        def wake() -> None:
            slots.free += 1
            if slots.waiters:
                slots.waiters.pop(0).set()
            trio.lowlevel.reschedule(task, result)

        try:
            token.run_sync_soon(wake)
        except trio.RunFinishedError:  # pragma: no cover - the run ended under us
            pass

    trio.lowlevel.start_thread_soon(call, deliver)
    return await trio.lowlevel.wait_task_rescheduled(  # type: ignore[no-any-return]
        lambda _: trio.lowlevel.Abort.FAILED
    )


async def _run_short(store: Store, fn: Callable[..., R], *args: Any) -> R:
    """A short store step - a small PUT's commit or a delete: a few small file operations,
    their fsyncs and one small index transaction - on the event loop itself when nothing
    else is being served (``store.uncontended()``) and the index writer lock is free at
    once; otherwise in a worker thread, as ``_run``.

    The hand-off to a thread and back (a futex wake, the GIL passed twice, the wake-up
    socket) cost the node ~0.15 ms of CPU per small request, as much as the step itself.
    Served alone, a request gains nothing from it: the loop has nothing else to do while
    the step waits on the disk (Redis's appendfsync=always works the same way). A request
    that arrives meanwhile waits for the step (its fsyncs); under concurrent load every
    step goes to threads as before. The writer lock is taken without waiting, or not at
    all: the loop never blocks behind a long holder (a prefix rename, a resilver pass).
    """
    await trio.lowlevel.checkpoint_if_cancelled()
    lock = store.index.wlock
    if store.config.short_steps_on_loop and store.uncontended() and lock.acquire(False):
        try:
            result = fn(*args)
        finally:
            lock.release()
        await trio.lowlevel.cancel_shielded_checkpoint()
        return result
    return await _run(fn, *args)
