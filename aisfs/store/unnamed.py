"""Small records (a manifest, an upload's or a part's record) written as unnamed files
(O_TMPFILE) and linked to their name under the writer's lock: one journal commit for the
file and its entry instead of two (publish.py, multipart.py); named temp files where the
file system (or a missing /proc) does not allow them."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from collections.abc import Iterable
from typing import Protocol

from . import layout
from .files import write_all

log = logging.getLogger(__name__)

_O_TMPFILE = getattr(os, "O_TMPFILE", 0)
_unnamed_ok = bool(_O_TMPFILE)
_proc: list[int] = []


def proc_fd() -> int:
    """/proc, kept open: an unnamed file is linked through ``/proc/self/fd``."""
    if not _proc:
        _proc.append(os.open("/proc", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
    return _proc[0]


def unnamed(root: str, data: bytes) -> int:
    """An unnamed file in ``root``'s temp directory holding ``data`` (not fsynced); -1
    where the file system (or a missing /proc) does not allow one."""
    global _unnamed_ok
    if not _unnamed_ok:
        return -1
    try:
        proc_fd()
        fd = os.open(f"{root}/{layout.TMP}", os.O_WRONLY | _O_TMPFILE | os.O_CLOEXEC, 0o600)
    except OSError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            _unnamed_ok = False  # not here: named temp files, as everywhere before
            log.info("no O_TMPFILE records (%s): named temp files", e)
            return -1
        raise
    try:
        write_all(fd, data)
    except BaseException:
        os.close(fd)
        raise
    return fd


def link(fd: int, path: str) -> None:
    """The unnamed file ``fd`` given the name ``path`` (FileExistsError: taken)."""
    os.link(f"self/fd/{fd}", path, src_dir_fd=proc_fd(), follow_symlinks=True)


def link_or_stage(fd: int, final: str, root: str, kind: str, fsync: bool) -> str:
    """``fd`` linked to ``final``: "". Where a file of that name came meanwhile (a racing
    write of the same name), the file fsynced (if asked) and linked to a new temp name
    in ``root``, which is returned: the caller renames it over ``final``, as it would a
    named temp file."""
    try:
        link(fd, final)
        return ""
    except FileExistsError:
        pass
    if fsync:
        os.fsync(fd)
    tmp = layout.tmp_path(root, kind)
    link(fd, tmp)
    return tmp


class Temp(Protocol):
    """A record on its way to its name: a named temp file (``tmp``) or an unnamed one
    (``fd``), ``linked`` once the unnamed one has its name."""

    tmp: str
    fd: int

    @property
    def linked(self) -> object: ...


def discard(staged: Iterable[Temp], keep_linked: bool = False) -> None:
    """Remove the temp files of ``staged`` still there (renamed ones are not) and close
    the unnamed ones (``keep_linked``: not those linked - their fsync closes them)."""
    for st in staged:
        if st.tmp:
            with contextlib.suppress(OSError):
                os.unlink(st.tmp)
            st.tmp = ""
        if st.fd >= 0 and not (keep_linked and st.linked):
            fd, st.fd = st.fd, -1
            with contextlib.suppress(OSError):
                os.close(fd)
