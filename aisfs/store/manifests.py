"""Current manifests as found on a mountpath, in either of their homes - a file of their
own, or a row of the mountpath's shelf (shelf.py: small ones): the walk over one
mountpath's manifests (fsck's scan, resilver's purge of stale ones, the drain of a
detaching mountpath), the copies of one name (reconcile), a copy written or removed
durably (resilver, version repair) and the lookup of a good copy of an inline object.

A name has one home at a time; a change from one to the other makes the new copy durable
before it removes the old one, so a crash between leaves both, and the newest generation
wins wherever copies are compared."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator

from . import layout
from .chunks import StoreCorruption
from .files import read_file, replace_durably, unlink_durably
from .manifest import decode_manifest, inline_ok
from .mountpaths import MountpathSet
from .shelf import shelf_of
from .types import ObjectInfo

log = logging.getLogger(__name__)


def walk_manifests(
    root: str, *, logged: bool = False, should_stop: Callable[[], None] | None = None
) -> Iterator[tuple[str, ObjectInfo]]:
    """``(path, manifest)`` of every current manifest under the mountpath ``root`` that
    parses: the files, then the shelf's rows (``path`` ""; ``remove_row``).

    ``logged`` (fsck): an unreadable or bad manifest is logged, and one stored under
    another object's name (stray) is logged and skipped. Without it (resilver) bad ones
    are skipped silently and the name is not checked. ``should_stop()`` is called before
    each of the 256 fan-out directories (it raises to stop).
    """
    for fan in layout.FANOUT:
        if should_stop is not None:
            should_stop()
        base = f"{root}/{layout.MANIFESTS}/{fan}"
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            if not name.endswith(".json") or layout.VERSION_SEP in name:
                continue  # a version file (versions.py's walk_versions) is no current
            path = f"{base}/{name}"
            try:
                data = read_file(path)
            except OSError as e:
                if logged and not isinstance(e, FileNotFoundError):
                    log.warning("cannot read %s: %s", path, e)
                continue
            try:
                info = decode_manifest(data)
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                if logged:
                    log.warning("bad manifest %s/%s: %s", base, name, e)
                continue
            if logged and layout.manifest_name(info.bucket, info.key) != name[:-5]:
                log.warning("stray manifest %s/%s ignored", base, name)
                continue
            yield path, info
    if should_stop is not None:
        should_stop()
    rows = shelf_of(root).walk()
    while True:
        try:
            name, data = next(rows)
        except StopIteration:
            return
        except OSError as e:  # a shelf that cannot be read: its rows missed, as a file's
            log.warning("cannot read %s/%s: %s", root, layout.SHELF, e)
            return
        try:
            info = decode_manifest(data)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            if logged:
                log.warning("bad manifest %s row %s: %s", layout.SHELF, name, e)
            continue
        if logged and layout.manifest_name(info.bucket, info.key) != name:
            log.warning("stray manifest %s row %s ignored", layout.SHELF, name)
            continue
        yield "", info


def current_copies(root: str, bucket: str, key: str) -> Iterator[bytes]:
    """The bytes of ``bucket/key``'s current manifest on the mountpath ``root``: its row,
    then its file (both after a move between them cut short), each read when the one
    before has been taken. OSError if the file is there and cannot be read."""
    row = shelf_of(root).get(layout.manifest_name(bucket, key))
    if row is not None:
        yield row
    try:
        yield read_file(layout.manifest_path(root, bucket, key))
    except FileNotFoundError:
        pass


def put_current(
    root: str, bucket: str, key: str, data: bytes, fsync: bool, shelf_max: int
) -> None:
    """``data`` as ``bucket/key``'s current manifest on ``root``, durably, in its home (a
    row when it is small: ``shelf_max``); a copy in the other home goes after."""
    name = layout.manifest_name(bucket, key)
    path = layout.manifest_path(root, bucket, key)
    shelf = shelf_of(root)
    if len(data) <= shelf_max:
        shelf.put(name, data)
        if fsync:
            shelf.sync()
        unlink_durably(path, fsync)
    else:
        replace_durably(layout.tmp_path(root, "manifest"), path, data, fsync)
        shelf.drop(name, fsync)


def remove_current(root: str, bucket: str, key: str, fsync: bool) -> bool:
    """``bucket/key``'s current manifest gone from ``root`` (file and row), durably; False
    if there was none."""
    path = layout.manifest_path(root, bucket, key)
    try:
        gone = shelf_of(root).drop(layout.manifest_name(bucket, key), fsync)
    except OSError:
        unlink_durably(path, fsync)  # the file goes all the same; the row's error is told
        raise
    return unlink_durably(path, fsync) or gone


def remove_row(root: str, info: ObjectInfo, fsync: bool) -> bool:
    """The shelf row of ``info``'s name on ``root`` gone, durably - if it still holds
    ``info``'s generation (a walk read it; a newer one may have replaced it since)."""
    shelf = shelf_of(root)
    name = layout.manifest_name(info.bucket, info.key)
    data = shelf.get(name)
    if data is None:
        return False
    try:
        if decode_manifest(data).generation != info.generation:
            return False
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    return shelf.drop(name, fsync)


def _decoded_copies(mps: MountpathSet, bucket: str, key: str) -> Iterator[ObjectInfo]:
    """The current manifest copies of ``bucket/key`` that decode, its wanted mountpaths
    first (the HRW order of its name, where the copies are); a mountpath that cannot be
    read is passed over."""
    for mp in mps.order(layout.manifest_name(bucket, key)):
        with contextlib.suppress(OSError):
            for data in current_copies(mp.root, bucket, key):
                try:
                    yield decode_manifest(data)
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue


def inline_copy(
    mps: MountpathSet, bucket: str, key: str, generation: int
) -> ObjectInfo | None:
    """A manifest copy of this inline object (same generation) whose bytes verify."""
    for cand in _decoded_copies(mps, bucket, key):
        if (cand.bucket, cand.key, cand.generation) == (bucket, key, generation) and (
            cand.inline is not None and inline_ok(cand)
        ):
            return cand
    return None


def newer_copy(mps: MountpathSet, info: ObjectInfo) -> bool:
    """True if some mountpath holds a current manifest of ``info``'s name of a newer
    generation: a write installed it and has not committed the index yet (or failed
    between the two, which its journal record repairs)."""
    return any(c.generation > info.generation
               for c in _decoded_copies(mps, info.bucket, info.key))


def load_inline(mps: MountpathSet, info: ObjectInfo) -> None:
    """``info.inline`` (an inline object from the index): the bytes of a manifest copy of
    its generation that verifies, against the index's checksum too; StoreCorruption if
    none does."""
    good = inline_copy(mps, info.bucket, info.key, info.generation)
    if good is None or good.inline_xxh3 != info.inline_xxh3:
        raise StoreCorruption(
            f"inline:{info.bucket}/{info.key}", "no manifest copy with good inline data"
        )
    info.inline = good.inline
