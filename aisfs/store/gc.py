"""Garbage collection: orphan chunk files and stale temp files."""

from __future__ import annotations

import os
import time

from . import layout
from .chunks import ChunkStore
from .config import StoreConfig
from .index import Index
from .mountpaths import MountpathSet
from .threads import _run


class GcMixin:
    """``gc``, mixed into ``Store`` (store.py)."""

    config: StoreConfig
    index: Index
    mps: MountpathSet
    chunks: ChunkStore

    def gc_sync(self) -> int:
        removed = 0
        for mp in self.mps.live():
            for fan in layout.FANOUT:
                try:
                    names = os.listdir(f"{mp.root}/{layout.CHUNKS}/{fan}")
                except OSError:
                    continue
                if names:
                    removed += self.chunks.remove_unreferenced(names, self.index.referenced)
            cutoff = time.time() - self.config.gc_grace_seconds
            try:
                tmps = list(os.scandir(f"{mp.root}/{layout.TMP}"))
            except OSError:
                continue
            for entry in tmps:
                try:
                    # a manifest renamed away by a delete is garbage at once (reaper.py);
                    # other temp files may still be written to until they are old
                    if entry.name.startswith("deleted.") or entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                except OSError:
                    pass
        return removed

    async def gc(self) -> int:
        """Remove orphan chunk files (and stale temp files); the number of chunks removed."""
        return await _run(self.gc_sync)
