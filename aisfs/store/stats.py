"""``stats``: counts and sizes from the index, the state of every mountpath."""

from __future__ import annotations

import contextlib
from typing import Any

from .index import Index
from .mountpaths import MountpathSet


def store_stats(index: Index, mps_set: MountpathSet) -> dict[str, Any]:
    objects, logical = index.row("SELECT count(*), coalesce(sum(size), 0) FROM objects")
    chunks, unique = index.row("SELECT count(*), coalesce(sum(size), 0) FROM chunks")
    uploads = index.row("SELECT count(*) FROM uploads")[0]
    mps = []
    for mp in mps_set.all:
        entry: dict[str, Any] = {"path": mp.root, "uuid": mp.uuid, "enabled": mp.enabled,
                                 "state": mp.state, "io_errors": mp.io_errors}
        if mp.enabled:
            with contextlib.suppress(OSError):
                entry.update(mp.capacity())
                entry["weight"] = mp.weight
        mps.append(entry)
    return {
        "objects": objects,
        "chunks": chunks,
        "uploads": uploads,
        "logical_bytes": logical,
        "stored_bytes": unique,
        "dedup_savings_bytes": max(0, logical - unique),
        "mountpaths": mps,
    }
