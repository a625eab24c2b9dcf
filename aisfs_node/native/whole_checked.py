"""Whole-object checksums a ``/v1`` GET has already validated, by the chunks they cover.

With ``checksum.validate_warm_get`` on, a whole-object GET hashes the object as it
streams; bytes sent with sendfile (``Reader.read_segments``) never pass through Python,
so they cannot be hashed. What can be remembered instead is a fact about content: "the
chunks with these ids, in this order, hash to this value with this checksum type". Each
chunk id is the xxh3-128 of the chunk's bytes and the store verifies every chunk copy it
serves against its id (a file segment only once its copy was verified and is unchanged
since: aisfs/store/verified.py), so a later GET of a record with the same chunk list and
the same stored value sends those same bytes, and the whole-object hash would match again.
A record whose value or chunk list differs (a new version, a tampered record) is a new
key: validated by streaming, as before.

Keyed by content, not by name: one entry serves every key and bucket with that content.
Bounded (oldest dropped first); a miss only costs one copying GET.
"""

from __future__ import annotations

import hashlib
import threading

from aisfs.store.types import ObjectInfo

LIMIT = 16_384


def content_key(info: ObjectInfo, kind: str, expected: str) -> bytes:
    """A short key for (checksum type, stored value, the object's chunk list)."""
    h = hashlib.blake2b(digest_size=20)
    h.update(f"{kind}\0{expected}\0{info.size}".encode())
    for ref in info.chunks:
        h.update(f"\0{ref.id}:{ref.size}".encode())
    return h.digest()


class WholeChecked:
    """Content keys of whole objects whose checksum a streamed GET found matching."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._seen: dict[bytes, None] = {}
        self._lock = threading.Lock()

    def __contains__(self, key: bytes) -> bool:
        return key in self._seen

    def remember(self, key: bytes) -> None:
        with self._lock:
            self._seen.pop(key, None)
            self._seen[key] = None
            while len(self._seen) > self.limit:
                del self._seen[next(iter(self._seen))]
