"""The user metadata of remote objects the node has no copy of, as it last learned it.

A backend's ListObjectsV2 carries no user metadata, so the native listing of a remote
bucket had it (``custom``: the mount's mode, owner and times) only for the objects the
store holds. The objects the node writes or changes without keeping a copy - a
multipart upload forwarded to the backend, then the mount's metadata copy onto itself
(every file over the mount's write-behind size: `cp -a` and `rsync -a` of a big file),
a chmod of a file not read through this node - listed with default modes and the
backend's Last-Modified as their mtime. The node now remembers what it learned of such
an object (the metadata it gave a copy, a HEAD's answer) beside the ETag it had then,
and a listing entry with that ETag gets it; another ETag (changed elsewhere) gets
nothing, as before. Bounded (``MEMO_ENTRIES``, least recently learned dropped first),
in memory: lost at a restart, when listings fall back to what the store has.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

MEMO_ENTRIES = 65_536


class MetaMemo:
    def __init__(self, limit: int = MEMO_ENTRIES) -> None:
        self.limit = limit
        self._seen: OrderedDict[tuple[str, str], tuple[str, dict[str, str]]] = OrderedDict()

    def remember(self, bucket: str, key: str, etag: str, user: Mapping[str, str]) -> None:
        """``key`` of the store bucket ``bucket`` (a remote bucket's local name) is, with
        ETag ``etag``, an object with user metadata ``user``."""
        if not etag:
            return
        self._seen[(bucket, key)] = (etag, dict(user))
        self._seen.move_to_end((bucket, key))
        while len(self._seen) > self.limit:
            self._seen.popitem(last=False)

    def recall(self, bucket: str, key: str, etag: str) -> dict[str, str] | None:
        """The user metadata learned of ``key`` when its ETag was ``etag``, else None."""
        seen = self._seen.get((bucket, key))
        return dict(seen[1]) if seen is not None and seen[0] == etag else None

    def forget(self, bucket: str, key: str) -> None:
        self._seen.pop((bucket, key), None)
