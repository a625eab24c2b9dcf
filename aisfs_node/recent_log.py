"""The last few WARNING/ERROR/CRITICAL log records of the node, for the status page.

``RECENT`` is one process-wide ``RecentLog`` handler; ``aisfs_node.logs.setup_logging`` puts it
on the root logger next to the stderr handler, so it sees the store's warnings at open as
well as the request path's errors. It keeps at most ``RECENT_MAX`` records (a deque: the
oldest fall off), each as a small dict of plain strings, the message cut to
``MESSAGE_MAX`` characters; a traceback is reduced to its exception's type and text.
Reading it (``entries()``) copies under its lock: no record is half seen.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any

RECENT_MAX = 50
MESSAGE_MAX = 500


class RecentLog(logging.Handler):
    """A bounded ring of the newest records at ``level`` or above."""

    def __init__(self, capacity: int = RECENT_MAX, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self._ring: collections.deque[dict[str, Any]] = collections.deque(maxlen=capacity)
        self.total = 0  # records seen since the start, the ones dropped included
        self._ring_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
        except Exception:  # a bad format string must not break logging
            msg = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            msg = f"{msg} ({type(exc).__name__}: {exc})"
        if len(msg) > MESSAGE_MAX:
            msg = msg[: MESSAGE_MAX - 1] + "\u2026"
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "time": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "msg": msg,
        }
        with self._ring_lock:
            self._ring.append(entry)
            self.total += 1

    def entries(self) -> list[dict[str, Any]]:
        """The kept records, newest first."""
        with self._ring_lock:
            return list(reversed(self._ring))

    def clear(self) -> None:
        with self._ring_lock:
            self._ring.clear()
            self.total = 0


RECENT = RecentLog()

