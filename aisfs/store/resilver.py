"""Resilver: put every chunk, manifest and upload record where placement wants it.

Blocking code, for the job thread of ``StoreAdmin`` (and its worker pool).

A chunk is wanted on the first ``copies`` mountpaths of its HRW order over the enabled,
non-detaching mountpaths, ``copies`` being the largest ``mirror.copies`` among the buckets
of the objects (and multipart parts) that reference it. For each chunk, under its pin and
its write stripe (the same lock a PUT holds while it places that chunk):

1. the copies present on the live mountpaths are listed (one ``stat`` each); when they are
   exactly the wanted ones there is nothing to do (no data is read);
2. otherwise every present copy is read and verified (length, xxh3-128 of the id); a good
   one is the source; the wanted mountpaths that lack a good copy get one (temp file,
   fsync, rename, directory fsync);
3. only then, and only if every wanted copy is in place, the unwanted copies are removed.

Safety with a node that serves meanwhile: the chunk is pinned (GC skips it) and ids no longer
referenced are skipped (GC's job); a PUT of the same bytes waits on the stripe; a reader
that finds a copy gone tries the next mountpath, and a wanted copy is durable before any
copy goes. No good copy anywhere: the chunk is counted lost and nothing is removed.

Manifests go to the first ``max(copies, 1)`` mountpaths of the HRW order of their name,
written from the index row (the index is the truth while the node runs) under the index
writer lock, which every manifest install holds. Upload records likewise (order of the
upload id). Bucket records are rewritten on every live mountpath.

``scrub`` (scrub.py) uses the same chunk step in "scrub" mode: every present copy is read
and verified, bad ones are rewritten from a good one, missing wanted ones are written,
nothing is removed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import layout
from .chunks import GOOD, MISSING
from .core import StoreCore
from .files import fsync_dir, read_file, replace_durably
from .jobs import Progress
from .manifest import manifest_bytes
from .manifests import inline_copy, put_current, remove_current, remove_row, walk_manifests
from .mountpath import Mountpath
from .shelf import shelf_of
from .version_repair import drain_versions, fix_version

log = logging.getLogger(__name__)

PAGE = 256  # objects per batch
WORKERS = 4  # chunks fixed at once

OK, FIXED, LOST, GONE = "ok", "fixed", "lost", "gone"


class Aborted(Exception):
    """The job was preempted (a newer request) or the store is closing."""


def placement(core: StoreCore) -> list[Mountpath]:
    return [mp for mp in core.mps.live() if not mp.detaching]


def wanted(core: StoreCore, name: str, copies: int) -> list[Mountpath]:
    return [mp for mp in core.mps.order(name) if not mp.detaching][: max(copies, 1)]


# == chunks ===============================================================================

# long: read every copy, write the missing and bad ones, sync, then drop the unwanted -
# the order is the repair's safety (nothing is removed before the copies are durable)
def fix_chunk(core: StoreCore, cid: str, size: int, copies: int, mode: str, prog: Progress) -> str:
    """Make ``cid``'s copies right (see the module doc). The caller pinned it."""
    mps = core.mps
    with core.chunks.stripe(cid):
        want = wanted(core, cid, copies)
        if not want:
            return OK
        present = [
            mp for mp in mps.live() if os.path.exists(layout.chunk_path(mp.root, cid))
        ]
        if mode == "resilver" and set(present) == set(want):
            return OK
        good: list[Mountpath] = []
        bad: list[Mountpath] = []
        data: bytes | None = None
        for mp in present:
            copy = core.chunks.read_copy(mp, cid, size, who=f"{mode}: ")
            if copy.state == MISSING:
                continue
            if copy.state == GOOD:
                good.append(mp)
                if data is None:
                    data = copy.data
            else:
                bad.append(mp)
        if data is None:
            log.error("%s: chunk %s has no good copy", mode, cid)
            return LOST
        dirs: set[str] = set()
        complete = True
        added = repaired = 0
        targets = list(want)
        if mode == "scrub":
            targets += [mp for mp in bad if mp not in want and mp.enabled]
        for mp in targets:
            if mp in good or not mp.enabled:
                continue
            try:
                core.chunks.write_copy(mp, cid, data, dirs, replace=True)
            except OSError as e:
                log.error("%s: chunk %s not written to %s: %s", mode, cid, mp.root, e)
                mps.check(mp)
                complete = False
                continue
            if mp in bad:
                repaired += 1
            else:
                added += 1
        try:
            core.chunks.sync_dirs(dirs)
        except OSError as e:
            log.error("%s: chunk directories not synced: %s", mode, e)
            complete = False
        removed = 0
        if mode == "resilver" and complete:
            for mp in present:
                if mp in want:
                    continue
                try:
                    os.unlink(layout.chunk_path(mp.root, cid))
                    removed += 1
                except FileNotFoundError:
                    pass
                except OSError as e:
                    log.warning("resilver: chunk %s not removed from %s: %s", cid, mp.root, e)
        if added or removed or repaired:
            prog.add(copies_added=added, copies_removed=removed, copies_repaired=repaired)
            return FIXED
        return OK


