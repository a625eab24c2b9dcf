"""ListObjectVersions of a remote bucket: one page of the backend's, passed on.

The store keeps one copy per key (the current object), so the versions a client lists
are the backend's: one ``ListObjectVersions`` page per request (its key and version-id
markers passed through: never the whole bucket in memory), versions and delete markers
in the backend's order (by key, newest first), rendered as S3 does.
"""

from __future__ import annotations

import heapq
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from aisfs.backend import RemoteObjects, Resolved
from aisfs.errors import S3Error
from aisfs.s3.request import listing_encoding, parse_max
from aisfs.s3.xml.build import add_common_prefixes, add_owner, element, encoded, serialize, sub
from aisfs.s3.xml.records import DEFAULT_OWNER, Owner
from aisfs.s3.xml.values import format_timestamp, quote_etag


async def list_versions_page(
    remote: RemoteObjects, rb: Resolved, bucket: str, query: Mapping[str, str]
) -> bytes:
    """The ``ListVersionsResult`` of one backend page, named ``bucket`` as the client
    named it."""
    assert rb.remote is not None
    max_keys = parse_max(query.get("max-keys"), "max-keys")
    encoding = listing_encoding(dict(query))
    key_marker = query.get("key-marker", "")
    vid_marker = query.get("version-id-marker", "")
    if vid_marker and not key_marker:
        raise S3Error("InvalidArgument",
                      "A version-id marker cannot be specified without a key marker.",
                      extra={"ArgumentName": "version-id-marker", "ArgumentValue": vid_marker})
    params: dict[str, Any] = {"Bucket": rb.remote.name, "MaxKeys": max(1, max_keys)}
    for name, param in (("prefix", "Prefix"), ("delimiter", "Delimiter")):
        if query.get(name):
            params[param] = query[name]
    if key_marker:
        params["KeyMarker"] = key_marker
    if vid_marker:
        params["VersionIdMarker"] = vid_marker
    resp: dict[str, Any] = {}
    if max_keys > 0:
        resp = await remote.backend(rb).call("list_object_versions", bucket, **params)
    else:
        await remote.backend(rb).head_bucket(rb.remote.name)
    return versions_result(bucket, resp, query, max_keys, encoding)


def versions_result(bucket: str, resp: Mapping[str, Any], query: Mapping[str, str],
                    max_keys: int, encoding: str | None,
                    owner: Owner = DEFAULT_OWNER) -> bytes:
    """A botocore ``list_object_versions`` answer as S3's XML."""
    root = element("ListVersionsResult")
    sub(root, "Name", bucket)
    sub(root, "Prefix", encoded(query.get("prefix", ""), encoding))
    sub(root, "KeyMarker", encoded(query.get("key-marker", ""), encoding))
    sub(root, "VersionIdMarker", query.get("version-id-marker", ""))
    truncated = bool(resp.get("IsTruncated"))
    if truncated:
        sub(root, "NextKeyMarker", encoded(str(resp.get("NextKeyMarker") or ""), encoding))
        sub(root, "NextVersionIdMarker", str(resp.get("NextVersionIdMarker") or ""))
    sub(root, "MaxKeys", max_keys)
    if query.get("delimiter"):
        sub(root, "Delimiter", encoded(query["delimiter"], encoding))
    sub(root, "IsTruncated", truncated)
    if encoding:
        sub(root, "EncodingType", encoding)
    for tag, entry in _in_order(resp):
        _add_entry(root, tag, entry, encoding, owner)
    add_common_prefixes(root, [str(p.get("Prefix") or "")
                               for p in resp.get("CommonPrefixes") or []], encoding)
    return serialize(root)


def _in_order(resp: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Versions and delete markers merged by key, each key's newest first (S3's order;
    botocore hands them over as two lists, each in that order)."""
    def keyed(tag: str, items: list[Mapping[str, Any]]) -> Iterator[tuple[Any, ...]]:
        for i, e in enumerate(items):
            yield (str(e.get("Key") or ""), -_ns(e.get("LastModified")), i, tag, e)

    merged = heapq.merge(keyed("Version", list(resp.get("Versions") or [])),
                         keyed("DeleteMarker", list(resp.get("DeleteMarkers") or [])),
                         key=lambda t: t[:2])
    for *_, tag, entry in merged:
        yield tag, entry


def _add_entry(root: ET.Element, tag: str, e: Mapping[str, Any], encoding: str | None,
               owner: Owner) -> None:
    el = sub(root, tag)
    sub(el, "Key", encoded(str(e.get("Key") or ""), encoding))
    sub(el, "VersionId", str(e.get("VersionId") or "null"))
    sub(el, "IsLatest", bool(e.get("IsLatest")))
    sub(el, "LastModified", format_timestamp(_ns(e.get("LastModified"))))
    if tag == "Version":
        sub(el, "ETag", quote_etag(str(e.get("ETag") or "").strip('"')))
        sub(el, "Size", int(e.get("Size") or 0))
    add_owner(el, owner)
    if tag == "Version":
        sub(el, "StorageClass", str(e.get("StorageClass") or "STANDARD"))


def _ns(value: Any) -> int:
    return int(value.timestamp() * 1_000_000_000) if isinstance(value, datetime) else 0
