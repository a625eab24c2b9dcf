"""Version files on the mountpaths: the manifests of a key's non-current versions and
delete markers (``MP/manifests/<n[:2]>/<n>~<version_id>.json``, beside the current one's
``<n>.json``, so one directory fsync covers a change of both).

Blocking code, for worker threads, called under the index writer lock by ``versions.py``:

* ``keep_current``: the current manifest kept under its version name - a hard link, no
  byte written, on every mountpath that holds it (an overwrite in a versioned bucket); a
  current in a shelf row (shelf.py: a null version from before versioning was enabled) is
  written to its version file, durable before the row can be replaced;
* ``write_version``: a version file written whole (temp, fsync, rename): a delete marker,
  or a lock change of a non-current version;
* ``remove_version``: renamed away (the reaper unlinks it), as a deleted current
  (``Publisher.remove_manifest``);
* ``promote``: a version file renamed over the current name (one atomic step per
  mountpath: the current that was there is gone, the version is current);
* ``key_versions`` / ``walk_versions``: what the disks hold for one key (reconcile) or a
  whole mountpath (fsck).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from . import layout
from .config import StoreConfig
from .files import read_file, replace_durably, write_tmp
from .manifest import decode_manifest, encode_manifest, inline_ok
from .mountpaths import MountpathSet
from .reaper import Reaper
from .shelf import shelf_of
from .types import ObjectInfo

log = logging.getLogger(__name__)

_BAD = (OSError, ValueError, KeyError, TypeError, AttributeError)


def keep_current(
    mps: MountpathSet, bucket: str, key: str, version_id: str, dirs: set[str],
    fsync: bool = True,
) -> int:
    """Link each mountpath's current manifest of ``bucket/key`` to its version name
    (``version_id``: the id the current manifest holds); how many were linked. A version
    file of that name left by a change cut short is replaced."""
    n = 0
    name = layout.manifest_name(bucket, key)
    for mp in mps.live():
        cur = layout.manifest_path(mp.root, bucket, key)
        ver = layout.version_path(mp.root, bucket, key, version_id)
        try:
            row = shelf_of(mp.root).get(name)
            if row is not None:
                replace_durably(layout.tmp_path(mp.root, "manifest"), ver, row, fsync)
                n += 1
                continue
            try:
                os.link(cur, ver)
            except FileExistsError:
                tmp = layout.tmp_path(mp.root, "manifest")
                os.link(cur, tmp)
                os.replace(tmp, ver)
        except FileNotFoundError:
            continue
        except OSError:
            if mps.check(mp):
                raise
            continue
        n += 1
        dirs.add(os.path.dirname(ver))
    return n


def write_version(
    config: StoreConfig, mps: MountpathSet, info: ObjectInfo, copies: int, dirs: set[str]
) -> None:
    """Write ``info`` (a delete marker, or a version with a new lock) as its version file
    on the first ``copies`` mountpaths of its name's order; copies elsewhere go."""
    vid = info.version_id or "null"
    data = encode_manifest(info)
    written = 0
    order = mps.order(layout.manifest_name(info.bucket, info.key))
    for mp in order:
        path = layout.version_path(mp.root, info.bucket, info.key, vid)
        if written >= max(copies, 1):
            if os.path.lexists(path):
                with contextlib.suppress(OSError):
                    os.unlink(path)
                    dirs.add(os.path.dirname(path))
            continue
        tmp = layout.tmp_path(mp.root, "manifest")
        try:
            write_tmp(tmp, data, config.fsync)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if mps.check(mp):
                raise
            continue
        written += 1
        dirs.add(os.path.dirname(path))
    if not written:
        raise OSError("no mountpath took the version file")


def remove_version(
    mps: MountpathSet, reaper: Reaper, bucket: str, key: str, version_id: str, dirs: set[str]
) -> None:
    """Rename every copy of the version file away (the reaper unlinks it)."""
    for mp in mps.live():
        path = layout.version_path(mp.root, bucket, key, version_id)
        _rename_away(mps, mp.root, path, reaper, dirs)


