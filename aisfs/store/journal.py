"""The intent journal: what a crash can have left half done, so that an open after a
crash reconciles only that, not every manifest.

Every change of the files the index is built from (manifests, upload and part records,
bucket records) runs under ``Index.wlock`` inside ``Journal.intent(...)``: before the
first file changes, one line per name (``["o", bucket, key]``, ``["u", upload_id]``,
``["b", bucket]``) is appended to ``<index_dir>/journal`` with one ``write`` (no fsync:
after a process crash the page cache keeps it, as it keeps the WAL; after a machine crash
the open rebuilds from the disks, see ``store.py``). Since every change holds the lock,
when a new intent begins every earlier one has committed or rolled back: the journal is
emptied then once it holds more than ``LIMIT`` bytes, so it never holds more than the
last ~``LIMIT`` bytes of names plus the one change in flight. An intent that raised
(its files may be changed, its commit not done) keeps the journal from being emptied
until the next open reconciles it.

``crash_point(name)`` is a test-only hook: with ``AISFS_STORE_CRASH_AT=name[:n]`` in the
environment the process kills itself (SIGKILL) the n-th time (default 1st) it passes
that point of the publish path.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .files import FILE_MODE

log = logging.getLogger(__name__)


Entry = tuple[str, ...]  # ("o", bucket, key) | ("u", upload_id) | ("b", bucket)


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        # where the next record goes: 0, or after records to keep (sticky: an intent
        # failed, or the journal holds names no open has reconciled yet)
        _, self._end = self._read()
        self._sticky = self._end > 0
        self._lock = threading.Lock()

    def entries(self) -> list[Entry]:
        """The names of the records in the journal, each once, in order."""
        return self._read()[0]

    def _read(self) -> tuple[list[Entry], int]:
        with open(self.path, "rb") as f:
            data = f.read()
        seen: dict[Entry, None] = {}
        pos = end = 0
        while True:
            m = _HEADER.match(data, pos)
            if m is None:
                break  # the end, or the stale tail of an earlier, longer record
            end = pos = m.end() + int(m.group(1))
            for line in data[m.end():pos].split(b"\n"):
                try:
                    e = json.loads(line)
                except ValueError:
                    continue  # a torn record: its files were not changed yet
                if isinstance(e, list) and e and all(isinstance(x, str) for x in e):
                    seen[tuple(e)] = None
        return list(seen), min(end, len(data))

    def clear(self) -> None:
        """Empty the journal (every name in it is reconciled or committed)."""
        with self._lock:
            os.ftruncate(self._fd, 0)
            self._end = 0
            self._sticky = False

    @contextmanager
    def intent(
        self, objects: Iterable[tuple[str, str]] = (), uploads: Iterable[str] = (),
        buckets: Iterable[str] = (),
    ) -> Iterator[None]:
        """Journal the names a change is about to touch (caller holds ``index.wlock``)."""
        lines = [json.dumps(["o", b, k], ensure_ascii=False) for b, k in objects]
        lines += [json.dumps(["u", u]) for u in uploads]
        lines += [json.dumps(["b", b], ensure_ascii=False) for b in buckets]
        if not lines:
            yield
            return
        payload = "\n".join(lines).encode("utf-8", "surrogatepass")
        data = b"#%d\n" % len(payload) + payload
        with self._lock:
            # the record replaces the last one (it committed), unless one failed
            at = self._end
            n = 0
            while n < len(data):
                n += os.pwrite(self._fd, data[n:], at + n)
        try:
            yield
        except BaseException:
            with self._lock:
                self._sticky = True
                self._end = max(self._end, at + len(data))
            raise

    def close(self, clean: bool) -> None:
        """``clean``: a clean stop (every intent committed unless one failed): emptied."""
        with self._lock:
            if self._fd >= 0:
                if clean and not self._sticky:
                    os.ftruncate(self._fd, 0)
                os.close(self._fd)
                self._fd = -1


_HEADER = re.compile(rb"#(\d+)\n")


# -- test-only crash points -----------------------------------------------------------

_CRASH_AT = os.environ.get("AISFS_STORE_CRASH_AT", "")
_crash_name, _, _crash_n = _CRASH_AT.partition(":")
_crash_left = [int(_crash_n or 1)]


def crash_point(name: str) -> None:
    """Kill the process here when the environment asks for it (tests only)."""
    if _crash_name and name == _crash_name:
        _crash_left[0] -= 1
        if _crash_left[0] <= 0:
            log.warning("crash point %s: killing the process", name)
            os.kill(os.getpid(), signal.SIGKILL)


def boot_id() -> str:
    """This boot of the machine: a process crash keeps it, a machine crash does not."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""
