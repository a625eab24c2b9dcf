"""Manifest files as found on a mountpath: the walk over one mountpath's manifests (fsck's
scan, resilver's purge of stale ones, the drain of a detaching mountpath) and the lookup of
a good copy of an inline object."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator

from . import layout
from .chunks import StoreCorruption
from .files import read_file
from .manifest import decode_manifest, inline_ok
from .mountpaths import MountpathSet
from .types import ObjectInfo

log = logging.getLogger(__name__)


def walk_manifests(
    root: str, *, logged: bool = False, should_stop: Callable[[], None] | None = None
) -> Iterator[tuple[str, ObjectInfo]]:
    """``(path, manifest)`` of every manifest under the mountpath ``root`` that parses.

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


def read_manifest(path: str) -> ObjectInfo:
    """The manifest file at ``path``; OSError if unreadable, ValueError (or KeyError,
    TypeError, AttributeError) if it does not parse."""
    return decode_manifest(read_file(path))


def inline_copy(
    mps: MountpathSet, bucket: str, key: str, generation: int
) -> ObjectInfo | None:
    """A manifest copy of this inline object (same generation) whose bytes verify: its
    wanted mountpaths first (the HRW order of its name), where the copies are."""
    for mp in mps.order(layout.manifest_name(bucket, key)):
        path = layout.manifest_path(mp.root, bucket, key)
        try:
            cand = decode_manifest(read_file(path))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if (cand.bucket, cand.key, cand.generation) == (bucket, key, generation) and (
            cand.inline is not None and inline_ok(cand)
        ):
            return cand
    return None


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
