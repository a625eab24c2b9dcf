"""pyfuse3's request loop, without a pass of trio's scheduler per request when nothing
else is waiting to run.

pyfuse3 reaches trio through its module global `trio`, which it lets be replaced (that
is how `pyfuse3.asyncio` switches it to asyncio). `install()` puts there a module that
is trio in everything but two things pyfuse3's worker loop does per FUSE request:

- `Lock`: its workers take a `trio.Lock` around waiting for the FUSE device (only one
  task may wait on a file descriptor), and it keeps one worker more than are busy: the
  first request starts a second worker, which from then on waits for the lock. trio's
  `Lock.acquire` always checkpoints - it yields even when the lock is free - and its
  release hands the lock to the waiting worker: the worker that read a request parks,
  the other is woken to read the next, a pass of the scheduler per request for a
  handover nobody needed when the request was answered without waiting (a lookup from
  memory). `ReaderLock` takes a free lock without yielding, and a release while others
  wait hands the lock over only if the releasing task yields before it takes the lock
  again (`_Handoffs`, a trio instrument watching task steps): a worker whose request
  waits for the store lets the next worker read, one answered at once reads the next
  request itself.
- `lowlevel.wait_readable`, the wait for the device (`DeviceWait`). trio's parks the task
  and runs the scheduler: an `epoll_ctl` to arm the descriptor, the run loop's pass
  (deadlines, `epoll_wait`, events to tasks, the task resumed). When no other task is
  runnable and no deadline is due, `DeviceWait` instead sleeps in one `poll(2)` on the
  device and on trio's own epoll descriptor (readable as soon as anything trio waits
  for is ready: a socket, a thread's `run_sync_soon`, a signal): a request returns to
  the worker at once, anything else falls back to trio's wait, which runs the
  scheduler. So the worker keeps the thread only while the thread has nothing else to
  do, and every other task runs as soon as it could have under trio's wait. Before it
  sleeps it polls the device without sleeping for up to `SPIN_NS` (40 µs): the next
  request of a loop of stats comes a few µs after the answer, and a sleep in poll(2)
  costs a wake-up - on a busy 2-core VM tens of µs, the difference between a stat row
  of ~10 k/s and one of ~25-33 k/s (2,000 files, rclone ~12.6 k; Go's scheduler spins
  the same way before it parks a thread). At most 40 µs of CPU per request, only
  while requests come; an idle mount sleeps.

Together: a minimal pyfuse3 file system answering lookups from memory, 35 -> 9-10 µs of
CPU per lookup (the kernel's part included), 16-22 k -> 55-75 k stats per second on a
loaded 2-core VM; what is left per request is pyfuse3's C side, the kernel's
read/writev of the device and the poll.

Both lean on what pyfuse3 does with its `trio` (a pyfuse3 upgrade must be checked against
them), and `DeviceWait` on trio's run loop internals (the run queue, the deadlines, a
task's count of scheduler passes, the epoll object): when these are not found as
expected it is trio's wait, unchanged.
"""

from __future__ import annotations

import importlib
import math
import select
import time
import types
from typing import Any

import pyfuse3
import trio

try:  # trio's run loop state (private: see the module's doc)
    _RUN_CONTEXT: Any = importlib.import_module("trio._core._run").GLOBAL_RUN_CONTEXT
except (ImportError, AttributeError):  # pragma: no cover - another trio: trio's wait
    _RUN_CONTEXT = None


class ReaderLock:
    """A lock whose uncontended acquire does not yield, and whose release hands it to a
    waiting task only once the releasing task yields (see the module's doc)."""

    __slots__ = ("_held", "_lot", "_left_by")

    def __init__(self) -> None:
        self._held = False
        self._lot = trio.lowlevel.ParkingLot()
        self._left_by: trio.lowlevel.Task | None = None  # released it, others waiting

    async def __aenter__(self) -> None:
        if self._held:
            await self._lot.park()  # handed over (`hand_over`): this task holds it
        else:
            self._held = True
            if self._left_by is not None:  # (back before yielding: the others wait on)
                _HANDOFFS.pending.pop(self, None)
                self._left_by = None

    async def __aexit__(self, *exc: object) -> None:
        self._held = False
        if self._lot:  # others wait: theirs once this task yields, unless it is back first
            self._left_by = trio.lowlevel.current_task()
            _HANDOFFS.watch(self, self._left_by)

    def hand_over(self) -> None:
        """Give the lock to the first waiting task (it holds it when it runs)."""
        self._left_by = None
        if not self._held and self._lot.unpark():
            self._held = True


