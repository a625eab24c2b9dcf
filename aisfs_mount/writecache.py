"""The local cache where files open for writing are staged.

Each staged file is a plain file in `<cache_dir>/mount-<pid>-<rand>/`; the mount uploads
it on flush/fsync/close and drops it at the last close. Disk use is bounded: the bytes
staged at once may not pass `limit` (0 = no limit but the disk), and a full disk is
ENOSPC at once. A file whose upload failed at its last close is moved to
`<cache_dir>/lost+found/<bucket>/<key>` so that nothing written is lost.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyfuse3

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Stage:
    path: Path
    fd: int
    size: int = 0  # bytes reserved against the limit (the file's length)
    peak: int = 0  # the largest size it had


# stages that stayed this small are emptied and kept for the next file, up to POOL of
# them: creating and unlinking a file in the cache directory was ~45 us of a small
# file's ~2 ms through the mount. A big stage (the only kind write-behind reads from in
# the background) is always removed.
POOL = 8
POOL_MAX = 1 << 20


class WriteCache:
    def __init__(self, root: Path, limit: int = 0) -> None:
        self.root = root
        self.limit = limit
        self.used = 0
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.lost = root / "lost+found"
        self._adopt_orphans()
        self.dir = root / f"mount-{os.getpid()}-{secrets.token_hex(4)}"
        self.dir.mkdir(mode=0o700)
        self._n = 0
        self._pool: list[tuple[Path, int]] = []  # emptied stages, ready for reuse

    def _adopt_orphans(self) -> None:
        """Stages left by a mount process that was killed go to lost+found, never away."""
        for d in self.root.glob("mount-*-*"):
            try:
                pid = int(d.name.split("-")[1])
                os.kill(pid, 0)
                continue  # its mount is alive
            except ProcessLookupError:
                pass
            except (ValueError, PermissionError):
                continue
            if any(f.stat().st_size > 0 for f in d.iterdir() if f.is_file()):
                self.lost.mkdir(parents=True, exist_ok=True)
                dest = self.lost / f"killed-{d.name}"
                shutil.move(str(d), dest)
                log.warning("stages of a killed mount kept in %s", dest)
            else:
                shutil.rmtree(d, ignore_errors=True)

    def create(self) -> Stage:
        if self._pool:
            path, fd = self._pool.pop()
            return Stage(path, fd)
        self._n += 1
        path = self.dir / f"{self._n}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        return Stage(path, fd)

    def resize(self, stage: Stage, new_size: int) -> None:
        """Account for the stage growing or shrinking to `new_size`; ENOSPC past the limit."""
        delta = new_size - stage.size
        if delta > 0 and self.limit and self.used + delta > self.limit:
            raise pyfuse3.FUSEError(errno.ENOSPC)
        self.used += delta
        stage.size = new_size
        stage.peak = max(stage.peak, new_size)

    def drop(self, stage: Stage) -> None:
        self.used -= stage.size
        stage.size = 0
        fd, stage.fd = stage.fd, -1
        if fd < 0:
            return  # dropped already
        if stage.peak <= POOL_MAX and len(self._pool) < POOL:
            try:
                os.ftruncate(fd, 0)
                self._pool.append((stage.path, fd))
                return
            except OSError:
                pass
        try:
            os.close(fd)
        except OSError:
            pass
        stage.path.unlink(missing_ok=True)

    def keep(self, stage: Stage, bucket: str, key: str) -> Path:
        """Move a stage whose upload failed to lost+found; return where it went."""
        safe = [p for p in key.split("/") if p not in ("", ".", "..")] or ["_"]
        dest = self.lost.joinpath(bucket or "_", *safe)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            dest = dest.with_name(f"{dest.name}.{secrets.token_hex(3)}")
        try:
            os.close(stage.fd)
        except OSError:
            pass
        shutil.move(str(stage.path), dest)
        self.used -= stage.size
        stage.size = 0
        return dest

    def close(self) -> None:
        for _, fd in self._pool:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._pool.clear()
        shutil.rmtree(self.dir, ignore_errors=True)
