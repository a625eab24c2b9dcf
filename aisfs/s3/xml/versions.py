"""``ListVersionsResult`` of a versioned (or never versioned) local bucket: its versions
and delete markers, by key, each key's newest first, as S3 renders them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from .build import add_common_prefixes, add_owner, element, encoded, serialize, sub
from .records import DEFAULT_OWNER, ListParams, Owner
from .values import format_timestamp, quote_etag


class VersionRecord(Protocol):
    """One version or delete marker (``aisfs.store.types.VersionEntry`` is one)."""

    @property
    def key(self) -> str: ...
    @property
    def version_id(self) -> str: ...
    @property
    def is_latest(self) -> bool: ...
    @property
    def is_marker(self) -> bool: ...
    @property
    def size(self) -> int: ...
    @property
    def etag(self) -> str: ...
    @property
    def mtime_ns(self) -> int: ...


def object_versions_result(
    bucket: str,
    entries: Sequence[VersionRecord],
    common_prefixes: Sequence[str],
    params: ListParams,
    is_truncated: bool,
    key_marker: str = "",
    version_id_marker: str = "",
    next_key_marker: str | None = None,
    next_version_id_marker: str | None = None,
    owner: Owner = DEFAULT_OWNER,
    owners: Mapping[tuple[str, str], Owner] | None = None,
) -> bytes:
    """The document of one page: ``Version`` and ``DeleteMarker`` entries in order."""
    et = params.encoding_type
    root = element("ListVersionsResult")
    sub(root, "Name", bucket)
    sub(root, "Prefix", encoded(params.prefix, et))
    sub(root, "KeyMarker", encoded(key_marker, et))
    sub(root, "VersionIdMarker", version_id_marker)
    if is_truncated and next_key_marker is not None:
        sub(root, "NextKeyMarker", encoded(next_key_marker, et))
        if next_version_id_marker is not None:
            sub(root, "NextVersionIdMarker", next_version_id_marker)
    sub(root, "MaxKeys", params.max_keys)
    if params.delimiter:
        sub(root, "Delimiter", encoded(params.delimiter, et))
    sub(root, "IsTruncated", is_truncated)
    if et:
        sub(root, "EncodingType", et)
    for e in entries:
        v = sub(root, "DeleteMarker" if e.is_marker else "Version")
        sub(v, "Key", encoded(e.key, et))
        sub(v, "VersionId", e.version_id)
        sub(v, "IsLatest", e.is_latest)
        sub(v, "LastModified", format_timestamp(e.mtime_ns))
        if not e.is_marker:
            sub(v, "ETag", quote_etag(e.etag))
            sub(v, "Size", e.size)
        # a version another user wrote: its own (``owners``, by key and version id)
        add_owner(v, owners.get((e.key, e.version_id), owner) if owners else owner)
        if not e.is_marker:
            sub(v, "StorageClass", "STANDARD")
    add_common_prefixes(root, common_prefixes, et)
    return serialize(root)
