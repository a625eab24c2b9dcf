"""Garbage collection: orphan chunk files and stale temp files."""

from __future__ import annotations

import os
import shutil
import time

from . import layout
from .chunks import ChunkStore
from .index import Index
from .mountpaths import MountpathSet


def collect_garbage(
    index: Index, mps: MountpathSet, chunks: ChunkStore, grace_seconds: float
) -> int:
    """Remove orphan chunk files, removed manifests (``deleted.*``) and temp files older
    than ``grace_seconds``; the number of chunks removed."""
    removed = 0
    for mp in mps.live():
        for fan in layout.FANOUT:
            try:
                names = os.listdir(f"{mp.root}/{layout.CHUNKS}/{fan}")
            except OSError:
                continue
            if names:
                removed += chunks.remove_unreferenced(names, index.referenced)
        cutoff = time.time() - grace_seconds
        try:
            tmps = list(os.scandir(f"{mp.root}/{layout.TMP}"))
        except OSError:
            continue
        for entry in tmps:
            try:
                # a manifest renamed away by a delete is garbage at once (reaper.py);
                # other temp files may still be written to until they are old
                if entry.name.startswith("deleted.") or entry.stat().st_mtime < cutoff:
                    if entry.is_dir(follow_symlinks=False):  # an upload's records
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)
            except OSError:
                pass
    return removed