def _rename_away(
    mps: MountpathSet, root: str, path: str, reaper: Reaper, dirs: set[str]
) -> None:
    try:
        if not reaper.take(root, path):
            return
    except OSError:
        for mp in mps.live():
            if mp.root == root and mps.check(mp):
                raise
        return
    dirs.add(os.path.dirname(path))


def promote(
    mps: MountpathSet, reaper: Reaper, bucket: str, key: str, version_id: str, dirs: set[str],
    fsync: bool = True,
) -> None:
    """Make the version file ``version_id`` the current manifest: renamed over the current
    name where it is, and the current name removed where it is not. A current in a shelf
    row goes first, durably: a newer generation left in the row would win over the
    promoted file after a crash."""
    name = layout.manifest_name(bucket, key)
    for mp in mps.live():
        ver = layout.version_path(mp.root, bucket, key, version_id)
        cur = layout.manifest_path(mp.root, bucket, key)
        try:
            shelf_of(mp.root).drop(name, fsync)  # before the file takes its place
            os.replace(ver, cur)
            dirs.add(os.path.dirname(cur))
        except FileNotFoundError:
            _rename_away(mps, mp.root, cur, reaper, dirs)
        except OSError:
            if mps.check(mp):
                raise


def read_version(
    mps: MountpathSet, bucket: str, key: str, version_id: str
) -> ObjectInfo | None:
    """A version file's record with its inline bytes (a copy whose bytes verify), from
    its name's wanted mountpaths first; None if no copy parses."""
    for mp in mps.order(layout.manifest_name(bucket, key)):
        try:
            info = decode_manifest(read_file(layout.version_path(mp.root, bucket, key,
                                                                 version_id)))
        except _BAD:
            continue
        if (info.bucket, info.key) == (bucket, key) and inline_ok(info):
            return info
    return None


def key_versions(
    mps: MountpathSet, bucket: str, key: str
) -> tuple[dict[str, ObjectInfo], int]:
    """The version files of one key on the live mountpaths: each version id's newest copy
    that parses; and how many files were read."""
    name = layout.manifest_name(bucket, key)
    head = name + layout.VERSION_SEP
    found: dict[str, ObjectInfo] = {}
    read = 0
    for mp in mps.live():
        base = f"{mp.root}/{layout.MANIFESTS}/{name[:2]}"
        try:
            names = [n for n in os.listdir(base) if n.startswith(head) and n.endswith(".json")]
        except OSError:
            continue
        for n in names:
            read += 1
            try:
                info = decode_manifest(read_file(f"{base}/{n}"))
            except _BAD as e:
                log.warning("bad version file %s/%s: %s", base, n, e)
                continue
            vid = n[len(head):-5]
            if (info.bucket, info.key, info.version_id or "null") != (bucket, key, vid):
                continue
            have = found.get(vid)
            if have is None or info.generation > have.generation:
                found[vid] = info
    return found, read


def walk_versions(root: str) -> Iterator[tuple[str, ObjectInfo]]:
    """``(path, record)`` of every version file under the mountpath ``root`` that parses
    and is stored under its own name (fsck's scan)."""
    for fan in layout.FANOUT:
        base = f"{root}/{layout.MANIFESTS}/{fan}"
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for n in names:
            if layout.VERSION_SEP not in n or not n.endswith(".json"):
                continue
            path = f"{base}/{n}"
            try:
                info = decode_manifest(read_file(path))
            except _BAD as e:
                log.warning("bad version file %s: %s", path, e)
                continue
            name, _, vid = n[:-5].partition(layout.VERSION_SEP)
            if (layout.manifest_name(info.bucket, info.key), info.version_id or "null") != (
                name, vid
            ):
                log.warning("stray version file %s ignored", path)
                continue
            yield path, info
