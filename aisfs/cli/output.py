"""What the CLI prints: AIS-style sizes, aligned tables, JSON for scripts (``--json``),
and progress on stderr (so stdout stays clean for a pipe or a script)."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(n: int) -> str:
    """``11B``, ``1.02KiB``, ``3.00MiB`` (as `ais` prints sizes)."""
    if n < 1024:
        return f"{n}B"
    value = float(n)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.2f}{unit}"
    return f"{n}B"


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    for line in [header, *rows]:
        cells = [c.ljust(widths[i]) for i, c in enumerate(line)]
        print("  ".join(cells).rstrip())


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def fmt(value: Any) -> str:
    """A table cell: ``-`` for nothing, JSON for lists and dicts."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or value == "":
        return "-"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def fmt_ns(value: str) -> str:
    """Unix nanoseconds as a UTC time (the text itself if it is not a number)."""
    try:
        ns = int(value)
    except (TypeError, ValueError):
        return value or "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ns / 1e9))


def fmt_uptime(value: Any) -> str:
    try:
        secs = int(int(value) / 1e9)
    except (TypeError, ValueError):
        return "-"
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def progress_wanted(flag: bool | None) -> bool:
    """``--progress``/``--no-progress``, else only when stderr is a terminal."""
    return bool(flag) if flag is not None else sys.stderr.isatty()


class Progress:
    """A one-line progress bar of a transfer on stderr, redrawn at most ten times a second
    (threads of a parallel transfer share one)."""

    def __init__(self, total_bytes: int, total_files: int, enabled: bool, verb: str) -> None:
        self.total_bytes = total_bytes
        self.total_files = total_files
        self.enabled = enabled
        self.verb = verb
        self.done_bytes = 0
        self.done_files = 0
        self.started = time.monotonic()
        self._last = 0.0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.done_bytes += n
            self._maybe_draw()

    def file_done(self) -> None:
        with self._lock:
            self.done_files += 1
            self._maybe_draw(force=self.done_files == self.total_files)

    def _maybe_draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        frac = self.done_bytes / self.total_bytes if self.total_bytes else 1.0
        width = 24
        filled = int(frac * width)
        rate = self.done_bytes / max(now - self.started, 1e-6)
        line = (
            f"\r{self.verb} [{'#' * filled}{'.' * (width - filled)}] {frac * 100:5.1f}% "
            f"{self.done_files}/{self.total_files} objects  "
            f"{human_size(self.done_bytes)}/{human_size(self.total_bytes)}  "
            f"{human_size(int(rate))}/s"
        )
        sys.stderr.write(line)
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            with self._lock:
                self._maybe_draw(force=True)
            sys.stderr.write("\n")
            sys.stderr.flush()


class StatusLine:
    """A line on stderr rewritten in place on a terminal, one line per change otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = ""

    def show(self, line: str) -> None:
        if line == self.last:
            return
        sys.stderr.write("\r\x1b[K" + line if self.tty else line + "\n")
        sys.stderr.flush()
        self.last = line

    def close(self) -> None:
        if self.tty and self.last:
            sys.stderr.write("\n")
            sys.stderr.flush()
