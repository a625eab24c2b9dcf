"""One mountpath: its record (state, capacity weight, errors), identity file and directories."""

from __future__ import annotations

import json
import logging
import os
import time
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path

from . import layout
from .files import fsync_dir, replace_durably
from .placement import quantize_weight

log = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class Mountpath:
    path: Path
    uuid: str
    weight: float = 1.0
    enabled: bool = True
    # set while its data moves away (``detach``): readable, last in every placement order
    detaching: bool = False
    io_errors: int = 0
    # why it is disabled: "admin" (an operator), else the failure that disabled it
    reason: str = ""

    @property
    def root(self) -> str:
        return str(self.path)

    @property
    def state(self) -> str:
        if self.detaching:
            return "detaching"
        if self.enabled:
            return "enabled"
        return "disabled" if self.reason in ("", "admin") else "faulted"

    def capacity(self) -> dict[str, int]:
        st = os.statvfs(self.root)
        total = st.f_blocks * st.f_frsize
        free = st.f_bavail * st.f_frsize
        return {"total": total, "free": free, "used": total - (st.f_bfree * st.f_frsize)}


def _private(path: str) -> None:
    """Tighten a directory to 0700 (best effort: one we may not chmod stays usable)."""
    try:
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o700)
    except OSError as e:
        log.warning("cannot make %s private: %s", path, e)


def _prepare_dirs(root: str, fsync: bool) -> None:
    # 0700 whatever the umask (docs/store.md, "File modes"); a top directory made
    # before that rule is tightened here, which hides everything below it
    for sub in (layout.CHUNKS, layout.MANIFESTS):
        base = f"{root}/{sub}"
        os.makedirs(base, 0o700, exist_ok=True)
        _private(base)
        for fan in layout.FANOUT:
            d = f"{base}/{fan}"
            if not os.path.isdir(d):
                os.mkdir(d, 0o700)
        if fsync:
            fsync_dir(base)
    for sub in (layout.BUCKETS, layout.UPLOADS, layout.TMP):
        os.makedirs(f"{root}/{sub}", 0o700, exist_ok=True)
        _private(f"{root}/{sub}")
    if fsync:
        fsync_dir(root)


def open_mountpath(path: Path, known_uuid: str | None, fsync: bool) -> Mountpath | None:
    """Use ``path`` as a mountpath, or log why not and return None.

    A missing directory is never created; a directory that once had an identity (the index
    remembers it) but lost it is not re-initialised silently.
    """
    root = str(path)
    if not os.path.isdir(root):
        log.warning("mountpath %s is missing: skipped", root)
        return None
    ident = f"{root}/{layout.IDENTITY_FILE}"
    try:
        with open(ident, "rb") as f:
            data = json.loads(f.read())
        mp_uuid = str(data["uuid"])
    except FileNotFoundError:
        if known_uuid is not None:
            log.warning(
                "mountpath %s lost its identity file (was %s): skipped", root, known_uuid
            )
            return None
        mp_uuid = uuidlib.uuid4().hex
        try:
            record = {"uuid": mp_uuid, "created_ns": time.time_ns()}
            replace_durably(f"{ident}.tmp", ident, json.dumps(record).encode(), fsync)
        except OSError as e:
            log.warning("mountpath %s is not writable (%s): skipped", root, e)
            return None
    except (OSError, ValueError, KeyError) as e:
        log.warning("mountpath %s has an unreadable identity (%s): skipped", root, e)
        return None
    if known_uuid is not None and known_uuid != mp_uuid:
        log.warning("mountpath %s changed identity %s -> %s", root, known_uuid, mp_uuid)
    try:
        _prepare_dirs(root, fsync)
        mp = Mountpath(path=path, uuid=mp_uuid)
        mp.weight = quantize_weight(mp.capacity()["free"])
    except OSError as e:
        log.warning("mountpath %s is unusable (%s): skipped", root, e)
        return None
    return mp
