"""A bounded in-memory copy of inline objects' verified bytes, so a GET or HEAD of a small
object needs its index row and no manifest file read (and no worker-thread hand-off).

An entry is keyed by ``(bucket, key)`` and holds the generation and ``inline_xxh3`` it
was stored under; a lookup hits only when both equal the index row's. Generations are
never reused and the bytes were checked against that xxh3 when they came in (the PUT that
wrote them, or a manifest copy that verified), so an entry can never answer for another
version of the object: an overwrite, delete, copy or rename gives the row another
generation and the old entry is simply never hit again (and dropped at its next lookup or
by the LRU). Bounded by ``CACHE_BYTES`` (the bytes plus ``ENTRY_OVERHEAD`` each), least
recently used out first. One cache per open store, found from its ``Index``
(``cache_for``): the writer fills it at a PUT's commit and the reader at a first read.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

from .config import MiB
from .index import Index
from .types import ObjectInfo

CACHE_BYTES = 32 * MiB  # the bound of one store's cache (RSS), bytes and bookkeeping
ENTRY_OVERHEAD = 256  # per entry: the key tuple, the entry tuple, the dict slot (approx.)

_Entry = tuple[int, str, bytes]  # generation, inline_xxh3, the bytes


class InlineCache:
    """LRU by total size; safe from the event loop and worker threads alike."""

    def __init__(self, limit: int = CACHE_BYTES) -> None:
        self.limit = limit
        self.used = 0
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, bucket: str, key: str, generation: int, xxh3: str) -> bytes | None:
        """The bytes of exactly this version (generation and checksum), or None."""
        name = (bucket, key)
        with self._lock:
            entry = self._entries.get(name)
            if entry is None or entry[0] != generation or entry[1] != xxh3:
                self.misses += 1
                if entry is not None and entry[0] < generation:
                    self._drop(name, entry)  # an older version: never wanted again
                return None
            self._entries.move_to_end(name)
            self.hits += 1
            return entry[2]

    def put(self, bucket: str, key: str, generation: int, xxh3: str, data: bytes) -> None:
        """Keep ``data``, which the caller checked against ``xxh3``; an entry of a newer
        generation stays (a slow first read does not replace a later PUT's bytes)."""
        cost = len(data) + ENTRY_OVERHEAD
        if not xxh3 or cost > self.limit:
            return
        name = (bucket, key)
        with self._lock:
            old = self._entries.get(name)
            if old is not None:
                if old[0] > generation:
                    return
                self._drop(name, old)
            self._entries[name] = (generation, xxh3, data)
            self.used += cost
            while self.used > self.limit:
                oldest, entry = self._entries.popitem(last=False)
                self.used -= len(entry[2]) + ENTRY_OVERHEAD

    def remember(self, info: ObjectInfo) -> None:
        """``info``'s bytes when it is an inline object whose bytes are at hand."""
        if info.inline is not None and info.inline_xxh3:
            self.put(info.bucket, info.key, info.generation, info.inline_xxh3, info.inline)

    def forget(self, bucket: str, key: str) -> None:
        """Drop the entry of ``(bucket, key)`` (a delete: only memory is at stake)."""
        name = (bucket, key)
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None:
                self._drop(name, entry)

    def _drop(self, name: tuple[str, str], entry: _Entry) -> None:
        del self._entries[name]
        self.used -= len(entry[2]) + ENTRY_OVERHEAD


_caches: weakref.WeakKeyDictionary[Index, InlineCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_for(index: Index) -> InlineCache:
    """The cache of the store whose index is ``index`` (made at the first call; it goes
    with the index)."""
    cache = _caches.get(index)
    if cache is None:
        with _caches_lock:
            cache = _caches.get(index)
            if cache is None:
                cache = _caches[index] = InlineCache()
    return cache


def remember_inline(index: Index, info: ObjectInfo) -> None:
    """A committed PUT's inline bytes (the writer's one call into this module)."""
    cache_for(index).remember(info)
