"""Mountpath health: count I/O errors, probe a mountpath after one, disable it if it fails.

Modelled on AIStore's FSHC (filesystem health checker). Every store path that catches an
``OSError`` on a mountpath calls ``MountpathSet.check(mp)`` from its ``except`` block; that
lands here:

* the error is counted on the mountpath it names (``Mountpath.io_errors``; the count is
  in ``store.stats()`` and the Prometheus metrics);
* the mountpath is probed: its identity file read and compared, its top directories and the
  directory of the failed path listed, a small file written, fsynced, read back and removed
  under ``tmp/``. A probe that fails (EIO, ENOTDIR when a directory was replaced by a file,
  EACCES, EROFS, ...) disables the mountpath at once (state ``faulted``); so does the
  ``HARD_ERROR_LIMIT``-th hard error even when the probe passes;
* a disabled mountpath is no longer read or written; reads are served from mirror copies
  and the ``on_fault`` hook (set by ``StoreAdmin``) persists the state and starts a resilver
  that restores the copies on the others. There is no automatic re-enable: an operator
  runs ``aisfs node mountpath enable PATH`` once the disk is fixed.

ENOENT is never a fault (a chunk removed by GC between a lookup and a read), nor is
ENOSPC/EDQUOT on the probe write (a full disk is not a broken one).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
import threading
from collections.abc import Callable

from . import layout
from .mountpath import Mountpath

log = logging.getLogger(__name__)

HARD_ERRNOS = frozenset(
    e
    for e in (
        errno.EIO, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENODEV,
        errno.ENXIO, errno.EBADF, errno.ESTALE, getattr(errno, "EUCLEAN", None),
        errno.EISDIR, errno.ECANCELED,
    )
    if e is not None
)
HARD_ERROR_LIMIT = 5
_NOT_FAULTS = frozenset((errno.ENOSPC, errno.EDQUOT))
_lock = threading.Lock()


def _under(path: object, root: str) -> bool:
    if not isinstance(path, str | bytes | os.PathLike):
        return False
    p = os.fsdecode(path)
    return p == root or p.startswith(root + "/")


def probe(mp: Mountpath, failed_path: str | None = None) -> str | None:
    """None if ``mp`` looks healthy, else what failed."""
    root = mp.root
    try:
        with open(f"{root}/{layout.IDENTITY_FILE}", "rb") as f:
            if json.loads(f.read()).get("uuid") != mp.uuid:
                return "identity file changed"
    except (OSError, ValueError) as e:
        return f"identity unreadable: {e}"
    dirs = [f"{root}/{layout.CHUNKS}", f"{root}/{layout.MANIFESTS}", f"{root}/{layout.TMP}"]
    if failed_path and _under(failed_path, root):
        parent = os.path.dirname(failed_path)
        if parent != root and parent not in dirs:
            dirs.append(parent)
    for d in dirs:
        try:
            os.listdir(d)
        except FileNotFoundError:
            if d == os.path.dirname(failed_path or ""):
                continue  # a fan-out directory we never made: not a fault
            return f"{d}: missing"
        except OSError as e:
            return f"{d}: {e.strerror or e}"
    tmp = layout.tmp_path(root, "probe")
    data = os.urandom(512)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        with open(tmp, "rb") as f:
            if f.read() != data:
                return "probe file read back different bytes"
    except OSError as e:
        if e.errno not in _NOT_FAULTS:
            return f"probe write: {e.strerror or e}"
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    return None


def disable(mp: Mountpath, reason: str, on_fault: Callable[[Mountpath], None] | None) -> None:
    with _lock:
        if not mp.enabled:
            return
        mp.enabled = False
        mp.detaching = False
        mp.reason = reason
    log.error("mountpath %s failed (%s): disabled; its data is served from mirror copies",
              mp.root, reason)
    if on_fault is not None:
        try:
            on_fault(mp)
        except Exception:
            log.exception("mountpath %s: fault hook failed", mp.root)


def check_mountpath(mp: Mountpath, on_fault: Callable[[Mountpath], None] | None) -> bool:
    """Count the error being handled (if it concerns ``mp``), probe ``mp``, disable it if it
    fails. True if ``mp`` is still usable."""
    exc = sys.exc_info()[1]
    failed_path: str | None = None
    hard = False
    if isinstance(exc, OSError) and (exc.filename is None or _under(exc.filename, mp.root)):
        if exc.filename is not None:
            failed_path = os.fsdecode(exc.filename)
        hard = exc.errno in HARD_ERRNOS
        with _lock:
            mp.io_errors += 1
    if not mp.enabled:
        return False
    why = probe(mp, failed_path)
    if why is None and hard and mp.io_errors >= HARD_ERROR_LIMIT:
        why = f"{mp.io_errors} I/O errors, last: {exc}"
    if why is not None:
        disable(mp, why, on_fault)
        return False
    return True
