"""Publication: manifests staged, renamed into place or removed, then one index commit
with the chunk refcount changes; chunks released."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import trio

from . import layout
from .changes import DELETE, PUT, ChangeLog
from .chunks import ChunkStore
from .config import StoreConfig
from .files import fsync_dir, write_tmp
from .groups import fsync_together
from .index import INSERT_OBJECT, Index, object_row
from .journal import crash_point
from .manifest import index_text, manifest_bytes
from .manifests import remove_current
from .mountpath import Mountpath
from .mountpaths import MountpathSet
from .reaper import Reaper
from .shelf import shelf_of
from .space import insufficient_storage, is_full_error
from .threads import run_sync
from .types import ObjectInfo
from .unnamed import discard, link_or_stage, unnamed

log = logging.getLogger(__name__)

# (bucket, key, version id, lock JSON or None) -> None, or raises to refuse the removal
RemovalGuard = Callable[[str, str, str, str | None], None]


def _chunks_of(manifest_json: str) -> list[str]:
    return [c[0] for c in json.loads(manifest_json).get("chunks") or []]


class Publisher:
    """Manifests and the index commit: every object change ends in ``publish``."""

    def __init__(
        self, config: StoreConfig, index: Index, mps: MountpathSet, chunks: ChunkStore,
        reaper: Reaper,
    ) -> None:
        self.config = config
        self.index = index
        self.mps = mps
        self.chunks = chunks
        self.reaper = reaper
        # object lock's veto (Store.version_removal_guard): called with (bucket, key,
        # version id, lock JSON or None) before any version is removed or replaced for
        # good; raises to refuse. None: nothing is refused.
        self.removal_guard: RemovalGuard | None = None
        # the change feed (changes.py): every current object changed, once committed
        self.changes = ChangeLog()

    def note_changes(self, new: list[ObjectInfo], touched: Iterable[tuple[str, str]]) -> None:
        """After the commit: each of ``touched`` is ``new``'s object now, or gone."""
        made = {(i.bucket, i.key): i for i in new}
        out: list[tuple[str, str, str, str, int, int]] = []
        for bucket, key in touched:
            i = made.get((bucket, key))
            if i is None:
                out.append((bucket, key, DELETE, "", 0, 0))
            else:
                out.append((bucket, key, PUT, i.etag, i.size, i.mtime_ns))
        self.changes.record(out)

    def check_removal(
        self, bucket: str, key: str, version_id: str | None, lock: str | None
    ) -> None:
        """The removal guard's say on removing (or replacing) one version for good."""
        if self.removal_guard is not None:
            self.removal_guard(bucket, key, version_id or "null", lock)

    def _guard(self, touched: list[tuple[str, str]]) -> None:
        """Every current object ``touched`` replaces or removes, past the guard."""
        if self.removal_guard is None:
            return
        for bucket, key in touched:
            row = self.index.w.execute(
                "SELECT version_id, lock FROM objects WHERE bucket = ? AND key = ?",
                (bucket, key),
            ).fetchone()
            if row is not None:
                self.check_removal(bucket, key, row[0], row[1])

    def stage_manifest(
        self, info: ObjectInfo, copies: int, lazy: bool = False
    ) -> list[Staged]:
        """Write ``info``'s manifest to temp files (fsynced) on its first mountpaths; a
        small one (``config.shelf_max``) is kept in memory for its rows (shelf.py).

        Needs no lock: nothing is visible until ``install_manifest`` renames them.

        ``lazy`` (a PUT): where no manifest of that name exists yet, the temp file is an
        unnamed one (O_TMPFILE), not fsynced: ``install_manifest`` links it to its name
        (nothing is replaced, so nothing acknowledged can be lost to a torn file) and
        ``sync_linked`` fsyncs it after the lock. That is one journal commit for file
        and entry instead of two; the directory fsync that follows finds it done.
        """
        text = index_text(info)
        data = manifest_bytes(text, info.inline)
        name = layout.manifest_name(info.bucket, info.key)
        final = f"{layout.MANIFESTS}/{name[:2]}/{name}.json"
        staged: list[Staged] = []
        marks = self.chunks.full
        order = self.mps.order(name)
        full = 0
        try:
            for mp in order:
                if len(staged) >= max(copies, 1):
                    break
                if marks.is_full(mp):
                    full += 1
                    continue
                path = f"{mp.root}/{final}"
                if len(data) <= self.config.shelf_max and info.version_id is None:
                    # a row of the shelf, written under the lock (a versioned bucket's
                    # currents stay files: keeping one as a version is a hard link)
                    staged.append(Staged(mp, "", path, text, row=data))
                    continue
                try:
                    fd = unnamed(mp.root, data) if lazy and not os.path.exists(path) else -1
                    tmp = ""
                    if fd < 0:
                        tmp = layout.tmp_path(mp.root, "manifest")
                        write_tmp(tmp, data, self.config.fsync)
                except OSError as e:
                    if is_full_error(e):  # a full disk is not a broken one: the next
                        marks.mark(mp, e)
                        full += 1
                        continue
                    if self.mps.check(mp):
                        raise
                    log.warning("manifest not written to failed %s: %s", mp.root, e)
                    continue
                staged.append(Staged(mp, tmp, path, text, fd))
            if full and len(staged) < min(max(copies, 1), len(order)):
                raise insufficient_storage(info.key)
        except BaseException:
            discard(staged)
            raise
        if not staged:
            raise OSError("no mountpath took the manifest")
        return staged

    def sync_linked(self, staged: list[Staged]) -> None:
        """fsync (and close) the unnamed manifests ``install_manifest`` linked."""
        for st in staged:
            if st.fd >= 0 and st.linked:
                fd, st.fd = st.fd, -1
                try:
                    if self.config.fsync:
                        os.fsync(fd)
                finally:
                    os.close(fd)

    def stage_many(self, infos: list[ObjectInfo], copies: int) -> list[list[Staged]]:
        """``stage_manifest`` of each; a batch writes (and fsyncs) them from several
        threads at once, so the file system commits their fsyncs together."""
        if len(infos) < 8:
            return [self.stage_manifest(info, copies) for info in infos]
        done: list[list[Staged]] = []
        error: BaseException | None = None
        with ThreadPoolExecutor(STAGE_THREADS, thread_name_prefix="aisfs-stage") as pool:
            for fut in [pool.submit(self.stage_manifest, i, copies) for i in infos]:
                try:
                    done.append(fut.result())
                except BaseException as e:
                    error = error or e
        if error is not None:
            for st in done:
                discard(st)
            raise error
        return done

    def install_manifest(
        self, info: ObjectInfo, staged: list[Staged], dirs: set[str]
    ) -> None:
        """Rename staged manifests into place, or write their rows (caller holds
        ``index.wlock``); the directories (and shelves' WALs) to fsync go to ``dirs``.
        Copies of the name elsewhere - its other home on the same mountpath, other
        mountpaths - are removed once the new manifest is durable."""
        name = layout.manifest_name(info.bucket, info.key)
        written: list[Staged] = []
        try:
            for st in staged:
                try:
                    if st.row is not None:
                        self._put_row(st, info, name, staged)
                    elif st.fd >= 0:
                        self._link_unnamed(st)
                    else:
                        os.replace(st.tmp, st.final)
                except OSError as e:
                    if is_full_error(e):  # no block for a new directory entry
                        self.chunks.full.mark(st.mp, e)
                        raise insufficient_storage(info.key) from None
                    if self.mps.check(st.mp):
                        raise
                    log.warning("manifest not written to failed %s: %s", st.mp.root, e)
                    continue
                st.tmp = ""
                written.append(st)
                dirs.add(shelf_of(st.mp.root).wal if st.row is not None
                         else os.path.dirname(st.final))
        finally:
            discard(staged, keep_linked=True)
        if not written:
            raise OSError("no mountpath took the manifest")
        for st in written:
            self._leave_other_home(st, name, staged, dirs)
        homes = {st.mp for st in written}
        for mp in self.mps.live():
            if mp in homes:
                continue
            path = layout.manifest_path(mp.root, info.bucket, info.key)
            shelf = shelf_of(mp.root)
            if not os.path.lexists(path) and not shelf.has(name):
                continue
            # an older copy elsewhere (placed before the mountpaths changed) goes only
            # once the new manifest is durable (rare)
            self._make_durable(staged)
            with contextlib.suppress(OSError):
                remove_current(mp.root, info.bucket, info.key, self.config.fsync)

    def _put_row(self, st: Staged, info: ObjectInfo, name: str, staged: list[Staged]) -> None:
        """Write ``st``'s row; where its mountpath's disk is full, on the next mountpath
        of the name's order with room that holds no other copy (as a full disk is passed
        over when a manifest file is staged). InsufficientStorage when none is left."""
        order = [st.mp, *(mp for mp in self.mps.order(name)
                          if mp is not st.mp and all(mp is not o.mp for o in staged))]
        error = insufficient_storage(info.key)
        for mp in order:
            if mp is not st.mp and self.chunks.full.is_full(mp):
                continue
            try:
                shelf_of(mp.root).put(name, st.row or b"")
            except OSError as e:
                if not is_full_error(e):
                    raise
                self.chunks.full.mark(mp, e)
                continue
            if mp is not st.mp:
                st.mp = mp
                st.final = layout.manifest_path(mp.root, info.bucket, info.key)
            return
        raise error

    def _leave_other_home(
        self, st: Staged, name: str, staged: list[Staged], dirs: set[str]
    ) -> None:
        """The name's copy in its other home on ``st``'s mountpath (a file where a row was
        written, a row where a file was) removed - after the new one is durable: a crash
        between leaves both, and the newer generation wins (manifests.py)."""
        shelf = shelf_of(st.mp.root)
        if st.row is not None:
            if not os.path.lexists(st.final):
                return
            self._make_durable(staged)
            with contextlib.suppress(OSError):
                if self.reaper.take(st.mp.root, st.final):
                    dirs.add(os.path.dirname(st.final))
        elif shelf.has(name):
            self._make_durable(staged)
            with contextlib.suppress(OSError):
                if shelf.delete(name):
                    dirs.add(shelf.wal)

    def _make_durable(self, staged: list[Staged]) -> None:
        """The installed manifests of ``staged`` durable now (a copy elsewhere is about to
        go): linked files fsynced, renamed ones' directories, rows' WALs."""
        self.sync_linked(staged)
        if not self.config.fsync:
            return
        for st in staged:
            if st.row is not None:
                shelf_of(st.mp.root).sync()
            else:
                with contextlib.suppress(OSError):
                    fsync_dir(os.path.dirname(st.final))

    def _link_unnamed(self, st: Staged) -> None:
        """Give an unnamed manifest its name; if one appeared meanwhile (a PUT of the same
        key racing this one), replace it as a named temp file would: fsync, then rename."""
        tmp = link_or_stage(st.fd, st.final, st.mp.root, "manifest", self.config.fsync)
        if not tmp:
            st.linked = True
            return
        try:
            os.replace(tmp, st.final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def sync_dirs(self, dirs: Iterable[str]) -> None:
        """fsync the directories together (``groups.fsync_together``): a batch touches up
        to 256 manifest directories per mountpath, the file system commits them at once."""
        if self.config.fsync:
            fsync_together(dirs=sorted(dirs))

    def remove_manifest(self, bucket: str, key: str, dirs: set[str] | None = None) -> None:
        """Remove the object's manifests (files and rows); with ``dirs`` their directories
        (and shelves' WALs) are left there for the caller to fsync (once for a whole
        batch), else each is fsynced here.

        A manifest is renamed into its mountpath's temp directory, not unlinked: once the
        manifest directory is fsynced the name is durably gone, and the reaper unlinks the
        file off the request path (reaper.py)."""
        name = layout.manifest_name(bucket, key)
        for mp in self.mps.live():
            shelf = shelf_of(mp.root)
            try:
                if shelf.delete(name):
                    if dirs is not None:
                        dirs.add(shelf.wal)
                    elif self.config.fsync:
                        shelf.sync()
            except OSError:
                if self.mps.check(mp):
                    raise
                continue
            path = layout.manifest_path(mp.root, bucket, key)
            try:
                if not self.reaper.take(mp.root, path):
                    continue
            except OSError:
                if self.mps.check(mp):
                    raise
                continue
            if dirs is None:
                if self.config.fsync:
                    fsync_dir(os.path.dirname(path))
            else:
                dirs.add(os.path.dirname(path))

    def publish(
        self,
        new: list[ObjectInfo],
        removed: list[tuple[str, str]],
        copies: int,
        before_tx: Callable[[], None] | None = None,
        in_tx: Callable[[], Counter[str]] | None = None,
        staged: list[Staged] | None = None,
        staged_dirs: set[str] | None = None,
        began: bool = False,
        known: dict[tuple[str, str], str | None] | None = None,
        removed_dirs: set[str] | None = None,
        prepare: Callable[[set[str]], None] | None = None,
        guarded: bool = False,
    ) -> list[str]:
        """Write manifests, remove others, commit the index; ids whose refcount hit 0.

        The caller holds ``index.wlock`` and has checked what must be checked. With
        ``staged`` (the manifest of the one object in ``new``, already in temp files) the
        manifest is renamed into place and its directories are left in ``staged_dirs`` for
        the caller to fsync (after the lock, before it acknowledges). ``began``: the
        caller has opened the index transaction already. ``known``: the manifest column
        (None: no row) of keys the caller read under the same lock, not read again.
        ``removed_dirs`` (a delete, ``new`` empty): the directories of the removed
        manifests are left there for the caller to fsync after the lock, before it
        acknowledges, as a PUT's ``staged_dirs`` (concurrent deletes overlap their fsyncs).
        ``prepare(dirs)`` (a versioned overwrite: the current kept as a version, versions.py)
        runs inside the journal's record, before any manifest is installed; the
        directories it changed go to ``dirs``, fsynced with the new manifests'.
        ``guarded``: the caller put every removal past ``removal_guard`` (or removes
        none); else each current object replaced or removed goes past it here.
        """
        # a batch (a prefix rename of thousands) fsyncs each manifest directory once, not
        # once per object: every new manifest is durable before any old one is removed,
        # and every removal is durable before the index commits
        touched = list(dict.fromkeys([*removed, *((i.bucket, i.key) for i in new)]))
        if not guarded:
            self._guard(touched)
        crash_point("staged")
        with self.index.journal.intent(objects=touched):
            crash_point("journaled")
            return self._publish(
                new, removed, copies, touched, before_tx, in_tx, staged, staged_dirs, began,
                known, removed_dirs, prepare,
            )

    # long: the publish path in crash order - install manifests, fsync their directories,
    # crash point, the index transaction, crash point; read top to bottom it is the
    # durability argument (docs/store.md)
    def _publish(
        self,
        new: list[ObjectInfo],
        removed: list[tuple[str, str]],
        copies: int,
        touched: list[tuple[str, str]],
        before_tx: Callable[[], None] | None,
        in_tx: Callable[[], Counter[str]] | None,
        staged: list[Staged] | None,
        staged_dirs: set[str] | None,
        began: bool,
        known: dict[tuple[str, str], str | None] | None,
        removed_dirs: set[str] | None = None,
        prepare: Callable[[set[str]], None] | None = None,
    ) -> list[str]:
        dirs: set[str] = set()
        if prepare is not None:
            prepare(staged_dirs if staged_dirs is not None else dirs)
        if staged is not None and staged_dirs is not None:
            for info in new:
                self.install_manifest(info, staged, staged_dirs)
        else:
            for group in _groups(new, STAGE_GROUP):
                for info, st in zip(group, self.stage_many(group, copies), strict=True):
                    self.install_manifest(info, st, dirs)
        self.sync_dirs(dirs)
        dirs.clear()
        new_names = {(i.bucket, i.key) for i in new}
        for bucket, key in removed:
            if (bucket, key) not in new_names:
                self.remove_manifest(bucket, key, dirs if removed_dirs is None else removed_dirs)
        self.sync_dirs(dirs)
        crash_point("installed")
        if before_tx is not None:
            before_tx()
            crash_point("prepared")
        w = self.index.w
        if not began:
            self.index.begin()
        try:
            delta: Counter[str] = Counter()
            sizes: dict[str, int] = {}
            for bucket, key in touched:
                if known is not None and (bucket, key) in known:
                    text = known[(bucket, key)]
                else:
                    row = w.execute(
                        "SELECT manifest FROM objects WHERE bucket = ? AND key = ?",
                        (bucket, key),
                    ).fetchone()
                    text = row[0] if row is not None else None
                if text is not None:
                    delta.subtract(_chunks_of(text))
                    w.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
            for info in new:
                for c in info.chunks:
                    delta[c.id] += 1
                    sizes[c.id] = c.size
                w.execute(INSERT_OBJECT, object_row(
                    info,
                    staged[0].text if staged and len(new) == 1 else index_text(info),
                ))
            if new:
                self.index.note_generation(max(i.generation for i in new))
            if in_tx is not None:
                delta.update(in_tx())
            dropped = self.index.apply_refs(nonzero(delta), sizes)
            self.index.commit()
        except BaseException:
            self.index.rollback()
            raise
        crash_point("committed")
        self.note_changes(new, touched)
        return dropped

    def publish_puts(self, entries: list[PutEntry], dirs: set[str]) -> list[str]:
        """Small PUTs of distinct keys (put_group.py) published together: one journal
        record naming every key, each one's ``prepare`` and manifest installed, one index
        transaction (opened by the caller, who holds ``index.wlock`` and checked each);
        the directories to fsync go to ``dirs``. The ids whose refcount hit 0."""
        touched = [(e.info.bucket, e.info.key) for e in entries]
        crash_point("staged")
        with self.index.journal.intent(objects=touched):
            crash_point("journaled")
            for e in entries:
                if e.prepare is not None:
                    e.prepare(dirs)
                self.install_manifest(e.info, e.staged, dirs)
            crash_point("installed")
            w = self.index.w
            try:
                delta: Counter[str] = Counter()
                for e in entries:
                    if e.old is not None:
                        delta.subtract(_chunks_of(e.old))
                        w.execute("DELETE FROM objects WHERE bucket = ? AND key = ?",
                                  (e.info.bucket, e.info.key))
                    w.execute(INSERT_OBJECT, object_row(e.info, e.staged[0].text))
                    if e.in_tx is not None:
                        delta.update(e.in_tx())
                self.index.note_generation(max(e.info.generation for e in entries))
                dropped = self.index.apply_refs(nonzero(delta), {})
                self.index.commit()
            except BaseException:
                self.index.rollback()
                raise
        crash_point("committed")
        self.note_changes([e.info for e in entries], touched)
        return dropped

    def drop_chunks(self, ids: Iterable[str]) -> int:
        ids = list(ids)
        if not ids:
            return 0
        return self.chunks.remove_unreferenced(ids, self.index.referenced)

    async def release(self, pinned: list[str], drop: list[str]) -> None:
        self.chunks.unpin(pinned)  # a dict update under a lock: fine on the loop
        if drop:
            with trio.CancelScope(shield=True):
                await run_sync(self.drop_chunks, drop)


STAGE_GROUP = 256  # manifests of a batch staged at once (bounded temp files, memory)
STAGE_THREADS = 8


def _groups(items: list[ObjectInfo], size: int) -> Iterable[list[ObjectInfo]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


@dataclass(slots=True)
class Staged:
    """A manifest in a temp file, waiting to be renamed to ``final`` - or, small, in
    memory (``row``), waiting to be written to its mountpath's shelf."""

    mp: Mountpath
    tmp: str  # "" once renamed or removed (or when the manifest is unnamed: fd)
    final: str
    text: str  # the manifest's JSON (the index row keeps the same text; no inline bytes)
    fd: int = -1  # an unnamed (O_TMPFILE) manifest, not yet fsynced
    linked: bool = False  # fd now has the final name (fsync it before acknowledging)
    row: bytes | None = None  # a small manifest: its bytes, for its mountpath's shelf


@dataclass(slots=True)
class PutEntry:
    """One small PUT of a batch (``publish_puts``): its object (no chunks), its staged
    manifest, the manifest column of the row it replaces (None: none) and, in a versioned
    bucket, its ``Keep``'s ``prepare`` and ``in_tx``."""

    info: ObjectInfo
    staged: list[Staged]
    old: str | None
    prepare: Callable[[set[str]], None] | None = None
    in_tx: Callable[[], Counter[str]] | None = None


def nonzero(delta: Counter[str]) -> Counter[str]:
    return Counter({k: v for k, v in delta.items() if v})