def fix_chunks(
    core: StoreCore,
    items: list[tuple[str, int, int]],
    mode: str,
    prog: Progress,
    pool: ThreadPoolExecutor,
    include_pinned: bool = False,
    should_stop: Callable[[], None] | None = None,
) -> dict[str, str]:
    """``fix_chunk`` for each ``(cid, size, copies)``, pinned meanwhile; result per id.

    Ids that no committed object or part references are skipped (GC's), unless
    ``include_pinned`` and a writer in flight holds them."""
    if not items:
        return {}
    ids = [cid for cid, _, _ in items]
    for cid in ids:
        core.chunks.pin(cid)
    try:
        live = core.index.referenced(ids)
        if include_pinned:
            live |= core.chunks.held_elsewhere(ids)

        def one(item: tuple[str, int, int]) -> tuple[str, str]:
            cid, size, copies = item
            if should_stop is not None:
                should_stop()  # Aborted leaves the batch (and the job) at once
            if cid not in live:
                return cid, GONE
            try:
                return cid, fix_chunk(core, cid, size, copies, mode, prog)
            except OSError as e:
                log.error("%s: chunk %s: %s", mode, cid, e)
                return cid, LOST

        results = dict(pool.map(one, items))
    finally:
        core.chunks.unpin(ids)
    prog.add(chunks_checked=len(items), lost_chunks=sum(r == LOST for r in results.values()))
    return results


# == manifests, uploads, buckets ==========================================================

def _file_bytes(path: str) -> bytes | None:
    try:
        return read_file(path)
    except OSError:
        return None


def fix_manifest(core: StoreCore, bucket: str, key: str, copies: int, text: str,
                 prog: Progress, inline: bytes | None = None) -> None:
    """Copies of the object's manifest on exactly its wanted mountpaths, as in the index
    (``text``); an inline object's bytes (``inline``, verified) follow its JSON. An inline
    object whose bytes are not given is left alone."""
    doc = json.loads(text)
    if inline is None and "inline_xxh3" in doc:
        return
    name = layout.manifest_name(bucket, key)
    data = manifest_bytes(text, inline)
    info_vid = doc.get("version_id")  # a versioned bucket's current stays a file
    want = wanted(core, name, copies)
    live = core.mps.live()

    def right() -> bool:
        small = len(data) <= core.config.shelf_max and info_vid is None
        for mp in live:
            try:
                row = shelf_of(mp.root).get(name)
            except OSError:
                return False
            have = _file_bytes(layout.manifest_path(mp.root, bucket, key))
            if mp not in want:
                if row is not None or have is not None:
                    return False
            elif (row, have) != ((data, None) if small else (None, data)):
                return False
        return True

    if not want or right():
        return
    fsync = core.config.fsync
    with core.index.wlock:
        row = core.index.w.execute(
            "SELECT manifest FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
        ).fetchone()
        if row is None or row[0] != text:
            return  # deleted or replaced meanwhile: its change wrote the manifests
        written = 0
        for mp in want:
            try:
                put_current(mp.root, bucket, key, data, fsync,
                            core.config.shelf_max if info_vid is None else 0)
                written += 1
            except OSError as e:
                log.error("resilver: manifest of %s/%s not written to %s: %s",
                          bucket, key, mp.root, e)
                core.mps.check(mp)
        if written < len(want):
            return
        for mp in live:
            if mp not in want:
                with contextlib.suppress(OSError):
                    remove_current(mp.root, bucket, key, fsync)
        prog.add(manifests_fixed=1)


def check_inline(core: StoreCore, bucket: str, key: str, d: dict[str, Any],
                 mode: str) -> bytes | None:
    """An inline object's bytes from a manifest copy of its generation that verifies
    (xxh3-128, and the index's checksum), so that ``fix_manifest`` never spreads damaged
    bytes. None: no good copy anywhere."""
    good = inline_copy(core.mps, bucket, key, int(d.get("generation", 0)))
    if good is None or good.inline_xxh3 != d.get("inline_xxh3"):
        log.error("%s: %s/%s has no good copy of its inline data", mode, bucket, key)
        return None
    return good.inline


