"""Progress records of the store's background jobs (resilver, scrub) and their runner.

A job runs in its own thread (its chunk work in a small pool of worker threads), never on
the trio loop; callers poll ``Progress.to_json()``.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

MAX_LISTED = 1000  # objects named in a progress record (the count is exact)


@dataclass
class Progress:
    kind: str  # "resilver" | "scrub"
    id: str = field(default_factory=lambda: secrets.token_hex(5))
    state: str = "running"  # running | done | aborted | failed
    reason: str = ""  # what started it
    buckets: list[str] | None = None  # None: every bucket
    started_ns: int = field(default_factory=time.time_ns)
    finished_ns: int = 0
    objects_total: int = 0
    objects_done: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    chunks_checked: int = 0
    copies_added: int = 0
    copies_removed: int = 0
    copies_repaired: int = 0  # bad copies rewritten from a good one
    manifests_fixed: int = 0
    lost_chunks: int = 0
    unrepairable: list[str] = field(default_factory=list)  # "bucket/key", at most MAX_LISTED
    unrepairable_count: int = 0
    error: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)

    def lost_object(self, name: str) -> None:
        with self._lock:
            self.unrepairable_count += 1
            if len(self.unrepairable) < MAX_LISTED:
                self.unrepairable.append(name)

    def finish(self, state: str, error: str = "") -> None:
        with self._lock:
            self.state = state
            self.error = error
            self.finished_ns = time.time_ns()

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            out = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
            out["unrepairable"] = list(self.unrepairable)
        out["running"] = self.state == "running"
        end = self.finished_ns or time.time_ns()
        out["elapsed_seconds"] = round((end - self.started_ns) / 1e9, 3)
        return out
