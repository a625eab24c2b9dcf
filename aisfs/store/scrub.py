"""Scrub: re-read every chunk copy, verify it, repair what can be repaired.

Blocking code, run by ``StoreAdmin.scrub()`` in a job thread. For every chunk referenced by
an object or a multipart part (once, however many objects share it): every copy on the live
mountpaths is read and its length and xxh3-128 checked against the chunk id; a bad copy
(flipped bits, truncated, unreadable) is rewritten from a good one, a missing copy on a
mountpath placement wants is written, nothing is removed (placement is resilver's job).
Manifests are checked against the index and rewritten where they differ or are missing.
A chunk with no good copy left is counted lost, and every object that references it is
listed in the progress record (``unrepairable``): those objects fail on GET with an error,
never with wrong bytes.

Unreadable copies go through the mountpath health check (``health.py``), so a scrub also
finds a failing disk and disables it.
"""

from __future__ import annotations

from collections.abc import Callable

from .core import StoreCore
from .jobs import Progress
from .resilver import walk


def run_scrub(core: StoreCore, prog: Progress, should_stop: Callable[[], None]) -> None:
    walk(core, prog, "scrub", prog.buckets, should_stop)