def fix_upload(core: StoreCore, upload_id: str, copies: int, prog: Progress) -> None:
    """The upload's record files on exactly its wanted mountpaths."""
    want = wanted(core, upload_id, copies)
    if not want:
        return
    fsync = core.config.fsync
    with core.index.wlock:
        if core.index.w.execute(
            "SELECT 1 FROM uploads WHERE upload_id = ?", (upload_id,)
        ).fetchone() is None:
            return
        live = core.mps.live()
        files: dict[str, bytes] = {}
        holders: list[Mountpath] = []
        for mp in core.mps.order(upload_id):
            d = layout.upload_dir(mp.root, upload_id)
            try:
                names = sorted(os.listdir(d))
            except OSError:
                continue
            holders.append(mp)
            for n in names:
                if n not in files and n.endswith(".json"):
                    content = _file_bytes(f"{d}/{n}")
                    if content is not None:
                        files[n] = content
        if "upload.json" not in files:
            log.error("resilver: upload %s has no readable record", upload_id)
            return
        changed = False
        for mp in want:
            d = layout.upload_dir(mp.root, upload_id)
            try:
                if not os.path.isdir(d):
                    os.makedirs(d, 0o700, exist_ok=True)
                    if fsync:
                        fsync_dir(os.path.dirname(d))
                for n, content in files.items():
                    if _file_bytes(f"{d}/{n}") != content:
                        replace_durably(layout.tmp_path(mp.root, "upload"), f"{d}/{n}",
                                        content, fsync)
                        changed = True
            except OSError as e:
                log.error("resilver: upload %s not written to %s: %s", upload_id, mp.root, e)
                core.mps.check(mp)
                return
        for mp in holders:
            if mp not in want and mp in live:
                shutil.rmtree(layout.upload_dir(mp.root, upload_id), ignore_errors=True)
                changed = True
        if changed:
            prog.add(manifests_fixed=1)


def rewrite_buckets(core: StoreCore) -> None:
    with core.index.wlock:
        for b in core.index.rows("SELECT name FROM buckets"):
            try:
                core.buckets.write_files(core.buckets.get_sync(b[0]))
            except Exception as e:  # S3Error when it went meanwhile
                log.warning("resilver: bucket record %s: %s", b[0], e)


def purge_stale_manifests(core: StoreCore, mp: Mountpath, prog: Progress,
                          should_stop: Callable[[], None]) -> None:
    """Remove manifests on ``mp`` that the index does not hold (objects deleted or
    overwritten while ``mp`` was away), so an index rebuild cannot bring them back."""
    for path, info in walk_manifests(mp.root, should_stop=should_stop):
        with core.index.wlock:
            row = core.index.w.execute(
                "SELECT generation FROM objects WHERE bucket = ? AND key = ?",
                (info.bucket, info.key),
            ).fetchone()
            if row is None or int(row[0]) > info.generation:
                with contextlib.suppress(OSError):
                    if path:
                        os.unlink(path)
                    elif not remove_row(mp.root, info, core.config.fsync):
                        continue
                    prog.add(manifests_fixed=1)


# == the walk =============================================================================

def bucket_copies(core: StoreCore) -> dict[str, int]:
    return {
        r[0]: core.buckets.copies(json.loads(r[1]))
        for r in core.index.rows("SELECT name, props FROM buckets")
    }


def iter_objects(
    core: StoreCore, buckets: list[str] | None
) -> Iterator[list[tuple[str, str, int, str]]]:
    """Pages of ``(bucket, key, size, manifest)`` in (bucket, key) order."""
    last = ("", "")
    first = True
    while True:
        sql = "SELECT bucket, key, size, manifest FROM objects"
        params: list[Any] = []
        conds = []
        if not first:
            conds.append("(bucket, key) > (?, ?)")
            params += list(last)
        if buckets is not None:
            conds.append(f"bucket IN ({','.join('?' * len(buckets))})")
            params += buckets
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        sql += " ORDER BY bucket, key LIMIT ?"
        params.append(PAGE)
        rows = core.index.rows(sql, params)
        if not rows:
            return
        yield [(r[0], r[1], int(r[2]), r[3]) for r in rows]
        last = (rows[-1][0], rows[-1][1])
        first = False


