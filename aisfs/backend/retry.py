"""Retries with exponential backoff and full jitter, for idempotent backend calls only."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

from .errors import retryable

T = TypeVar("T")
log = logging.getLogger(__name__)

BASE_DELAY = 0.1
MAX_DELAY = 2.0


def backoff(attempt: int) -> float:
    """Seconds before retry number ``attempt`` (1-based): full jitter under 0.1 * 2^n."""
    return random.uniform(0, min(MAX_DELAY, BASE_DELAY * (2 ** (attempt - 1))))


async def with_retries(
    call: Callable[[], Awaitable[T]], retries: int, what: str
) -> T:
    """``await call()``; after a retryable failure, up to ``retries`` more times."""
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as e:
            if attempt >= retries or not retryable(e):
                raise
            attempt += 1
            log.info("%s failed (%s); retry %d of %d", what, type(e).__name__, attempt, retries)
            await trio.sleep(backoff(attempt))
