"""Object generations: monotonic across the store, > every generation before."""

from __future__ import annotations

import threading
import time


class Generations:
    def __init__(self, last: int = 0) -> None:
        self._lock = threading.Lock()
        self._last = last

    def reset(self, last: int) -> None:
        """At open: the highest generation the index holds."""
        with self._lock:
            self._last = last

    def next(self) -> int:
        with self._lock:
            self._last = max(time.time_ns(), self._last + 1)
            return self._last