def iter_versions(
    core: StoreCore, buckets: list[str] | None
) -> Iterator[list[tuple[str, str, int, str, str]]]:
    """Pages of ``(bucket, key, seq, version id, manifest)`` of the non-current versions
    and delete markers (versions.py), in primary key order."""
    last: tuple[str, str, int] | None = None
    while True:
        sql = "SELECT bucket, key, seq, version_id, manifest FROM versions WHERE 1"
        params: list[Any] = []
        if last is not None:
            sql += " AND (bucket, key, -seq) > (?, ?, ?)"
            params += [last[0], last[1], -last[2]]
        if buckets is not None:
            sql += f" AND bucket IN ({','.join('?' * len(buckets))})"
            params += buckets
        sql += " ORDER BY bucket, key, seq DESC LIMIT ?"
        params.append(PAGE)
        rows = core.index.rows(sql, params)
        if not rows:
            return
        yield [(r[0], r[1], int(r[2]), r[3], r[4]) for r in rows]
        last = (rows[-1][0], rows[-1][1], int(rows[-1][2]))


def walk_versions(
    core: StoreCore, buckets: list[str] | None, copies_of: dict[str, int], default: int,
    want_copies: dict[str, int], done: set[str], mode: str, prog: Progress,
    pool: ThreadPoolExecutor, should_stop: Callable[[], None],
) -> None:
    """The non-current versions' chunks (each with the copies its bucket wants, as a
    current's), then their version files where placement wants them (``fix_version``: a
    bad or missing copy rewritten from a good one)."""
    for page in iter_versions(core, buckets):
        should_stop()
        items: list[tuple[str, int, int]] = []
        for bucket, _key, _seq, _vid, manifest in page:
            n = copies_of.get(bucket, default)
            for cid, size in json.loads(manifest).get("chunks") or []:
                if cid not in done:
                    done.add(cid)
                    items.append((cid, int(size), max(want_copies.get(cid, n), n)))
        fix_chunks(core, items, mode, prog, pool, should_stop=should_stop)
        for bucket, key, seq, vid, _manifest in page:
            n = copies_of.get(bucket, default)
            name = layout.manifest_name(bucket, key)
            if fix_version(core, bucket, key, vid, seq, wanted(core, name, n),
                           remove=mode != "scrub"):
                prog.add(manifests_fixed=1)


def chunk_copies(core: StoreCore, copies_of: dict[str, int]) -> dict[str, int]:
    """Chunk id -> the most copies any referencing object (or part) wants."""
    out: dict[str, int] = {}
    default = max(core.config.default_copies, 1)
    for page in iter_objects(core, None):
        for bucket, _key, _size, manifest in page:
            n = copies_of.get(bucket, default)
            for c in json.loads(manifest).get("chunks") or []:
                if out.get(c[0], 0) < n:
                    out[c[0]] = n
    for vpage in iter_versions(core, None):
        for bucket, _key, _seq, _vid, manifest in vpage:
            n = copies_of.get(bucket, default)
            for c in json.loads(manifest).get("chunks") or []:
                if out.get(c[0], 0) < n:
                    out[c[0]] = n
    for bucket, chunks in core.index.rows(
        "SELECT u.bucket, p.chunks FROM parts p JOIN uploads u USING (upload_id)"
    ):
        n = copies_of.get(bucket, default)
        for c in json.loads(chunks):
            if out.get(c[0], 0) < n:
                out[c[0]] = n
    return out