class _Handoffs(trio.abc.Instrument):
    """Hands a `ReaderLock` released while others wait to the first of them when the
    task that released it yields to the scheduler (or ends) without having taken it
    back: a worker whose request was answered without yielding reads the next request
    itself, and one whose request waits for the store lets another worker read."""

    def __init__(self) -> None:
        self.pending: dict[ReaderLock, trio.lowlevel.Task] = {}
        self.runner: object = None  # the trio run this instrument is installed in

    def watch(self, lock: ReaderLock, task: trio.lowlevel.Task) -> None:
        runner = (_RUN_CONTEXT.runner if _RUN_CONTEXT is not None
                  else trio.lowlevel.current_trio_token())
        if runner is not self.runner:
            self.pending.clear()  # (left over from another run)
            trio.lowlevel.add_instrument(self)
            self.runner = runner
        self.pending[lock] = task

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        if self.pending:
            for lock in [k for k, t in self.pending.items() if t is task]:
                del self.pending[lock]
                lock.hand_over()


_HANDOFFS = _Handoffs()


MAX_SLEEP_MS = 60_000  # (a deadline further off than this is met by a later poll)


SPIN_NS = 40_000  # how long a worker polls the device without sleeping after an answer


class DeviceWait:
    """`trio.lowlevel.wait_readable` for the FUSE device (see the module's doc)."""

    def __init__(self) -> None:
        self.runner: Any = None  # the trio run the poll object below is for
        self.poll: Any = None  # select.poll on the device and on trio's epoll
        self.fd = -1
        self.task: Any = None  # the task last seen here with no other task to run,
        self.points = -1  # and its count of passes through the scheduler then
        self.usable = _RUN_CONTEXT is not None  # trio's internals as expected (else: trio's wait)
        self.fast = 0  # waits that did not go through trio's scheduler
        self.slow = 0  # waits that did

    def _setup(self, runner: Any, fd: int) -> bool:
        try:
            epoll_fd = runner.io_manager._epoll.fileno()
            task = _RUN_CONTEXT.task
            ok = all(callable(f) for f in (
                runner.runq.__len__, runner.deadlines.next_deadline,
                runner.clock.current_time, runner.waiting_for_idle.__len__,
                runner.tasks.__iter__)) and isinstance(task._schedule_points, int) and (
                task._next_send_fn is None)
        except AttributeError:
            ok = False
        if not ok or not isinstance(epoll_fd, int):
            self.usable = False
            return False
        p = select.poll()
        p.register(fd, select.POLLIN)
        p.register(epoll_fd, select.POLLIN)
        self.runner, self.poll, self.fd = runner, p, fd
        return True

    async def __call__(self, fd: Any) -> None:
        if self.usable and isinstance(fd, int) and self._ready(fd):
            self.fast += 1
            return
        self.slow += 1
        await trio.lowlevel.wait_readable(fd)

    def _ready(self, fd: int) -> bool:
        """Slept in poll(2) until the device is readable while nothing else is to be
        done: True; else (something else ready, a deadline, a signal) False."""
        r = getattr(_RUN_CONTEXT, "runner", None)
        if r is None:
            return False
        if (r is not self.runner or fd != self.fd) and not self._setup(r, fd):
            return False
        if r.runq or r.waiting_for_idle:
            return False
        task = _RUN_CONTEXT.task
        if task is not self.task or task._schedule_points != self.points:
            # resumed by the scheduler since last here: the tasks of the batch it was
            # resumed in that have not run yet are in no queue but theirs (they have a
            # step to take); one waiting for the worker's poll would wait for ever
            if any(t._next_send_fn is not None and t is not task for t in r.tasks):
                return False
            self.task, self.points = task, task._schedule_points
        left = r.deadlines.next_deadline() - r.clock.current_time()
        if left <= 0:
            return False
        ms = -1 if left == math.inf else min(MAX_SLEEP_MS, int(left * 1000) + 1)
        # a short spin first: the next request of a stat loop comes within a few µs of
        # the answer, and a sleep in poll(2) costs a wake-up (tens of µs on a busy VM)
        spin_end = time.perf_counter_ns() + SPIN_NS
        poll = self.poll.poll
        got = poll(0)
        while not got and time.perf_counter_ns() < spin_end:
            got = poll(0)
        if not got:
            got = poll(ms)
        return len(got) == 1 and got[0][0] == fd and not got[0][1] & ~select.POLLIN


class _Lowlevel(types.ModuleType):
    """trio.lowlevel, but for `wait_readable`."""

    def __getattr__(self, name: str) -> Any:
        return getattr(trio.lowlevel, name)


class _TrioForPyfuse3(types.ModuleType):
    """trio, but for `Lock` and `lowlevel.wait_readable`."""

    Lock = ReaderLock

    def __getattr__(self, name: str) -> Any:
        return getattr(trio, name)


def install() -> DeviceWait:
    """Have pyfuse3's workers use `ReaderLock` and `DeviceWait` (before `pyfuse3.main`)."""
    mod = getattr(pyfuse3, "trio", None)
    if not isinstance(mod, _TrioForPyfuse3):
        mod = _TrioForPyfuse3("trio")
        low = _Lowlevel("trio.lowlevel")
        low.wait_readable = DeviceWait()  # type: ignore[attr-defined]
        mod.lowlevel = low  # type: ignore[attr-defined]
        pyfuse3.trio = mod  # type: ignore[attr-defined]
    wait: DeviceWait = mod.lowlevel.wait_readable
    return wait
