"""How a cached copy remembers the backend object it was made from.

The store keeps what a client said about an object in ``ObjectMeta``; the backend's own
attributes (its ETag - which for a multipart object is not the MD5 the store computes -,
version id, Last-Modified, and the remote bucket) go into ``ObjectMeta.extra["remote"]``,
a field the store keeps verbatim in the manifest. A copy without that record was never
fetched from nor written to a backend.
"""

from __future__ import annotations

from typing import Any

from ..store.types import ObjectInfo, ObjectMeta
from .types import RemoteAttrs

REMOTE = "remote"


def meta_for(attrs: RemoteAttrs, source: str, meta: ObjectMeta | None = None) -> ObjectMeta:
    """The metadata a cached copy of ``attrs`` (from the remote bucket ``source``, a URI)
    is stored with: the client's ``meta`` (a PUT) or the backend's (a cold GET)."""
    if meta is None:
        meta = ObjectMeta(content_type=attrs.content_type, user=dict(attrs.user),
                          headers=dict(attrs.headers))
    meta.extra[REMOTE] = record(attrs, source)
    return meta


def record(attrs: RemoteAttrs, source: str) -> dict[str, Any]:
    return {
        "source": source,
        "etag": attrs.etag,
        "version": attrs.version,
        "last_modified_ns": attrs.last_modified_ns,
    }


def remote_of(info: ObjectInfo) -> dict[str, Any] | None:
    """The remote record of a cached copy, or None."""
    rec = info.meta.extra.get(REMOTE)
    return rec if isinstance(rec, dict) else None


def remote_attrs(info: ObjectInfo) -> RemoteAttrs:
    """RemoteAttrs of a cached copy as the backend described it when it was cached (the
    local record where there is none)."""
    rec = remote_of(info) or {}
    return RemoteAttrs(
        size=info.size,
        etag=str(rec.get("etag") or info.etag),
        version=str(rec.get("version") or ""),
        last_modified_ns=int(rec.get("last_modified_ns") or 0) or info.mtime_ns,
        content_type=info.meta.content_type,
        user=dict(info.meta.user),
        headers=dict(info.meta.headers),
    )


def client_etag(info: ObjectInfo) -> str:
    """The ETag a client is given for ``info``: the backend's for a remote object."""
    rec = remote_of(info)
    return str(rec["etag"]) if rec and rec.get("etag") else info.etag