# long: one pass over the objects then the uploads, sharing ``done`` (each chunk fixed
# once) and the thread pool
def walk(
    core: StoreCore,
    prog: Progress,
    mode: str,
    buckets: list[str] | None,
    should_stop: Callable[[], None],
    workers: int = WORKERS,
) -> None:
    """The resilver (or scrub) pass over the objects of ``buckets`` (None: all), then over
    the multipart uploads. ``should_stop()`` raises ``Aborted`` to stop between batches."""
    copies_of = bucket_copies(core)
    default = max(core.config.default_copies, 1)
    if buckets is not None:
        buckets = sorted(set(buckets) & set(copies_of))
    want_copies = chunk_copies(core, copies_of)
    where = ""
    params: list[Any] = []
    if buckets is not None:
        where = f" WHERE bucket IN ({','.join('?' * len(buckets))})"
        params = list(buckets)
    total, nbytes = core.index.row(
        f"SELECT count(*), coalesce(sum(size), 0) FROM objects{where}", params
    )
    prog.add(objects_total=int(total), bytes_total=int(nbytes))
    done: set[str] = set()
    results: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"aisfs-{mode}") as pool:
        for page in iter_objects(core, buckets):
            should_stop()
            items: list[tuple[str, int, int]] = []
            for bucket, _key, _size, manifest in page:
                n = copies_of.get(bucket, default)
                for cid, size in json.loads(manifest).get("chunks") or []:
                    if cid not in done:
                        done.add(cid)
                        items.append((cid, int(size), max(want_copies.get(cid, n), n)))
            results.update(fix_chunks(core, items, mode, prog, pool, should_stop=should_stop))
            for bucket, key, size, manifest in page:
                d = json.loads(manifest)
                chunks = [c[0] for c in d.get("chunks") or []]
                if any(results.get(cid) == LOST for cid in chunks):
                    prog.lost_object(f"{bucket}/{key}")
                inline = None
                if "inline_xxh3" in d:
                    inline = check_inline(core, bucket, key, d, mode)
                    if inline is None:  # no good bytes anywhere: leave every copy as it is
                        prog.lost_object(f"{bucket}/{key}")
                        prog.add(objects_done=1, bytes_done=size)
                        continue
                try:
                    fix_manifest(core, bucket, key, copies_of.get(bucket, default), manifest,
                                 prog, inline)
                except OSError as e:
                    log.error("%s: manifest of %s/%s: %s", mode, bucket, key, e)
                prog.add(objects_done=1, bytes_done=size)
        # non-current versions and delete markers: chunks and version files
        walk_versions(core, buckets, copies_of, default, want_copies, done, mode, prog, pool,
                      should_stop)
        # multipart uploads in progress: their parts' chunks and records
        rows = core.index.rows("SELECT upload_id, bucket FROM uploads")
        for upload_id, bucket in rows:
            if buckets is not None and bucket not in buckets:
                continue
            should_stop()
            n = copies_of.get(bucket, default)
            items = []
            for (chunks,) in core.index.rows(
                "SELECT chunks FROM parts WHERE upload_id = ?", (upload_id,)
            ):
                for cid, size in json.loads(chunks):
                    if cid not in done:
                        done.add(cid)
                        items.append((cid, int(size), max(want_copies.get(cid, n), n)))
            fix_chunks(core, items, mode, prog, pool)
            fix_upload(core, upload_id, n, prog)


def _chunk_sizes(core: StoreCore, ids: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        marks = ",".join("?" * len(part))
        out.update(
            (r[0], int(r[1]))
            for r in core.index.rows(f"SELECT id, size FROM chunks WHERE id IN ({marks})", part)
        )
    return out


def drain(core: StoreCore, mp: Mountpath, prog: Progress, should_stop: Callable[[], None]) -> None:
    """Before ``mp`` (detaching) leaves the set: whatever is still on it and still needed
    (a chunk placed by a PUT that raced the start of the detach, a manifest or upload
    record) is put where placement wants it."""
    core.chunks.stripe_barrier()
    copies_of = bucket_copies(core)
    default = max(core.config.default_copies, 1)
    want_copies = chunk_copies(core, copies_of)
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="aisfs-drain") as pool:
        for fan in layout.FANOUT:
            should_stop()
            try:
                names = os.listdir(f"{mp.root}/{layout.CHUNKS}/{fan}")
            except OSError:
                continue
            sizes = _chunk_sizes(core, names)
            items = []
            for cid in names:
                size = sizes.get(cid)
                if size is None:  # not referenced: its size from the file (a writer's)
                    try:
                        size = os.path.getsize(layout.chunk_path(mp.root, cid))
                    except OSError:
                        continue
                items.append((cid, size, want_copies.get(cid, default)))
            fix_chunks(core, items, "resilver", prog, pool, include_pinned=True)
    for _path, info in walk_manifests(mp.root):
        row = core.index.row(
            "SELECT manifest FROM objects WHERE bucket = ? AND key = ?",
            (info.bucket, info.key),
        )
        if row is not None:
            d = json.loads(row[0])
            inline = check_inline(core, info.bucket, info.key, d, "resilver") if (
                "inline_xxh3" in d
            ) else None
            fix_manifest(core, info.bucket, info.key,
                         copies_of.get(info.bucket, default), row[0], prog, inline)
    # non-current versions and delete markers (version_repair.py): copied where wanted
    drain_versions(core, mp.root, lambda bucket, name: wanted(
        core, name, copies_of.get(bucket, default)))
    try:
        uids = os.listdir(f"{mp.root}/{layout.UPLOADS}")
    except OSError:
        uids = []
    for uid in uids:
        row = core.index.row("SELECT bucket FROM uploads WHERE upload_id = ?", (uid,))
        if row is not None:
            fix_upload(core, uid, copies_of.get(row[0], default), prog)
