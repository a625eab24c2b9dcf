"""Chunk files: write (temp, fsync, link), dedup with a byte compare, read and verify.

Blocking code: every method runs in a worker thread.

A chunk id is the xxh3-128 hex of its bytes. On a dedup hit the existing file is read and
compared with the new bytes; if they differ (a collision, crafted or not, or a corrupt
copy that cannot be told apart from one) the next variant id ``<hash>-1``, ``-2``... is
tried. An id is therefore bound to one content forever, and a read verifies the content
hashes to the id's base hash before serving it.

Pins: a writer pins every id it produces or dedups onto, before it looks at the disk,
until its commit is done or failed. Removal of a chunk file happens only under the pin
lock, after checking the id is neither pinned nor referenced by the index.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import xxhash

from . import layout
from .files import fdatasync_file, fsync_dir, read_file, write_tmp
from .mountpath import Mountpath
from .mountpaths import MountpathSet
from .space import FullMarks, insufficient_storage, is_full_error
from .spool import Spooled

log = logging.getLogger(__name__)

MAX_VARIANTS = 64


class StoreCorruption(Exception):
    """No good copy of a chunk could be read: the data is lost or damaged on every disk."""

    def __init__(self, chunk_id: str, message: str = "") -> None:
        super().__init__(f"chunk {chunk_id}: {message or 'no good copy'}")
        self.chunk_id = chunk_id


def chunk_hash(data: bytes | bytearray | memoryview) -> str:
    return xxhash.xxh3_128_hexdigest(data)


Data = bytes | bytearray | Spooled  # a chunk's bytes, or a temp file holding them


def _holds(path: str, data: Data) -> bool:
    """Whether the file ``path`` holds exactly ``data`` (OSError: it cannot be read)."""
    if isinstance(data, Spooled):
        return data.same_as(path)
    return read_file(path) == data


GOOD, MISSING, UNREADABLE, CORRUPT = "good", "missing", "unreadable", "corrupt"


@dataclass(frozen=True, slots=True)
class CopyRead:
    """One copy of a chunk as read: ``state`` and, when GOOD, its verified bytes."""

    state: str
    data: bytes | None = None


class ChunkStore:
    def __init__(self, mountpaths: MountpathSet, fsync: bool) -> None:
        self.mps = mountpaths
        self.fsync = fsync
        self.pin_lock = threading.Lock()
        self._pins: dict[str, int] = {}
        self._stripes = [threading.Lock() for _ in range(64)]
        self.full = FullMarks()  # mountpaths that answered ENOSPC lately (space.py)
        # ids stored with sync=False whose writer has not fdatasynced them yet: a writer
        # that dedups onto one must make it durable itself (``_place``)
        self._unsynced: set[str] = set()
        # how a direct=True copy (a remote object's) is written: aisfs/backend/direct_io.py
        self.direct_writer: Callable[[str, bytes | bytearray, bool], None] = write_tmp
        # a direct=True chunk joined from pieces goes into one of these (None: bytes)
        self.direct_buffer: Callable[[int], bytearray] | None = None
        self._spool_turn = 0  # the mountpath a spool's next temp file goes to (rotating)
        # a node's read worker (Store.open_read_only): a bad copy is served around, never
        # rewritten here - the primary's scrub repairs it
        self.read_only = False

    # -- pins -------------------------------------------------------------------------

    def pin(self, cid: str) -> None:
        with self.pin_lock:
            self._pins[cid] = self._pins.get(cid, 0) + 1

    def unpin(self, ids: Iterable[str]) -> None:
        with self.pin_lock:
            for cid in ids:
                n = self._pins.get(cid, 0) - 1
                if n > 0:
                    self._pins[cid] = n
                else:
                    self._pins.pop(cid, None)

    def is_pinned(self, cid: str) -> bool:
        return cid in self._pins

    def held_elsewhere(self, ids: Iterable[str]) -> set[str]:
        """Of ``ids`` (each pinned once by the caller), those someone else pins too (a
        writer in flight)."""
        with self.pin_lock:
            return {cid for cid in ids if self._pins.get(cid, 0) > 1}

    # -- stripes ----------------------------------------------------------------------

    def stripe(self, cid: str) -> threading.Lock:
        """The lock a writer holds while it places ``cid`` (and a repair while it fixes it)."""
        return self._stripes[int(cid[:2], 16) % len(self._stripes)]

    def stripe_barrier(self) -> None:
        """Wait until every chunk placement that started before now has finished."""
        for lock in self._stripes:
            with lock:
                pass

    # -- write ------------------------------------------------------------------------

    def store(
        self,
        data: Data,
        copies: int,
        pinned: list[str],
        dirs: set[str],
        h: str | None = None,
        sync: bool = True,
        direct: bool = False,
    ) -> str:
        """Make ``data`` durable (once fsynced dirs in ``dirs`` are) and return its id.

        Every id looked at is appended to ``pinned`` (the caller unpins them). ``sync``
        False: the file is not fsynced here - the caller fdatasyncs every copy of the id
        before it publishes anything that refers to it (writer.py, a remote object's
        write). ``direct``: written by ``direct_writer`` (a remote object's copy: O_DIRECT,
        aisfs/backend/direct_io.py), else through the page cache.
        """
        if isinstance(data, Spooled):
            assert sync, "a spooled chunk is fsynced as it is placed"
            h = data.h
        elif not h:
            h = chunk_hash(data)
        stripe = self.stripe(h)
        for variant in range(MAX_VARIANTS):
            cid = h if variant == 0 else f"{h}-{variant}"
            self.pin(cid)
            pinned.append(cid)
            with stripe:
                if self._place(cid, data, copies, dirs, sync, direct):
                    if not sync and self.fsync:
                        self._unsynced.add(cid)
                    return cid
            log.warning("chunk id %s holds other bytes: trying the next variant", cid)
        raise OSError(errno.EEXIST, f"too many colliding variants of chunk {h}")

    def _place(
        self, cid: str, data: Data, copies: int, dirs: set[str], sync: bool = True,
        direct: bool = False,
    ) -> bool:
        """Put ``cid`` on ``copies`` mountpaths; False if the id means other bytes.

        The copies go to the first mountpaths of the id's HRW order that have room: one
        that answers ENOSPC/EDQUOT (or was marked full lately) is passed over for the next
        (reads try every mountpath, so a copy off its first place is still found). With
        fewer than ``copies`` mountpaths with room: 507 InsufficientStorage.
        """
        live = self.mps.live()
        if not live:
            raise OSError(errno.ENOSPC, "no usable mountpath")
        have, differs = self._copies_of(cid, data, live, dirs)
        if differs and not have:
            return False
        self._add_copies(cid, data, copies, have, dirs, replace=differs, sync=sync,
                         direct=direct)
        return True

    def _copies_of(
        self, cid: str, data: Data, live: list[Mountpath], dirs: set[str]
    ) -> tuple[set[Mountpath], bool]:
        """The mountpaths that hold ``cid`` with these bytes already (each made durable:
        its directory into ``dirs``), and whether one holds other (or unreadable) bytes."""
        have: set[Mountpath] = set()
        differs = False
        for mp in live:
            path = layout.chunk_path(mp.root, cid)
            try:
                same = _holds(path, data)
            except FileNotFoundError:
                continue
            except OSError:
                differs = True  # unreadable: we cannot tell what it held
                continue
            if same:
                have.add(mp)
                if cid in self._unsynced:  # a sync=False writer's, not yet durable
                    fdatasync_file(path)
                # its first writer may not have fsynced the directory entry yet: our
                # commit must not depend on that, so we fsync it too (cheap if clean)
                dirs.add(os.path.dirname(path))
            else:
                differs = True
        return have, differs

    def _add_copies(
        self, cid: str, data: Data, copies: int, have: set[Mountpath],
        dirs: set[str], *, replace: bool, sync: bool, direct: bool = False,
    ) -> None:
        """Copies of ``cid`` written along its HRW order, past the full and failing
        mountpaths, until ``copies`` (counting ``have``) are placed."""
        order = self.mps.order(cid)
        want = min(max(copies, 1), len(order))
        placed = 0
        full = failed = 0
        for mp in order:
            if placed >= want:
                break
            if mp in have:
                placed += 1
                continue
            if self.full.is_full(mp):
                full += 1
                continue
            try:
                self.write_copy(mp, cid, data, dirs, replace=replace, sync=sync,
                                direct=direct)
            except OSError as e:
                if is_full_error(e):
                    self.full.mark(mp, e)
                    full += 1
                    continue
                if self.mps.check(mp):
                    raise
                failed += 1
                log.warning("chunk %s: mountpath %s failed (%s), trying the next", cid,
                            mp.root, e)
                continue
            placed += 1
        if placed < want:
            if full:
                raise insufficient_storage()
            if not placed:
                raise OSError(errno.EIO, f"could not place chunk {cid}")
            # mountpaths failed under us (disabled now): as many copies as are left
            log.warning("chunk %s: %d of %d copies (%d mountpaths failed)", cid, placed,
                        want, failed)

    def write_copy(
        self, mp: Mountpath, cid: str, data: Data, dirs: set[str], replace: bool,
        sync: bool = True, direct: bool = False,
    ) -> None:
        final = layout.chunk_path(mp.root, cid)
        tmp = layout.tmp_path(mp.root, "chunk")
        if isinstance(data, Spooled):
            data.copy_to(tmp, self.fsync)
        else:
            (self.direct_writer if direct else write_tmp)(tmp, data, self.fsync and sync)
        try:
            if replace:
                # another copy holds exactly these bytes; this one is damaged: repair it
                os.replace(tmp, final)
            else:
                try:
                    os.link(tmp, final)
                except FileExistsError:
                    if not _holds(final, data):
                        os.replace(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        dirs.add(os.path.dirname(final))

    def spool_mountpath(self, avoid: set[str]) -> Mountpath:
        """Where a spool's next temp file goes (spool.py): the live mountpaths with room
        in turn, but those in ``avoid`` (uuids); none left: 507."""
        live = [mp for mp in self.mps.live()
                if mp.uuid not in avoid and not self.full.is_full(mp)]
        if not live:
            raise insufficient_storage()
        self._spool_turn += 1
        return live[self._spool_turn % len(live)]

    def spool_failed(self, mp: Mountpath, exc: OSError) -> None:
        """A spool's temp file on ``mp`` could not be written: full (marked) or failed
        (disabled by the health check) - the spool moves on; else ``exc`` is raised."""
        if is_full_error(exc):
            self.full.mark(mp, exc)
            return
        if self.mps.check(mp):
            raise exc
        log.warning("chunk spool: mountpath %s failed (%s), moving on", mp.root, exc)

    def sync_dirs(self, dirs: set[str]) -> None:
        if self.fsync:
            for d in sorted(dirs):
                with contextlib.suppress(FileNotFoundError):
                    fsync_dir(d)

    def sync_copies(self, ids: Iterable[str]) -> None:
        """fdatasync every copy of ``ids`` (stored with ``sync=False``): as durable as
        ``store``'s own once their directories are fsynced (``sync_dirs``)."""
        if not self.fsync:
            return
        for cid in dict.fromkeys(ids):
            for mp in self.mps.live():
                path = layout.chunk_path(mp.root, cid)
                try:
                    fdatasync_file(path)
                except FileNotFoundError:
                    continue
                except OSError:
                    if self.mps.check(mp):
                        raise
            self._unsynced.discard(cid)

    # -- read -------------------------------------------------------------------------

    def read_copy(self, mp: Mountpath, cid: str, size: int, who: str = "") -> CopyRead:
        """Read ``cid``'s copy on ``mp`` and verify it (length, xxh3-128 of the id's base
        hash). An unreadable copy is logged and goes through the health check; a corrupt
        one is logged (``who``: the job reading, for the log)."""
        path = layout.chunk_path(mp.root, cid)
        try:
            data = read_file(path)
        except FileNotFoundError:
            return CopyRead(MISSING)
        except OSError as e:
            log.error("%schunk %s unreadable on %s: %s", who, cid, mp.root, e)
            self.mps.check(mp)
            return CopyRead(UNREADABLE)
        if len(data) == size and chunk_hash(data) == layout.chunk_base(cid):
            return CopyRead(GOOD, data)
        log.error("%schunk %s is corrupt on %s", who, cid, mp.root)
        return CopyRead(CORRUPT)

    def read(self, cid: str, size: int) -> bytes:
        """The verified bytes of ``cid``: its placement order first, then every mountpath."""
        bad: list[Mountpath] = []
        for mp in self.mps.order(cid):
            copy = self.read_copy(mp, cid, size)
            if copy.data is not None:
                for b in bad:
                    self._repair(b, cid, copy.data)
                return copy.data
            if copy.state == CORRUPT:
                bad.append(mp)
        raise StoreCorruption(cid, "no good copy on any mountpath")

    def _repair(self, mp: Mountpath, cid: str, data: bytes) -> None:
        if self.read_only:
            log.warning("chunk %s is bad on %s: left for the primary's scrub", cid, mp.root)
            return
        try:
            with self.stripe(cid):
                self.write_copy(mp, cid, data, set(), replace=True)
            log.warning("chunk %s repaired on %s", cid, mp.root)
        except OSError as e:
            log.error("chunk %s could not be repaired on %s: %s", cid, mp.root, e)

    # -- remove -----------------------------------------------------------------------

    def remove_unreferenced(
        self, ids: Iterable[str], referenced: Callable[[list[str]], set[str]]
    ) -> int:
        """Remove the files of ``ids`` that are neither pinned nor referenced; count them."""
        removed = 0
        batch = list(dict.fromkeys(ids))
        for i in range(0, len(batch), 500):
            part = batch[i : i + 500]
            with self.pin_lock:
                candidates = [cid for cid in part if cid not in self._pins]
                if not candidates:
                    continue
                live = referenced(candidates)
                for cid in candidates:
                    if cid in live:
                        continue
                    gone = False
                    for mp in self.mps.live():
                        try:
                            os.unlink(layout.chunk_path(mp.root, cid))
                            gone = True
                        except FileNotFoundError:
                            pass
                        except OSError as e:
                            log.warning("cannot remove chunk %s on %s: %s", cid, mp.root, e)
                    removed += gone
                    self._unsynced.discard(cid)
        return removed
