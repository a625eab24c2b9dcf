"""Durable file operations (blocking; called from worker threads).

Every file the store creates is ``FILE_MODE`` (0600) and every directory ``DIR_MODE``
(0700), whatever the process umask: object data is the node's alone (docs/store.md,
"File modes"). A umask can only take bits away from these.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from .layout import SHELF_WAL

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700


def _sync_path(path: str, flags: int, sync: Callable[[int], None]) -> None:
    fd = os.open(path, os.O_RDONLY | flags)
    try:
        sync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str) -> None:
    """fsync the directory ``path``; or a shelf's WAL, which a change lists among the
    directories it makes durable (shelf.py): as a file, nothing to do if it is gone
    (checkpointed and synced)."""
    if path.endswith(SHELF_WAL):
        with contextlib.suppress(FileNotFoundError):
            _sync_path(path, 0, os.fsync)
        return
    _sync_path(path, os.O_DIRECTORY, os.fsync)


def fsync_file(path: str) -> None:
    _sync_path(path, 0, os.fsync)


def fdatasync_file(path: str) -> None:
    _sync_path(path, 0, os.fdatasync)


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def write_tmp(
    tmp: str, data: bytes | bytearray | memoryview, fsync: bool, *, flags: int = 0,
    write: Callable[[int, bytes | bytearray | memoryview], None] = write_all,
) -> None:
    """A new file ``tmp`` holding ``data`` (fsync'd if asked), or no file: opened with
    ``flags`` besides create-exclusive, written by ``write`` (O_DIRECT's aligned writer)."""
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | flags, FILE_MODE)
    try:
        write(fd, data)
        if fsync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)


def replace_durably(tmp: str, final: str, data: bytes, fsync: bool) -> None:
    """Write ``data`` to ``tmp``, fsync, rename over ``final``, fsync the directory."""
    write_tmp(tmp, data, fsync)
    try:
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if fsync:
        fsync_dir(os.path.dirname(final))


def unlink_durably(path: str, fsync: bool) -> bool:
    """Remove ``path`` if it exists; True if it did."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    if fsync:
        fsync_dir(os.path.dirname(path))
    return True


def read_file(path: str) -> bytes:
    with open(path, "rb", buffering=0) as f:
        return f.read()


def read_json(path: str) -> dict[str, Any] | None:
    """A JSON record (bucket, upload, part, manifest); None, logged, if it cannot be read."""
    try:
        data = json.loads(read_file(path))
    except (OSError, ValueError) as e:
        log.warning("unreadable record %s: %s", path, e)
        return None
    return data if isinstance(data, dict) else None
