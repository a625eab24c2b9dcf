"""What an object's HTTP headers say, and the headers that carry its metadata."""

from __future__ import annotations

import email.utils
from collections.abc import Mapping

from aisfs_mount.backend import ObjectInfo

META = "x-amz-meta-"


def http_date_to_ns(text: str | None) -> int:
    if not text:
        return 0
    try:
        dt = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return 0
    return int(dt.timestamp() * 1e9)


def info_from(key: str, headers: Mapping[str, str]) -> ObjectInfo:
    """A HEAD's answer as an `ObjectInfo` (user metadata without its prefix, lowercased)."""
    meta = {k[len(META):].lower(): v for k, v in headers.items() if k.lower().startswith(META)}
    return ObjectInfo(
        key=key,
        size=int(headers.get("content-length", "0")),
        mtime_ns=http_date_to_ns(headers.get("last-modified")),
        etag=headers.get("etag", "").strip('"'),
        meta=meta,
        content_type=headers.get("content-type", ""),
    )


def meta_headers(meta: dict[str, str], content_type: str) -> dict[str, str]:
    h = {META + k: v for k, v in meta.items()}
    if content_type:
        h["Content-Type"] = content_type
    return h


def etag_of(headers: Mapping[str, str]) -> str:
    return headers.get("etag", "").strip('"')
