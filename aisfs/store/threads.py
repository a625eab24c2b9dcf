"""The hand-off of blocking steps to worker threads: the store's one owner of them.

Not ``trio.to_thread.run_sync``: per call that costs a CapacityLimiter round, a thread
name built and set, and a cancel-scope dance, which together were ~25 % of the node's
CPU on a small PUT/DELETE (py-spy --gil). This is the same hand-off on trio's own
thread cache (``start_thread_soon``), with its own bound on threads in use
(``MAX_THREADS`` per trio run, shared by every caller below):

* ``run_sync(fn, *args)``: the caller waits, uncancellable, until the function returns
  (as ``run_sync`` without ``abandon_on_cancel``), so a store step is never left half
  done by a cancellation;
* ``start_soon(fn, *args)``: the read-ahead of ``read_object`` - started now, its result
  awaited later (an async generator may not hold a nursery across a yield). The thread
  holds its slot until it returns, whether or not anyone awaits the result;
* ``ShortSteps.run(fn, *args)``: a short step on the event loop itself when nothing
  else is served (see its docstring), else ``run_sync``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import outcome
import trio

from .config import StoreConfig

R = TypeVar("R")

MAX_THREADS = 40  # as trio's default limiter


class _Slots:
    def __init__(self, total: int) -> None:
        self.free = total
        self.waiters: list[trio.Event] = []

    def release(self) -> None:
        self.free += 1
        if self.waiters:
            self.waiters.pop(0).set()


_slots: dict[trio.lowlevel.TrioToken, _Slots] = {}


async def _take_slot(token: trio.lowlevel.TrioToken) -> _Slots:
    slots = _slots.get(token)
    if slots is None:
        _slots.clear()  # a new trio run: the old token is dead
        slots = _slots[token] = _Slots(MAX_THREADS)
    while slots.free <= 0:
        ev = trio.Event()
        slots.waiters.append(ev)
        await ev.wait()
    slots.free -= 1
    return slots


async def run_sync(fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """``fn(*args, **kwargs)`` in a worker thread; its result or exception."""
    await trio.lowlevel.checkpoint_if_cancelled()
    token = trio.lowlevel.current_trio_token()
    slots = await _take_slot(token)
    task = trio.lowlevel.current_task()
    call = functools.partial(fn, *args, **kwargs) if args or kwargs else fn

    def deliver(result: outcome.Outcome[R]) -> None:
        def wake() -> None:
            slots.release()
            trio.lowlevel.reschedule(task, result)

        try:
            token.run_sync_soon(wake)
        except trio.RunFinishedError:  # pragma: no cover - the run ended under us
            pass

    trio.lowlevel.start_thread_soon(call, deliver)
    value: R = await trio.lowlevel.wait_task_rescheduled(lambda _: trio.lowlevel.Abort.FAILED)
    return value


class Pending(Generic[R]):
    """A call started by ``start_soon``; ``await result()`` for its value or exception."""

    def __init__(self) -> None:
        self._done = trio.Event()
        self._outcome: outcome.Outcome[R] | None = None

    def _set(self, result: outcome.Outcome[R]) -> None:
        self._outcome = result
        self._done.set()

    async def result(self) -> R:
        await self._done.wait()
        assert self._outcome is not None
        return self._outcome.unwrap()


async def start_soon(fn: Callable[..., R], *args: Any) -> Pending[R]:
    """``fn(*args)`` started in a worker thread (once a slot is free); not awaited here.

    Nothing owns the thread but the slot: if nobody awaits the result (the reader went
    away), the thread finishes, frees its slot, and its result is dropped.
    """
    token = trio.lowlevel.current_trio_token()
    slots = await _take_slot(token)
    pending: Pending[R] = Pending()

    def deliver(result: outcome.Outcome[R]) -> None:
        def wake() -> None:
            slots.release()
            pending._set(result)

        try:
            token.run_sync_soon(wake)
        except trio.RunFinishedError:  # pragma: no cover - the run ended under us
            pass

    trio.lowlevel.start_thread_soon(functools.partial(fn, *args), deliver)
    return pending


def _never() -> bool:
    return False


class ShortSteps:
    """A short store step - a small PUT's commit or a delete: a few small file operations,
    their fsyncs and one small index transaction - on the event loop itself when nothing
    else is being served (``uncontended()``) and the index writer lock is free at once;
    otherwise in a worker thread, as ``run_sync``.

    The hand-off to a thread and back (a futex wake, the GIL passed twice, the wake-up
    socket) cost the node ~0.15 ms of CPU per small request, as much as the step itself.
    Served alone, a request gains nothing from it: the loop has nothing else to do while
    the step waits on the disk (Redis's appendfsync=always works the same way). A request
    that arrives meanwhile waits for the step (its fsyncs); under concurrent load every
    step goes to threads as before. The writer lock is taken without waiting, or not at
    all: the loop never blocks behind a long holder (a prefix rename, a resilver pass).
    """

    def __init__(self, lock: threading.RLock, config: StoreConfig) -> None:
        self.lock = lock
        self.config = config  # short_steps_on_loop, read at each step
        # set by the server: True while the caller's request is the only one in flight;
        # by default never, so every step goes to a thread
        self.uncontended: Callable[[], bool] = _never

    async def run(self, fn: Callable[..., R], *args: Any) -> R:
        await trio.lowlevel.checkpoint_if_cancelled()
        if self.config.short_steps_on_loop and self.uncontended() and self.lock.acquire(False):
            try:
                result = fn(*args)
            finally:
                self.lock.release()
            await trio.lowlevel.cancel_shielded_checkpoint()
            return result
        return await run_sync(fn, *args)
