"""The hand-off of blocking steps to trio worker threads."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import trio

R = TypeVar("R")


async def _run(fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    return await trio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
