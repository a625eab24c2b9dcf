"""The versions of a key made whole again from their files: after a crash for the keys the
journal names (reconcile.py), and for every key by fsck.

A change of a versioned key (versions.py) links, writes, renames and removes files in an
order that leaves, at any point it can be cut, a state these rules settle, each the
finished change (nothing acknowledged is lost, nothing half made stays):

a. a version file newer than the current manifest: the current was being superseded (a
   delete marker in flight): the current name goes (its version file, linked first,
   keeps it when it is to be kept);
b. a version file of the current's own id (no newer one): the link of an overwrite that
   did not happen, or the null version a null current replaced: the version file goes;
c. no current and the newest version is data: a removal of the current cut before its
   successor was promoted: it is promoted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections import Counter
from collections.abc import Callable

from . import layout
from . import version_files as vf
from .core import StoreCore
from .files import fsync_dir, read_file, replace_durably
from .index import INSERT_VERSION, version_row
from .manifest import decode_manifest, index_text, inline_ok
from .mountpath import Mountpath
from .shelf import shelf_of
from .types import ObjectInfo

log = logging.getLogger(__name__)


def settle(
    current: ObjectInfo | None, found: dict[str, ObjectInfo]
) -> tuple[ObjectInfo | None, dict[str, ObjectInfo], list[str], str | None, bool]:
    """The rules a-c on a key's newest current copy and its version files (by id): the
    current and versions they leave, the version files to remove, the version to promote
    (its file renamed to the current name) and whether the current name goes."""
    found = dict(found)
    drop: list[str] = []
    promote: str | None = None
    drop_current = False
    newest = max(found.values(), key=lambda i: i.generation, default=None)
    if current is not None and newest is not None and newest.generation > current.generation:
        current, drop_current = None, True
    if current is not None:
        vid = current.version_id or "null"
        if vid in found:
            del found[vid]
            drop.append(vid)
    if current is None and found:
        newest = max(found.values(), key=lambda i: i.generation)
        if not newest.delete_marker:
            promote = newest.version_id or "null"
            current = found.pop(promote)
    return current, found, drop, promote, drop_current


def apply_files(core: StoreCore, bucket: str, key: str, drop: list[str],
                promote: str | None, drop_current: bool) -> None:
    """The file changes ``settle`` asks for, made durable."""
    dirs: set[str] = set()
    name = layout.manifest_name(bucket, key)
    for mp in core.mps.live():
        cur = layout.manifest_path(mp.root, bucket, key)
        if drop_current or promote is not None:  # a row goes first (vf.promote says why)
            shelf_of(mp.root).drop(name, core.config.fsync)
        if drop_current and promote is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(cur)
                dirs.add(os.path.dirname(cur))
        for vid in drop:
            path = layout.version_path(mp.root, bucket, key, vid)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                dirs.add(os.path.dirname(path))
        if promote is not None:
            path = layout.version_path(mp.root, bucket, key, promote)
            try:
                os.replace(path, cur)
            except FileNotFoundError:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(cur)
            dirs.add(os.path.dirname(cur))
    if core.config.fsync:
        for d in sorted(dirs):
            fsync_dir(d)


def reconcile_key(core: StoreCore, bucket: str, key: str,
                  current: ObjectInfo | None) -> tuple[list[str], int, bool]:
    """A journaled key's version files settled and its ``versions`` rows made theirs
    (caller holds the writer lock; ``current``: its newest current manifest copy); the
    chunk ids whose refcount hit 0, the files read, whether anything changed."""
    found, read = vf.key_versions(core.mps, bucket, key)
    w = core.index.w
    rows = {
        (r[0], int(r[1])): r[2] for r in w.execute(
            "SELECT version_id, seq, manifest FROM versions WHERE bucket = ? AND key = ?",
            (bucket, key)).fetchall()
    }
    if not found and not rows:
        return [], read, False
    _, kept, drop, promote, drop_current = settle(current, found)
    changed = bool(drop or promote or drop_current)
    if changed:
        apply_files(core, bucket, key, drop, promote, drop_current)
        log.warning("reconcile: %s/%s versions settled (dropped %s, promoted %s%s)", bucket,
                    key, drop, promote, ", current removed" if drop_current else "")
    # by content too: a non-current version's record rewritten in place (a tag or lock
    # change, same generation) cut after its file and before its row
    want = {(i.version_id or "null", i.generation): json.loads(index_text(i))
            for i in kept.values()}
    if want == {k: json.loads(m) for k, m in rows.items()}:
        return [], read, changed
    delta: Counter[str] = Counter()
    with core.index.transaction():
        for manifest in rows.values():
            delta.subtract(c[0] for c in json.loads(manifest).get("chunks") or [])
        w.execute("DELETE FROM versions WHERE bucket = ? AND key = ?", (bucket, key))
        sizes: dict[str, int] = {}
        for info in kept.values():
            for c in info.chunks:
                delta[c.id] += 1
                sizes[c.id] = c.size
            w.execute(INSERT_VERSION, version_row(info, index_text(info)))
        dropped = core.index.apply_refs(Counter({k: v for k, v in delta.items() if v}), sizes)
    return dropped, read, True


def drain_versions(
    core: StoreCore, root: str, wanted: Callable[[str, str], list[Mountpath]]
) -> int:
    """Before the mountpath ``root`` leaves the set (resilver's drain): each version file
    on it that the index still knows (same generation) is copied, as it is, to the
    mountpaths ``wanted(bucket, manifest name)`` that lack it; how many copies were
    written."""
    written = 0
    for path, info in vf.walk_versions(root):
        vid = info.version_id or "null"
        with core.index.wlock:
            row = core.index.w.execute(
                "SELECT seq FROM versions WHERE bucket = ? AND key = ? AND version_id = ?",
                (info.bucket, info.key, vid)).fetchone()
            if row is None or int(row[0]) != info.generation:
                continue
            try:
                data = read_file(path)
            except OSError:
                continue
            for mp in wanted(info.bucket, layout.manifest_name(info.bucket, info.key)):
                target = layout.version_path(mp.root, info.bucket, info.key, vid)
                if mp.root == root or os.path.exists(target):
                    continue
                try:
                    replace_durably(layout.tmp_path(mp.root, "manifest"), target, data,
                                    core.config.fsync)
                    written += 1
                except OSError as e:
                    log.error("drain: version file %s not written to %s: %s", path, mp.root,
                              e)
    return written


def _copies(core: StoreCore, bucket: str, key: str, version_id: str,
            seq: int) -> tuple[dict[str, bytes | None], bytes | None]:
    """Each live mountpath's copy of a version file (None: unreadable or not good), and
    one good copy's bytes (None: none)."""
    have: dict[str, bytes | None] = {}
    good: bytes | None = None
    for mp in core.mps.live():
        path = layout.version_path(mp.root, bucket, key, version_id)
        try:
            data = read_file(path)
        except FileNotFoundError:
            continue
        except OSError:
            have[mp.root] = None
            continue
        try:
            info = decode_manifest(data)
            ok = info.generation == seq and inline_ok(info) and (
                info.bucket, info.key) == (bucket, key)
        except (ValueError, KeyError, TypeError, AttributeError):
            ok = False
        have[mp.root] = data if ok else None
        if ok and good is None:
            good = data
    return have, good


def fix_version(core: StoreCore, bucket: str, key: str, version_id: str, seq: int,
                want: list[Mountpath], remove: bool = True) -> bool:
    """A version file on exactly the mountpaths ``want`` (resilver, scrub): every copy read
    and checked (parses, this generation, inline bytes verify); a wanted mountpath lacking
    a good copy gets one, and only then are copies elsewhere removed. True if anything
    was written or removed; nothing when no copy is good (logged: never spread bad bytes).
    ``remove`` False (scrub): copies elsewhere stay."""
    live = core.mps.live()
    have, good = _copies(core, bucket, key, version_id, seq)
    want_roots = {mp.root for mp in want}
    if good is None:
        if have:
            log.error("version %s of %s/%s: no good copy of its version file", version_id,
                      bucket, key)
        return False
    if all(have.get(r) == good for r in want_roots) and (
            not remove or set(have) <= want_roots):
        return False
    with core.index.wlock:  # a delete of this version racing the repair: it wins
        row = core.index.w.execute(
            "SELECT seq FROM versions WHERE bucket = ? AND key = ? AND version_id = ?",
            (bucket, key, version_id)).fetchone()
        if row is None or int(row[0]) != seq:
            return False
        fsync = core.config.fsync
        for mp in want:
            if have.get(mp.root) != good:
                target = layout.version_path(mp.root, bucket, key, version_id)
                try:
                    replace_durably(layout.tmp_path(mp.root, "manifest"), target, good, fsync)
                except OSError as e:
                    log.error("version file of %s/%s not written to %s: %s", bucket, key,
                              mp.root, e)
                    core.mps.check(mp)
                    return True
        for mp in live if remove else []:
            if mp.root not in want_roots and mp.root in have:
                path = layout.version_path(mp.root, bucket, key, version_id)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                    if fsync:
                        fsync_dir(os.path.dirname(path))
    return True


def scan_versions(core: StoreCore) -> dict[tuple[str, str], dict[str, ObjectInfo]]:
    """Every version file on the live mountpaths: per key, per version id, the newest
    copy (fsck)."""
    out: dict[tuple[str, str], dict[str, ObjectInfo]] = {}
    for mp in core.mps.live():
        for _path, info in vf.walk_versions(mp.root):
            info.inline = None  # the index keeps no inline bytes
            per = out.setdefault((info.bucket, info.key), {})
            vid = info.version_id or "null"
            have = per.get(vid)
            if have is None or info.generation > have.generation:
                per[vid] = info
    return out
