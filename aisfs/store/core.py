"""The parts of an open store that the maintenance code (fsck, resilver, scrub, the
mountpath admin) works on, handed over as one record: it imports no other part of the
store that uses it, so none of them imports the facade back."""

from __future__ import annotations

from dataclasses import dataclass

from .buckets import Buckets
from .chunks import ChunkStore
from .config import StoreConfig
from .index import Index
from .mountpaths import MountpathSet


@dataclass(frozen=True, slots=True)
class StoreCore:
    config: StoreConfig
    index: Index
    mps: MountpathSet
    chunks: ChunkStore
    buckets: Buckets
