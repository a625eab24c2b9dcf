"""Files whose removal is already durable, unlinked off the request path.

Unlinking a small fsynced file costs ext4 ~95 us (the inode and its blocks are freed),
renaming it ~20 us. A delete renames the object's manifest into the mountpath's temp
directory (the rename, made durable by the manifest directory's fsync, is the removal)
and hands the new path here; one thread unlinks it later. A ``deleted.*`` file left over
by a crash is removed by the next ``gc()``.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading

from . import layout

_STOP = ""


class Reaper:
    def __init__(self) -> None:
        self._paths: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def take(self, root: str, path: str) -> bool:
        """Rename ``path`` into the mountpath ``root``'s temp directory and unlink it soon:
        its name is gone at once (durably once its directory is fsynced). False if it was
        not there; any other OSError is raised."""
        gone = layout.tmp_path(root, "deleted")
        try:
            os.rename(path, gone)
        except FileNotFoundError:
            return False
        self.reap(gone)
        return True

    def reap(self, path: str) -> None:
        """Unlink ``path`` soon (a thread is started on first use)."""
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="aisfs-reaper", daemon=True
                    )
                    self._thread.start()
        self._paths.put(path)

    def _run(self) -> None:
        while (path := self._paths.get()) != _STOP:
            try:
                os.unlink(path)
            except IsADirectoryError:  # an upload's records (multipart.py)
                shutil.rmtree(path, ignore_errors=True)
            except OSError:
                pass

    def close(self) -> None:
        """Unlink what is queued, then stop the thread."""
        if self._thread is not None:
            self._paths.put(_STOP)
            self._thread.join()
            self._thread = None
